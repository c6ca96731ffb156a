/**
 * The statistics of the trend report, on plain arrays (no I/O):
 * - growth: ordinary least squares of ln(daily volume) on the day index; the slope b per day is
 *   reported as % per week, (e^{7b} − 1)·100, with its standard error by the delta method,
 *   7·e^{7b}·se(b)·100;
 * - forecast: e^{a + b·x} (the median of a log-normal), with a 95 % prediction interval
 *   e^{ŷ ± t(0.975, n−2)·s·√(1 + 1/n + (x − x̄)²/Sxx)};
 * - regressions: an EWMA chart (λ = 0.3, limit L = 3σ) over a baseline of the first days; an
 *   upward excursion of the EWMA above its control limit is a regression, dated from the first
 *   day of the run of days above baseline + 2σ that leads up to the signal (the signal day itself
 *   when the EWMA crossed on a smaller, sustained shift).
 */

export type Fit = { n: number; intercept: number; slope: number; slopeSe: number; residualSd: number; meanX: number; sxx: number }

/** OLS of y on x; null with fewer than 3 points or no spread in x. */
export function leastSquares(xs: readonly number[], ys: readonly number[]): Fit | null {
  const n = xs.length
  if (n < 3 || ys.length !== n) return null
  const meanX = xs.reduce((s, x) => s + x, 0) / n
  const meanY = ys.reduce((s, y) => s + y, 0) / n
  let sxx = 0
  let sxy = 0
  for (let i = 0; i < n; i++) {
    sxx += ((xs[i] ?? 0) - meanX) ** 2
    sxy += ((xs[i] ?? 0) - meanX) * ((ys[i] ?? 0) - meanY)
  }
  if (sxx === 0) return null
  const slope = sxy / sxx
  const intercept = meanY - slope * meanX
  let rss = 0
  for (let i = 0; i < n; i++) rss += ((ys[i] ?? 0) - intercept - slope * (xs[i] ?? 0)) ** 2
  const residualSd = Math.sqrt(rss / (n - 2))
  return { n, intercept, slope, slopeSe: residualSd / Math.sqrt(sxx), residualSd, meanX, sxx }
}

// Two-sided 95 % quantiles of Student's t for 1..10 degrees of freedom (tables).
const T975 = [12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004, 2.262157, 2.228139]

/** t(0.975, ν): exact table up to 10, Cornish–Fisher expansion (A&S 26.7.5) above (error < 1e-4). */
export function tQuantile975(df: number): number {
  if (df < 1) return Infinity
  const tabled = T975[Math.floor(df) - 1]
  if (tabled !== undefined) return tabled
  const z = 1.959963985
  const g1 = (z ** 3 + z) / 4
  const g2 = (5 * z ** 5 + 16 * z ** 3 + 3 * z) / 96
  const g3 = (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / 384
  const g4 = (79 * z ** 9 + 776 * z ** 7 + 1482 * z ** 5 - 1920 * z ** 3 - 945 * z) / 92160
  return z + g1 / df + g2 / df ** 2 + g3 / df ** 3 + g4 / df ** 4
}

export function weeklyGrowthPct(fit: Fit): { pct: number; se: number } {
  const e = Math.exp(7 * fit.slope)
  return { pct: (e - 1) * 100, se: 7 * e * fit.slopeSe * 100 }
}

export function forecastAt(fit: Fit, x: number): { median: number; low: number; high: number } {
  const y = fit.intercept + fit.slope * x
  const half = tQuantile975(fit.n - 2) * fit.residualSd * Math.sqrt(1 + 1 / fit.n + (x - fit.meanX) ** 2 / fit.sxx)
  return { median: Math.exp(y), low: Math.exp(y - half), high: Math.exp(y + half) }
}

export type Regression = { startIndex: number; detectedIndex: number; endIndex: number | null; baseline: number; sigma: number; peak: number }

export const EWMA_LAMBDA = 0.3
export const EWMA_L = 3

/**
 * Upward regressions in `values` (null: no data that day, skipped) against a baseline of the
 * first `baselineDays` values; `sigmaFloor` keeps a flat baseline from flagging noise.
 */
export function ewmaRegressions(values: readonly (number | null)[], baselineDays: number, sigmaFloor: number): Regression[] {
  const base = values.slice(0, baselineDays).filter((v): v is number => v !== null)
  if (base.length < 2) return []
  const mu = base.reduce((s, v) => s + v, 0) / base.length
  const sd = Math.sqrt(base.reduce((s, v) => s + (v - mu) ** 2, 0) / (base.length - 1))
  const sigma = Math.max(sd, sigmaFloor)
  const out: Regression[] = []
  let z = mu
  let steps = 0
  let open: Regression | null = null
  for (let i = baselineDays; i < values.length; i++) {
    const x = values[i]
    if (x === null || x === undefined) continue
    steps += 1
    z = EWMA_LAMBDA * x + (1 - EWMA_LAMBDA) * z
    const limit = mu + EWMA_L * sigma * Math.sqrt((EWMA_LAMBDA / (2 - EWMA_LAMBDA)) * (1 - (1 - EWMA_LAMBDA) ** (2 * steps)))
    if (z > limit) {
      if (open === null) {
        let start = i
        for (let j = i; j >= baselineDays; j--) {
          const v = values[j]
          if (v === null || v === undefined) continue
          if (v > mu + 2 * sigma) start = j
          else break
        }
        open = { startIndex: start, detectedIndex: i, endIndex: null, baseline: mu, sigma, peak: x }
        out.push(open)
      }
      open.peak = Math.max(open.peak, x)
    } else if (open !== null) {
      open.endIndex = i
      open = null
    }
  }
  return out
}

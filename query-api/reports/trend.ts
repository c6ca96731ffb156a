/**
 * The trend report: daily and weekly volume, p95 latency, error rate and GPU utilization over
 * whole UTC days; growth of daily volume (% per week, with its standard error); a forecast with
 * a 95 % prediction interval; and regressions of daily p95 latency and error rate found with an
 * EWMA control chart, each dated from the day it started. Statistics: trend-stats.ts; data:
 * trend-query.ts (rollups and window tables only, so long ranges stay fast).
 */
import { apiError } from '../errors.ts'
import type { Store } from '../store.ts'
import type { ReportCell, ReportColumn, ReportDocument } from './document.ts'
import { readTrend, type TrendFilters } from './trend-query.ts'
import { EWMA_L, EWMA_LAMBDA, ewmaRegressions, forecastAt, leastSquares, tQuantile975, weeklyGrowthPct, type Regression } from './trend-stats.ts'

export type TrendOptions = { from: number; to: number; now: number; forecastDays: number; baselineDays: number; filters: TrendFilters }

export const DAY_MS = 86_400_000
export const MIN_TREND_DAYS = 4

const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10)
type Row = Record<string, ReportCell>

/** Whole UTC days inside [from, to). */
export function trendDays(from: number, to: number): number[] {
  const days: number[] = []
  for (let d = Math.ceil(from / DAY_MS) * DAY_MS; d + DAY_MS <= to; d += DAY_MS) days.push(d)
  return days
}

const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length

export async function trendReport(store: Store, options: TrendOptions): Promise<ReportDocument> {
  const days = trendDays(options.from, options.to)
  if (days.length < MIN_TREND_DAYS) {
    throw apiError('API_BAD_TIME_RANGE', `the trend report needs at least ${MIN_TREND_DAYS} whole UTC days in from..to, found ${days.length}: widen the range (e.g. from=-30d)`)
  }
  const first = days[0] ?? 0
  const end = (days[days.length - 1] ?? 0) + DAY_MS
  const data = await readTrend(store, { fromMs: first, toMs: end }, options.filters)
  const vol = new Map(data.volume.map((v) => [v.day, v]))
  const p95 = new Map(data.p95Daily.map((v) => [v.day, v]))
  const gpu = new Map(data.gpu.map((v) => [v.day, v]))
  const daily: Row[] = days.map((d) => {
    const v = vol.get(d)
    const g = gpu.get(d)
    return {
      day: isoDay(d), requests: v?.requests ?? 0, images: v?.images ?? 0, errors: v?.errors ?? 0,
      error_rate: v && v.requests > 0 ? v.errors / v.requests : null, p95_e2e_ms: p95.get(d)?.p95 ?? null,
      gpu_util_mean_pct: g && g.samples > 0 ? g.util_sum / g.samples : null, gpu_busy_fraction: g && g.samples > 0 ? g.busy_samples / g.samples : null,
    }
  })
  const weekly = weeklyRows(days, vol, gpu, new Map(data.p95Weekly.map((w) => [w.day, w.p95])))

  const points = days.map((d, i) => ({ x: i, n: vol.get(d)?.requests ?? 0 })).filter((p) => p.n > 0)
  const fit = leastSquares(points.map((p) => p.x), points.map((p) => Math.log(p.n)))
  const growth: Row[] = []
  const forecast: Row[] = []
  if (fit) {
    const g = weeklyGrowthPct(fit)
    const t = tQuantile975(fit.n - 2)
    growth.push({
      days_fitted: fit.n, growth_pct_per_week: g.pct, standard_error_pct: g.se,
      ci95_low_pct: (Math.exp(7 * (fit.slope - t * fit.slopeSe)) - 1) * 100, ci95_high_pct: (Math.exp(7 * (fit.slope + t * fit.slopeSe)) - 1) * 100,
      daily_volume_fitted_last_day: Math.exp(fit.intercept + fit.slope * (days.length - 1)),
    })
    for (let k = 0; k < options.forecastDays; k++) {
      const f = forecastAt(fit, days.length + k)
      forecast.push({ day: isoDay(end + k * DAY_MS), requests_forecast: f.median, low_95: f.low, high_95: f.high })
    }
  }
  const regressions = findRegressions(days, daily, options.baselineDays)
  return document(options, days, { daily, weekly, growth, forecast, regressions })
}

function weeklyRows(days: number[], vol: Map<number, { requests: number; errors: number; images: number }>, gpu: Map<number, { samples: number; util_sum: number }>, p95: Map<number, number | null>): Row[] {
  const weeks = new Map<number, { days: number; requests: number; errors: number; images: number; samples: number; util: number }>()
  for (const d of days) {
    const monday = d - ((new Date(d).getUTCDay() + 6) % 7) * DAY_MS
    const w = weeks.get(monday) ?? { days: 0, requests: 0, errors: 0, images: 0, samples: 0, util: 0 }
    w.days += 1
    w.requests += vol.get(d)?.requests ?? 0
    w.errors += vol.get(d)?.errors ?? 0
    w.images += vol.get(d)?.images ?? 0
    w.samples += gpu.get(d)?.samples ?? 0
    w.util += gpu.get(d)?.util_sum ?? 0
    weeks.set(monday, w)
  }
  return [...weeks].map(([monday, w]) => ({
    week: isoDay(monday), days: w.days, requests: w.requests, images: w.images, errors: w.errors,
    error_rate: w.requests > 0 ? w.errors / w.requests : null, p95_e2e_ms: p95.get(monday) ?? null, gpu_util_mean_pct: w.samples > 0 ? w.util / w.samples : null,
  }))
}

/** The baseline starts at the first day with traffic: a range reaching before the data must not leave it empty. */
function findRegressions(allDays: number[], allDaily: Row[], baselineDays: number): Row[] {
  const firstWithData = allDaily.findIndex((r) => Number(r['requests']) > 0)
  if (firstWithData < 0) return []
  const days = allDays.slice(firstWithData)
  const daily = allDaily.slice(firstWithData)
  const base = Math.min(baselineDays, Math.floor(days.length / 2))
  const p95 = daily.map((r) => (typeof r['p95_e2e_ms'] === 'number' ? r['p95_e2e_ms'] : null))
  const rate = daily.map((r) => (typeof r['error_rate'] === 'number' ? r['error_rate'] : null))
  const baseP95 = p95.slice(0, base).filter((v): v is number => v !== null)
  const baseRate = rate.slice(0, base).filter((v): v is number => v !== null)
  const baseN = daily.slice(0, base).map((r) => Number(r['requests']))
  const nBar = baseN.length > 0 ? mean(baseN) : 0
  const pBar = baseRate.length > 0 ? mean(baseRate) : 0
  // Floors: 2 % of the baseline p95 (day-to-day sketch and mix noise); the binomial sd of a day's error rate.
  const p95Floor = baseP95.length > 0 ? 0.02 * mean(baseP95) : 0
  const rateFloor = nBar > 0 ? Math.sqrt((Math.max(pBar, 1 / nBar) * (1 - pBar)) / nBar) : 0
  const row = (metric: string, unit: string, r: Regression): Row => ({
    metric, unit, started: isoDay(days[r.startIndex] ?? 0), detected: isoDay(days[r.detectedIndex] ?? 0),
    ended: r.endIndex === null ? 'ongoing' : isoDay(days[r.endIndex] ?? 0), baseline: r.baseline, control_sigma: r.sigma, peak: r.peak,
    change_pct: r.baseline > 0 ? (r.peak / r.baseline - 1) * 100 : null,
  })
  return [
    ...ewmaRegressions(p95, base, p95Floor).map((r) => row('p95 e2e latency', 'ms', r)),
    ...ewmaRegressions(rate, base, rateFloor).map((r) => row('error rate', 'fraction', r)),
  ]
}

const C = (key: string, label: string, extra: Partial<ReportColumn> = {}): ReportColumn => ({ key, label, ...extra })

function document(options: TrendOptions, days: number[], t: { daily: Row[]; weekly: Row[]; growth: Row[]; forecast: Row[]; regressions: Row[] }): ReportDocument {
  const volumeCols = [C('requests', 'requests'), C('images', 'images'), C('errors', 'errors'), C('error_rate', 'error rate', { digits: 4 }), C('p95_e2e_ms', 'p95 e2e latency', { unit: 'ms', digits: 0 }), C('gpu_util_mean_pct', 'GPU utilization', { unit: '%', digits: 1 })]
  return {
    kind: 'trend',
    title: 'Trend report',
    generatedAt: new Date(options.now).toISOString(),
    range: { from: new Date(days[0] ?? options.from).toISOString(), to: new Date((days[days.length - 1] ?? options.to) + DAY_MS).toISOString() },
    parameters: { forecastDays: options.forecastDays, baselineDays: options.baselineDays, model: options.filters.models?.join(',') ?? null, gpu_type: options.filters.gpuTypes?.join(',') ?? null },
    notes: [
      'Whole UTC days inside the requested range only (a partial first or last day would bend the trend). Weeks start on Monday; a week cut by the range says how many days it holds.',
      'Volume and errors from the transformer\'s window aggregates (by window start); p95 = end-to-end latency of successful requests merged from the hourly t-digest rollups; GPU utilization = mean of the sampled utilization over every GPU (fleet-wide, not filtered by model).',
      'Growth: least squares of ln(daily requests) on the day, over days with traffic; % per week = (e^{7b} − 1)·100, standard error by the delta method, 95 % interval from Student\'s t with n − 2 degrees of freedom.',
      'Forecast: e^{a + b·x} (median) with a 95 % prediction interval e^{ŷ ± t·s·√(1 + 1/n + (x − x̄)²/Sxx)}; it assumes the exponential trend continues and ignores weekly seasonality.',
      `Regressions: EWMA chart (λ = ${EWMA_LAMBDA}, limit ${EWMA_L}σ) on daily p95 latency and error rate against a baseline of the first ${options.baselineDays} days with traffic (at most half of them) (σ at least 2 % of the baseline p95, and at least the binomial standard deviation of a day's error rate). "started" is the first day of the run of days above baseline + 2σ that led to the signal; "ended" is the day the EWMA fell back inside its limit. A change inside the baseline days cannot be detected.`,
    ],
    sections: [
      { id: 'daily', heading: 'Daily', table: { columns: [C('day', 'day'), ...volumeCols, C('gpu_busy_fraction', 'GPU busy fraction', { digits: 3 })], rows: t.daily } },
      { id: 'weekly', heading: 'Weekly', table: { columns: [C('week', 'week of'), C('days', 'days'), ...volumeCols], rows: t.weekly } },
      {
        id: 'growth', heading: 'Growth of daily volume',
        table: { columns: [C('days_fitted', 'days fitted'), C('growth_pct_per_week', 'growth', { unit: '%/week', digits: 2 }), C('standard_error_pct', 'standard error', { unit: '%/week', digits: 2 }), C('ci95_low_pct', '95 % CI low', { unit: '%/week', digits: 2 }), C('ci95_high_pct', '95 % CI high', { unit: '%/week', digits: 2 }), C('daily_volume_fitted_last_day', 'fitted volume, last day', { unit: 'requests', digits: 0 })], rows: t.growth },
      },
      { id: 'forecast', heading: `Forecast, next ${options.forecastDays} days`, table: { columns: [C('day', 'day'), C('requests_forecast', 'requests (median)', { digits: 0 }), C('low_95', '95 % low', { digits: 0 }), C('high_95', '95 % high', { digits: 0 })], rows: t.forecast } },
      {
        id: 'regressions', heading: 'Regressions',
        text: [t.regressions.length === 0 ? 'No regression of daily p95 latency or error rate after the baseline days.' : `${t.regressions.length} regression(s) found.`],
        table: { columns: [C('metric', 'metric'), C('unit', 'unit'), C('started', 'started'), C('detected', 'detected'), C('ended', 'ended'), C('baseline', 'baseline', { digits: 4 }), C('control_sigma', 'σ', { digits: 4 }), C('peak', 'peak', { digits: 4 }), C('change_pct', 'change', { unit: '%', digits: 1 })], rows: t.regressions },
      },
    ],
  }
}

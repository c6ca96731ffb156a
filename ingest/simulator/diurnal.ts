/**
 * Diurnal load: a daily curve on the request rate. A curve is 24 multipliers, one at the start
 * of each UTC hour, joined by straight lines (wrapping from 23:00 to 00:00), scaled so that
 * their mean is 1: the day's mean rate stays the configured rate, so a fleet sized for it is
 * sized for the average, and the peak hours queue as they do in production.
 *
 * Arrivals follow the curve by thinning (Lewis & Shedler): candidates come at the peak rate and
 * each is kept with probability multiplier / peak multiplier, which gives an inhomogeneous
 * Poisson process with exactly the curve's rate.
 */

export type DiurnalCurve = readonly number[]

/** Scales 24 non-negative weights (not all 0) to mean 1. */
export function normalizeCurve(weights: readonly number[]): DiurnalCurve {
  if (weights.length !== 24) throw new Error(`a diurnal curve has 24 hourly values, got ${weights.length}`)
  if (weights.some((w) => !Number.isFinite(w) || w < 0)) throw new Error('diurnal curve values must be finite and >= 0')
  const mean = weights.reduce((s, w) => s + w, 0) / 24
  if (mean <= 0) throw new Error('a diurnal curve cannot be 0 all day')
  return Object.freeze(weights.map((w) => w / mean))
}

/** 1 + amplitude × cos(2π (hour − peakHour) / 24): peak at `peakHourUtc`, trough 12 h later. */
export function cosineCurve(amplitude: number, peakHourUtc: number): DiurnalCurve {
  if (!(amplitude >= 0 && amplitude < 1)) throw new Error(`diurnal amplitude must be in [0, 1), got ${amplitude}`)
  return normalizeCurve(Array.from({ length: 24 }, (_, h) => 1 + amplitude * Math.cos((2 * Math.PI * (h - peakHourUtc)) / 24)))
}

/** Rate multiplier at epoch ms `t`. */
export function multiplierAt(curve: DiurnalCurve, t: number): number {
  const hours = (((t / 3_600_000) % 24) + 24) % 24
  const i = Math.floor(hours)
  const a = curve[i] as number
  const b = curve[(i + 1) % 24] as number
  return a + (b - a) * (hours - i)
}

export function peakMultiplier(curve: DiurnalCurve): number {
  return Math.max(...curve)
}

/**
 * Parses `SIM_DIURNAL`: empty or "off" (none), "cosine:AMPLITUDE[:PEAK_HOUR_UTC]" (peak hour
 * default 15), or 24 comma-separated hourly weights from 00:00 UTC.
 */
export function parseDiurnal(spec: string): DiurnalCurve | null {
  const s = spec.trim()
  if (s === '' || s === 'off') return null
  const cos = /^cosine:([0-9.]+)(?::([0-9.]+))?$/.exec(s)
  if (cos) return cosineCurve(Number(cos[1]), cos[2] === undefined ? 15 : Number(cos[2]))
  const values = s.split(',').map((x) => Number(x.trim()))
  if (values.some((v) => Number.isNaN(v))) throw new Error(`SIM_DIURNAL must be off, cosine:AMPLITUDE[:PEAK_HOUR] or 24 hourly weights, got ${JSON.stringify(spec)}`)
  return normalizeCurve(values)
}

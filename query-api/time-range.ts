/**
 * Time ranges and steps of API queries, parsed and checked before anything reaches ClickHouse.
 *
 * Guarantees:
 * - `from` / `to` accept ISO-8601 (`2025-05-01`, `2025-05-01T12:00:00Z`, `...+02:00`; no offset
 *   means UTC; a `+` sent unencoded in a URL arrives as a space and is read as `+`), `now`, or a
 *   time relative to now: `-30s`, `-15m`, `-24h`, `-7d`, `-2w` (also written `now-15m`).
 *   `m` is minutes, never months.
 * - Defaults: `to` = now, `from` = `to` minus the default range (1 h unless configured).
 * - `from` is strictly before `to`, and the range is at most `maxRangeSeconds`.
 * - A step is `<n>s|m|h|d`, a positive multiple of 10 s (the transformer's finest window).
 *   Buckets are aligned to multiples of the step since the Unix epoch, in UTC (so `1d` buckets
 *   start at UTC midnight); a step giving more than `maxBuckets` buckets is refused with the
 *   smallest step that would be accepted.
 * Every refusal is an API_BAD_TIME_RANGE / API_BAD_STEP error whose message says what to send.
 */
import { apiError } from './errors.ts'

export type RangeLimits = {
  /** Longest accepted `to - from`, in seconds. */
  maxRangeSeconds: number
  /** Range used when `from` is not given, in seconds. */
  defaultRangeSeconds: number
}

export type StepLimits = { maxBuckets: number }

/** A resolved range in epoch milliseconds, `fromMs < toMs`. */
export type TimeRange = { fromMs: number; toMs: number }

const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 }
const RELATIVE = /^(?:now)?-(\d{1,9})([smhdw])$/
const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|z|[+\- ]\d{2}(?::?\d{2})?)?)?$/
const FORMS_HINT = 'use ISO-8601 (e.g. 2025-05-01T12:00:00Z), "now", or a relative time such as -15m, -24h, -7d'

/** Minimal step, and the unit of every step: the transformer's finest window. */
export const STEP_QUANTUM_SECONDS = 10
/** Steps suggested to users and chosen when no step is given, smallest first. */
export const NICE_STEPS_SECONDS = [10, 30, 60, 300, 600, 900, 1800, 3600, 10_800, 21_600, 43_200, 86_400, 604_800] as const
/** Buckets aimed at when the step is chosen automatically (fewer if maxBuckets is lower). */
export const DEFAULT_TARGET_BUCKETS = 300
const MAX_STEP_SECONDS = 366 * 86_400

/** Parses one instant; `name` is the parameter it came from, for the message. */
export function parseInstant(text: string, nowMs: number, name: string): number {
  const value = text.trim()
  if (value === 'now') return nowMs
  const rel = RELATIVE.exec(value)
  if (rel?.[1] !== undefined && rel[2] !== undefined) {
    return nowMs - Number(rel[1]) * (UNIT_SECONDS[rel[2]] ?? 0) * 1000
  }
  const ms = parseIso(value)
  if (ms === undefined) throw apiError('API_BAD_TIME_RANGE', `${name}=${JSON.stringify(text)} is not a time I can read: ${FORMS_HINT}`)
  return ms
}

function parseIso(value: string): number | undefined {
  const m = ISO.exec(value)
  if (!m) return undefined
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((p) => Number(p ?? 0)) as [
    number, number, number, number, number, number,
  ]
  const fraction = m[7] === undefined ? 0 : Math.floor(Number(`0.${m[7]}`) * 1000)
  if (year < 1970 || month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return undefined
  const local = Date.UTC(year, month - 1, day, hour, minute, second, fraction)
  if (new Date(local).getUTCDate() !== day) return undefined // e.g. 2025-02-30
  return local - offsetMs(m[8])
}

function offsetMs(zone: string | undefined): number {
  if (zone === undefined || zone === 'Z' || zone === 'z') return 0
  const sign = zone[0] === '-' ? -1 : 1
  const digits = zone.slice(1).replace(':', '')
  const hours = Number(digits.slice(0, 2))
  const minutes = digits.length > 2 ? Number(digits.slice(2)) : 0
  return sign * (hours * 60 + minutes) * 60_000
}

/** Resolves `from`/`to` (either may be absent) against `nowMs` and checks them. */
export function resolveTimeRange(input: { from?: string | undefined; to?: string | undefined }, nowMs: number, limits: RangeLimits): TimeRange {
  const toMs = input.to === undefined ? nowMs : parseInstant(input.to, nowMs, 'to')
  const fromMs = input.from === undefined ? toMs - limits.defaultRangeSeconds * 1000 : parseInstant(input.from, nowMs, 'from')
  if (fromMs >= toMs) {
    throw apiError(
      'API_BAD_TIME_RANGE',
      `from (${iso(fromMs)}) must be before to (${iso(toMs)}): swap them or widen the range`,
    )
  }
  const rangeSeconds = (toMs - fromMs) / 1000
  if (rangeSeconds > limits.maxRangeSeconds) {
    throw apiError(
      'API_BAD_TIME_RANGE',
      `the range from ${iso(fromMs)} to ${iso(toMs)} spans ${formatDuration(rangeSeconds)}, more than the ${formatDuration(limits.maxRangeSeconds)} allowed: narrow from/to`,
    )
  }
  return { fromMs, toMs }
}

/** Parses `10s`, `1m`, `5m`, `1h`, `1d` ... into seconds. */
export function parseStep(text: string): number {
  const m = /^(\d{1,7})([smhd])$/.exec(text.trim())
  const seconds = m?.[1] !== undefined && m[2] !== undefined ? Number(m[1]) * (UNIT_SECONDS[m[2]] ?? 0) : NaN
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw apiError('API_BAD_STEP', `step=${JSON.stringify(text)} is not a step I can read: use a number and a unit s, m, h or d, e.g. 10s, 1m, 5m, 1h, 1d`)
  }
  if (seconds % STEP_QUANTUM_SECONDS !== 0) {
    throw apiError('API_BAD_STEP', `step=${text} is not a multiple of ${STEP_QUANTUM_SECONDS}s (the finest window): use e.g. ${formatStep(Math.ceil(seconds / STEP_QUANTUM_SECONDS) * STEP_QUANTUM_SECONDS)}`)
  }
  if (seconds > MAX_STEP_SECONDS) {
    throw apiError('API_BAD_STEP', `step=${text} is longer than ${formatStep(MAX_STEP_SECONDS)}: use a shorter step`)
  }
  return seconds
}

/** Shortest spelling of a step: 86400 → `1d`, 90 → `90s`, 600 → `10m`. */
export function formatStep(seconds: number): string {
  for (const [unit, size] of [['d', 86_400], ['h', 3600], ['m', 60]] as const) {
    if (seconds % size === 0) return `${seconds / size}${unit}`
  }
  return `${seconds}s`
}

/** Number of epoch-aligned buckets of `stepSeconds` that [fromMs, toMs) touches. */
export function bucketCount(range: TimeRange, stepSeconds: number): number {
  const stepMs = stepSeconds * 1000
  return Math.ceil(range.toMs / stepMs) - Math.floor(range.fromMs / stepMs)
}

/** Smallest multiple of the step quantum giving at most `maxBuckets` buckets. */
export function smallestStep(range: TimeRange, maxBuckets: number): number {
  const q = STEP_QUANTUM_SECONDS
  let step = Math.max(q, Math.ceil((range.toMs - range.fromMs) / 1000 / maxBuckets / q) * q)
  while (bucketCount(range, step) > maxBuckets) step += q
  return step
}

/** The step of a query: the one asked for (checked), or the smallest nice step near the target. */
export function resolveStep(step: string | undefined, range: TimeRange, limits: StepLimits): number {
  if (step === undefined) {
    const target = Math.min(DEFAULT_TARGET_BUCKETS, limits.maxBuckets)
    return NICE_STEPS_SECONDS.find((s) => bucketCount(range, s) <= target) ?? smallestStep(range, limits.maxBuckets)
  }
  const seconds = parseStep(step)
  const buckets = bucketCount(range, seconds)
  if (buckets > limits.maxBuckets) {
    const min = smallestStep(range, limits.maxBuckets)
    const nice = NICE_STEPS_SECONDS.find((s) => s >= min && bucketCount(range, s) <= limits.maxBuckets)
    const suggestion = nice !== undefined && nice !== min ? ` (e.g. ${formatStep(nice)})` : ''
    throw apiError(
      'API_BAD_STEP',
      `step=${step} over ${formatDuration((range.toMs - range.fromMs) / 1000)} gives ${buckets} buckets, more than the ${limits.maxBuckets} allowed: ` +
        `use step=${formatStep(min)} or larger${suggestion}, or narrow from/to`,
    )
  }
  return seconds
}

function iso(ms: number): string {
  return Number.isFinite(ms) && Math.abs(ms) < 8.64e15 ? new Date(ms).toISOString() : String(ms)
}

/** `90061` → `1d 1h 1m 1s`; fractions of a second are rounded. */
export function formatDuration(seconds: number): string {
  let rest = Math.round(seconds)
  const parts: string[] = []
  for (const [unit, size] of [['d', 86_400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    const n = Math.floor(rest / size)
    rest -= n * size
    if (n > 0) parts.push(`${n}${unit}`)
  }
  return parts.length > 0 ? parts.join(' ') : '0s'
}

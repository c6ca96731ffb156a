/**
 * Request outcomes per time bucket and group, from the transformer's windowed aggregates
 * (request_windows): requests, successes and every error type. Partial rows of one window are
 * re-aggregated with sum(), so several instances, chunk cuts and late events add up to exact
 * counts. A window belongs to the bucket (and the range) containing its start. Shared by the
 * errors and availability routes; buckets are zero-filled by the callers.
 */
import { ERROR_TYPES, type ErrorType } from '../schemas/generated/types.ts'
import { REQUEST_WINDOW_ERROR_COLUMNS } from '../migrations/tables.ts'
import { dimensionSql, type Dimension } from './dimensions.ts'
import { filterSql } from './filters.ts'
import { chDateTime64, num, qualifiedTable, selectRows, type Store } from './store.ts'
import type { TimeRange } from './time-range.ts'

export type ErrorCounts = Record<ErrorType, number>
export type Outcome = { requests: number; successes: number; errors: number; by_type: ErrorCounts }
export type OutcomeRow = Outcome & { bucket: number; group: string }

/** The request_windows counter of each error type (err_upstream holds `upstream`). */
const COLUMN_OF: Readonly<Record<ErrorType, string>> = Object.fromEntries(
  ERROR_TYPES.map((t) => [t, REQUEST_WINDOW_ERROR_COLUMNS.find((c) => c === `err_${t}`) ?? `err_${t}`]),
) as Record<ErrorType, string>

/** Error types caused by the client, left out of the availability denominator. */
export const CLIENT_ERROR_TYPES: readonly ErrorType[] = ['invalid_input', 'safety_blocked', 'cancelled']

export function emptyOutcome(): Outcome {
  return { requests: 0, successes: 0, errors: 0, by_type: Object.fromEntries(ERROR_TYPES.map((t) => [t, 0])) as ErrorCounts }
}

export function addOutcome(into: Outcome, b: Outcome): Outcome {
  into.requests += b.requests
  into.successes += b.successes
  into.errors += b.errors
  for (const t of ERROR_TYPES) into.by_type[t] += b.by_type[t]
  return into
}

export async function selectOutcomes(
  store: Store,
  q: { range: TimeRange; stepSeconds: number; groupBy: Dimension | 'none'; filters: Map<Dimension, string[]> },
): Promise<OutcomeRow[]> {
  const params: Record<string, unknown> = { from: chDateTime64(q.range.fromMs), to: chDateTime64(q.range.toMs), step: q.stepSeconds }
  const errorSums = ERROR_TYPES.map((t) => `sum(${COLUMN_OF[t]}) AS ${COLUMN_OF[t]}`).join(', ')
  const sql = `
    SELECT intDiv(toUnixTimestamp(window_start), {step:UInt32}) * {step:UInt32} AS bucket, ${dimensionSql('requestWindows', q.groupBy)} AS grp,
           sum(requests) AS requests, sum(successes) AS successes, sum(errors) AS errors, ${errorSums}
    FROM ${qualifiedTable(store, 'requestWindows')}
    WHERE window_start >= {from:DateTime64(3, 'UTC')} AND window_start < {to:DateTime64(3, 'UTC')}${filterSql('requestWindows', q.filters, params)}
    GROUP BY bucket, grp
    ORDER BY grp, bucket`
  const rows = await selectRows<Record<string, unknown>>(store, sql, params, 'request outcomes')
  return rows.map((r) => ({
    bucket: num(r['bucket']),
    group: String(r['grp']),
    requests: num(r['requests']),
    successes: num(r['successes']),
    errors: num(r['errors']),
    by_type: Object.fromEntries(ERROR_TYPES.map((t) => [t, num(r[COLUMN_OF[t]])])) as ErrorCounts,
  }))
}

/**
 * Zero-filled series per group (busiest first, at most `limit`) and totals, each point built
 * with `shape` from its counts and the seconds of the bucket inside the range.
 */
export function outcomeSeries<P>(
  rows: readonly OutcomeRow[],
  range: TimeRange,
  stepSeconds: number,
  grouped: boolean,
  limit: number,
  shape: (o: Outcome, seconds: number) => P,
): { totals: P; series: Array<{ group: string | null; totals: P; points: Array<{ time: string; seconds: number } & P> }>; truncated: boolean } {
  const stepMs = stepSeconds * 1000
  const buckets: number[] = []
  for (let t = Math.floor(range.fromMs / stepMs) * stepMs; t < range.toMs; t += stepMs) buckets.push(t)
  const byGroup = new Map<string, Map<number, Outcome>>()
  if (!grouped) byGroup.set('', new Map())
  const total = emptyOutcome()
  for (const row of rows) {
    const key = grouped ? row.group : ''
    const points = byGroup.get(key) ?? new Map<number, Outcome>()
    byGroup.set(key, points)
    points.set(row.bucket * 1000, addOutcome(points.get(row.bucket * 1000) ?? emptyOutcome(), row))
    addOutcome(total, row)
  }
  const rangeSeconds = (range.toMs - range.fromMs) / 1000
  const all = [...byGroup].map(([key, points]) => {
    const groupTotal = emptyOutcome()
    const out = buckets.map((start) => {
      const o = points.get(start) ?? emptyOutcome()
      addOutcome(groupTotal, o)
      const seconds = (Math.min(start + stepMs, range.toMs) - Math.max(start, range.fromMs)) / 1000
      return { time: new Date(start).toISOString(), seconds, ...shape(o, seconds) }
    })
    return { group: grouped ? key : null, requests: groupTotal.requests, totals: shape(groupTotal, rangeSeconds), points: out }
  })
  all.sort((a, b) => b.requests - a.requests || String(a.group).localeCompare(String(b.group)))
  return { totals: shape(total, rangeSeconds), series: all.slice(0, limit).map(({ requests: _, ...s }) => s), truncated: all.length > limit }
}

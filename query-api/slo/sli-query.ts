/**
 * Good, bad and total events of one SLO over several windows that share their end, in one
 * ClickHouse query (one pass over the longest window).
 *
 * Availability (exact, from the transformer's windowed aggregates `request_windows`, kept 400
 * days): total = requests − client errors (invalid_input, safety_blocked, cancelled: a refused
 * prompt or a cancelled request says nothing about the service, as in /v1/availability), good =
 * successes, bad = total − good (the server-caused errors). A 10-second window counts in a range
 * when its start lies inside it.
 *
 * Latency (exact, from raw `request_events`, kept 30 days, which covers a 28/30-day SLO window):
 * only successful requests that have the metric count (a failed request is the availability SLO's
 * business; a request never dequeued has no queue time). Good when metric ≤ threshold, or for a
 * normalized threshold when metric / (steps × megapixels of one image) ≤ threshold; requests with
 * 0 steps or 0 pixels cannot be normalized and are left out. An event counts in a range when its
 * completed_at lies inside it. The t-digest rollups are not used: they answer quantiles, not
 * counts under a threshold, so they could only approximate the SLI.
 */
import type { Dimension } from '../dimensions.ts'
import { metricColumn } from '../dimensions.ts'
import { filterSql } from '../filters.ts'
import { CLIENT_ERROR_TYPES } from '../outcome-query.ts'
import { chDateTime64, num, qualifiedTable, selectRows, type Store } from '../store.ts'
import type { SloDefinition } from './config.ts'

export type EventCounts = { total: number; good: number; bad: number }

export const AVAILABILITY_METHOD =
  `good = successes, total = requests − client errors (${CLIENT_ERROR_TYPES.join(', ')}), exact counts from the 10-second windowed aggregates (request_windows); a window counts when its start is in the range`
export const LATENCY_METHOD =
  'total = successful requests that have the metric, good = those at or under the threshold (normalized: metric / (steps × megapixels of one image), requests with 0 steps or pixels left out); exact counts from raw request_events (30-day retention); an event counts when its completed_at is in the range'

function filterMap(slo: SloDefinition): Map<Dimension, string[]> {
  return new Map(Object.entries(slo.filters).map(([dim, values]) => [dim as Dimension, [...(values ?? [])]]))
}

/**
 * Counts for each range [fromMs[i], toMs). Ranges share the end so that one scan of the widest
 * range answers all of them.
 */
export async function countEvents(store: Store, slo: SloDefinition, toMs: number, fromMs: readonly number[]): Promise<EventCounts[]> {
  if (fromMs.length === 0) return []
  const params: Record<string, unknown> = { to: chDateTime64(toMs), from: chDateTime64(Math.min(...fromMs)) }
  fromMs.forEach((ms, i) => { params[`f${i}`] = chDateTime64(ms) })
  let table: string, time: string, total: string, bad: string, where: string
  if (slo.kind === 'availability' || slo.latency === null) {
    table = qualifiedTable(store, 'requestWindows')
    time = 'window_start'
    const client = CLIENT_ERROR_TYPES.map((t) => `err_${t}`).join(' + ')
    total = `requests - (${client})`
    bad = `requests - (${client}) - successes`
    where = filterSql('requestWindows', filterMap(slo), params)
  } else {
    table = qualifiedTable(store, 'requestEvents')
    time = 'completed_at'
    const metric = metricColumn(slo.latency.metric)
    const normalized = slo.latency.normalizedThresholdMs !== null
    params['threshold'] = slo.latency.normalizedThresholdMs ?? slo.latency.thresholdMs
    total = '1'
    bad = normalized ? `${metric} / (steps * megapixels) > {threshold:Float64}` : `${metric} > {threshold:Float64}`
    where = ` AND status = 'ok' AND ${metric} IS NOT NULL${normalized ? ' AND steps > 0 AND megapixels > 0' : ''}${filterSql('requestEvents', filterMap(slo), params)}`
  }
  const columns = fromMs
    .map((_, i) => `sumIf(${total}, ${time} >= {f${i}:DateTime64(3, 'UTC')}) AS total_${i}, sumIf(${bad}, ${time} >= {f${i}:DateTime64(3, 'UTC')}) AS bad_${i}`)
    .join(',\n           ')
  const sql = `
    SELECT ${columns}
    FROM ${table}
    WHERE ${time} >= {from:DateTime64(3, 'UTC')} AND ${time} < {to:DateTime64(3, 'UTC')}${where}`
  const [row] = await selectRows<Record<string, unknown>>(store, sql, params, `SLO ${slo.name} counts`)
  return fromMs.map((_, i) => {
    const t = num(row?.[`total_${i}`])
    const b = num(row?.[`bad_${i}`])
    return { total: t, bad: b, good: t - b }
  })
}

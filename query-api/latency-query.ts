/**
 * Builds the SQL of the latency routes, from raw events or from the percentile rollups.
 *
 * Guarantees:
 * - Counts are exact whichever the source: the rollups store counts, not estimates.
 * - A rollup answer covers exactly [from, to): whole rollup buckets inside the range come from
 *   latency_rollup_1m / _1h, the partial ones at the edges from raw events, and both are merged
 *   as t-digest states (quantilesTDigestMerge over the union), so nothing is counted twice or
 *   left out. Raw and rollup answers use one estimator (t-digest) and one error bound.
 * - A rollup tier is read only when it can answer: the metric, every filter and the group-by are
 *   columns of that tier (the 1-minute tier has fewer dimensions than the 1-hour one, see
 *   migration 0005) and, for a time series, the step is a multiple of its grain. `auto` also
 *   needs the range to reach the tier's configured threshold; otherwise raw events.
 */
import type { QueryLimits } from './config.ts'
import { dimensionsOf, dimensionSql, metricColumn, ROLLUP_METRICS, type Dimension, type LatencyMetric, type RequestStatusFilter } from './dimensions.ts'
import { apiError } from './errors.ts'
import { filterSql } from './filters.ts'
import { chDateTime64, qualifiedTable, type Store } from './store.ts'
import type { TimeRange } from './time-range.ts'

export const LATENCY_SOURCES = ['auto', 'raw', 'rollup'] as const
export type LatencySourceParam = (typeof LATENCY_SOURCES)[number]
export type LatencySource = 'raw' | 'rollup_1m' | 'rollup_1h'

export type LatencyQuery = {
  metric: LatencyMetric
  quantiles: readonly number[]
  groupBy: Dimension | 'none'
  filters: Map<Dimension, string[]>
  status: RequestStatusFilter
  range: TimeRange
  /** Bucket size in seconds for a time series; null for totals over the range. */
  stepSeconds: number | null
}

type Tier = { source: 'rollup_1m' | 'rollup_1h'; dims: Set<string>; grainSeconds: number }
const TIERS: readonly Tier[] = [
  { source: 'rollup_1h', dims: new Set(dimensionsOf('latencyRollup1h')), grainSeconds: 3600 },
  { source: 'rollup_1m', dims: new Set(dimensionsOf('latencyRollup1m')), grainSeconds: 60 },
]

/** Why `tier` cannot answer this query, or null when it can. */
function obstacle(q: LatencyQuery, tier: Tier): string | null {
  const name = tier.source === 'rollup_1h' ? 'the 1-hour rollup' : 'the 1-minute rollup'
  if (ROLLUP_METRICS[q.metric] === undefined) return `metric=${q.metric} is not rolled up (only ${Object.keys(ROLLUP_METRICS).join(', ')})`
  if (q.groupBy !== 'none' && !tier.dims.has(q.groupBy)) return `groupBy=${q.groupBy} is not a dimension of ${name}`
  for (const dim of q.filters.keys()) if (!tier.dims.has(dim)) return `the ${dim} filter is not a dimension of ${name}`
  if (q.stepSeconds !== null && q.stepSeconds % tier.grainSeconds !== 0) return `step=${q.stepSeconds}s is not a multiple of ${name}'s ${tier.grainSeconds}s`
  return null
}

/**
 * The source a query reads. auto: the 1-hour rollup from `hourlyRollupMinRangeSeconds`, the
 * 1-minute one from `rollupMinRangeSeconds`, each only if it can answer; else raw events.
 * rollup: the coarsest tier that can answer (the finer one below the hourly threshold), or a 400
 * that says why none can.
 */
export function chooseSource(q: LatencyQuery, asked: LatencySourceParam, limits: QueryLimits): LatencySource {
  if (asked === 'raw') return 'raw'
  const seconds = (q.range.toMs - q.range.fromMs) / 1000
  const [hourly, minute] = TIERS as [Tier, Tier]
  const okHourly = obstacle(q, hourly) === null
  const okMinute = obstacle(q, minute) === null
  if (asked === 'auto') {
    if (okHourly && seconds >= limits.hourlyRollupMinRangeSeconds) return 'rollup_1h'
    if (okMinute && seconds >= limits.rollupMinRangeSeconds) return 'rollup_1m'
    return 'raw'
  }
  if (okHourly && (seconds >= limits.hourlyRollupMinRangeSeconds || !okMinute)) return 'rollup_1h'
  if (okMinute) return 'rollup_1m'
  throw apiError('API_BAD_REQUEST', `source=rollup cannot answer: ${obstacle(q, hourly)}; ${obstacle(q, minute)}; use source=raw or auto`)
}

export type LatencySql = { sql: string; params: Record<string, unknown> }

/** Rows: { b: bucket epoch seconds (0 for totals), grp, n, qs: number[] }. */
export function latencySql(store: Store, q: LatencyQuery, source: LatencySource): LatencySql {
  const params: Record<string, unknown> = { from: chDateTime64(q.range.fromMs), to: chDateTime64(q.range.toMs), status: q.status }
  q.quantiles.forEach((value, i) => (params[`q${i}`] = value))
  const levels = q.quantiles.map((_, i) => `{q${i}:Float64}`).join(', ')
  if (q.stepSeconds !== null) params['step'] = q.stepSeconds
  const bucket = (time: string) => (q.stepSeconds === null ? '0' : `intDiv(toUnixTimestamp(${time}), {step:UInt32}) * {step:UInt32}`)
  const statusSql = ` AND ({status:String} = 'all' OR status = {status:String})`
  const column = metricColumn(q.metric)
  const raw = qualifiedTable(store, 'requestEvents')
  const rawGroup = dimensionSql('requestEvents', q.groupBy)
  const rawFilters = filterSql('requestEvents', q.filters, params)

  if (source === 'raw') {
    return {
      params,
      sql: `SELECT ${bucket('completed_at')} AS b, ${rawGroup} AS grp, count(${column}) AS n, quantilesTDigest(${levels})(${column}) AS qs
            FROM ${raw}
            WHERE completed_at >= {from:DateTime64(3, 'UTC')} AND completed_at < {to:DateTime64(3, 'UTC')}${statusSql}${rawFilters}
            GROUP BY b, grp HAVING n > 0`,
    }
  }

  const grainMs = source === 'rollup_1h' ? 3_600_000 : 60_000
  // Whole rollup buckets inside [from, to); clamped so a range inside one bucket is all raw.
  const innerFromMs = Math.min(Math.ceil(q.range.fromMs / grainMs) * grainMs, q.range.toMs)
  const innerToMs = Math.max(innerFromMs, Math.floor(q.range.toMs / grainMs) * grainMs)
  params['inner_from'] = chDateTime64(innerFromMs)
  params['inner_to'] = chDateTime64(innerToMs)
  const rollup = ROLLUP_METRICS[q.metric]
  if (rollup === undefined) throw apiError('API_BAD_REQUEST', `metric=${q.metric} is not rolled up`)
  const table = qualifiedTable(store, source === 'rollup_1h' ? 'latencyRollup1h' : 'latencyRollup1m')
  const tierDims = source === 'rollup_1h' ? 'latencyRollup1h' : 'latencyRollup1m'
  const rollupFilters = filterSql(tierDims, q.filters, params)
  return {
    params,
    sql: `SELECT b, grp, sum(n) AS n, quantilesTDigestMerge(${levels})(st) AS qs
          FROM (
            SELECT ${bucket('ts')} AS b, ${dimensionSql(tierDims, q.groupBy)} AS grp, sum(${rollup.count}) AS n,
                   quantilesTDigestMergeState(0.5)(${rollup.state}) AS st
            FROM ${table}
            WHERE ts >= {inner_from:DateTime64(3, 'UTC')} AND ts < {inner_to:DateTime64(3, 'UTC')}${statusSql}${rollupFilters}
            GROUP BY b, grp
            UNION ALL
            SELECT ${bucket('completed_at')} AS b, ${rawGroup} AS grp, count(${column}) AS n,
                   quantilesTDigestStateIf(0.5)(assumeNotNull(${column}), ${column} IS NOT NULL) AS st
            FROM ${raw}
            WHERE ((completed_at >= {from:DateTime64(3, 'UTC')} AND completed_at < {inner_from:DateTime64(3, 'UTC')})
                OR (completed_at >= {inner_to:DateTime64(3, 'UTC')} AND completed_at < {to:DateTime64(3, 'UTC')}))${statusSql}${rawFilters}
            GROUP BY b, grp
          )
          GROUP BY b, grp HAVING n > 0`,
  }
}

/**
 * SQL of the host routes: host CPU and memory from the raw GPU samples (gpu_samples), where
 * every GPU sample carries its host's CPU %, memory used and memory total.
 *
 * One value per host per second. An agent reads the host's CPU and memory once per round and
 * stamps it on every GPU of the round, so a host with 8 GPUs repeats its figure 8 times per
 * interval; counted per sample, that host would weigh 8 times as much as a 1-GPU host in a fleet
 * mean or p95. The rows of one host are therefore first collapsed to one "host instant" per
 * second of sampled_at (the mean of what its GPU rows say in that second; they agree, being one
 * reading). Seconds rather than exact sampled_at because nvidia-smi stamps each GPU line of a
 * round with its own millisecond time. An interval under 1 s averages its rounds within the
 * second; no GPU count enters. Every figure below is over host instants; `samples` counts them.
 * A null reading is skipped (a mean over instants that reported the value).
 *
 * Samples are selected by sampled_at in [from, to). Filters (host, gpu_name) select GPU rows
 * before the collapse, so `gpus` counts the host's GPUs that match them.
 */
import { chDateTime64, qualifiedTable, type Store } from './store.ts'
import type { TimeRange } from './time-range.ts'

export const HOST_GROUP_BY = ['host', 'none'] as const
export type HostGroupBy = (typeof HOST_GROUP_BY)[number]

export const HOST_FILTERS = ['host', 'gpu_name'] as const
export type HostFilters = Partial<Record<(typeof HOST_FILTERS)[number], string[]>>

export const HOST_SERIES_METRICS = ['cpu', 'mem_used'] as const
export type HostSeriesMetric = (typeof HOST_SERIES_METRICS)[number]

const GROUP_SQL: Readonly<Record<HostGroupBy, string>> = { host: 'host', none: "''" }
const SERIES_VALUE: Readonly<Record<HostSeriesMetric, string>> = { cpu: 'avg(cpu)', mem_used: 'avg(mem_used)' }

function baseParams(range: TimeRange): Record<string, unknown> {
  return { from: chDateTime64(range.fromMs), to: chDateTime64(range.toMs) }
}

/** WHERE clause over gpu_samples: the range and the filters, values added to `params`. */
function sampleWhere(filters: HostFilters, params: Record<string, unknown>): string {
  let sql = `sampled_at >= {from:DateTime64(3, 'UTC')} AND sampled_at < {to:DateTime64(3, 'UTC')}`
  for (const key of HOST_FILTERS) {
    const values = filters[key]
    if (!values || values.length === 0) continue
    params[`f_${key}`] = values
    sql += ` AND ${key} IN {f_${key}:Array(String)}`
  }
  return sql
}

/** One row per (host, second): the host instants of the module doc. */
function instantsSql(store: Store, where: string): string {
  return `(
      SELECT host, toStartOfSecond(sampled_at) AS instant, avg(host_cpu_pct) AS cpu, avg(host_mem_used_mb) AS mem_used,
             max(host_mem_total_mb) AS mem_total
      FROM ${qualifiedTable(store, 'gpuSamples')}
      WHERE ${where}
      GROUP BY host, instant
    )`
}

/**
 * One row per group. CPU and memory figures pool the host instants of the group; `gpus` and
 * `mem_total` sum the hosts' GPU counts and their largest reported memory total (for
 * groupBy=host: the host's own); the headroom is the smallest total − used of any instant.
 */
export function hostSummarySql(store: Store, range: TimeRange, groupBy: HostGroupBy, filters: HostFilters) {
  const params = baseParams(range)
  const where = sampleWhere(filters, params)
  const grp = GROUP_SQL[groupBy]
  const sql = `
    SELECT i.grp AS grp, i.hosts AS hosts, i.samples AS samples, inv.gpus AS gpus, i.cpu_mean AS cpu_mean, i.cpu_p95 AS cpu_p95, i.cpu_max AS cpu_max,
           i.mem_used_mean AS mem_used_mean, i.mem_used_max AS mem_used_max, inv.mem_total AS mem_total, i.headroom_min AS headroom_min
    FROM (
      SELECT ${grp} AS grp, uniqExact(host) AS hosts, count() AS samples, avg(cpu) AS cpu_mean,
             quantileExactInclusive(0.95)(cpu) AS cpu_p95, max(cpu) AS cpu_max, avg(mem_used) AS mem_used_mean,
             max(mem_used) AS mem_used_max, min(mem_total - mem_used) AS headroom_min
      FROM ${instantsSql(store, where)}
      GROUP BY grp
    ) AS i
    LEFT JOIN (
      SELECT grp, sum(h_gpus) AS gpus, sum(h_mem_total) AS mem_total
      FROM (
        SELECT host, ${grp} AS grp, uniqExact(gpu_uuid) AS h_gpus, max(host_mem_total_mb) AS h_mem_total
        FROM ${qualifiedTable(store, 'gpuSamples')}
        WHERE ${where}
        GROUP BY host
      )
      GROUP BY grp
    ) AS inv ON i.grp = inv.grp
    ORDER BY grp`
  return { sql, params }
}

/** One row per (host, bucket): mean CPU % or memory used over the host instants of the bucket. */
export function hostSeriesSql(store: Store, range: TimeRange, stepSeconds: number, metric: HostSeriesMetric, filters: HostFilters) {
  const params: Record<string, unknown> = { ...baseParams(range), step: stepSeconds }
  const sql = `
    SELECT host, intDiv(toUnixTimestamp(instant), {step:UInt32}) * {step:UInt32} AS bucket, count() AS n_samples, ${SERIES_VALUE[metric]} AS value
    FROM ${instantsSql(store, sampleWhere(filters, params))}
    GROUP BY host, bucket
    ORDER BY host, bucket`
  return { sql, params }
}

/**
 * SQL of the GPU routes. Fleet figures come from the transformer's per-window GPU aggregates
 * (gpu_windows: sums and maxima, re-aggregated here), the p95 utilization from the raw samples
 * (gpu_samples), which a sum cannot give. Windows are selected by start and samples by sample
 * time, both in [from, to): with a range aligned to the transformer's window both read the same
 * samples. A sample with no value for a measure counts as 0 in the windowed sums (the
 * transformer's rule), so means divide by the number of samples.
 *
 * A GPU's model is the model its worker served in the range (request_windows); a GPU that served
 * nothing in the range has model `(idle)`. The model and gpu_type filters keep the GPUs whose
 * worker served such requests in the range (GPU samples name the product, not the fleet's type).
 */
import { chDateTime64, qualifiedTable, type Store } from './store.ts'
import type { TimeRange } from './time-range.ts'

export const GPU_GROUP_BY = ['gpu', 'host', 'gpu_name', 'model', 'none'] as const
export type GpuGroupBy = (typeof GPU_GROUP_BY)[number]

const GROUP_SQL: Readonly<Record<GpuGroupBy, string>> = {
  gpu: 'gpu_uuid',
  host: 'host',
  gpu_name: 'gpu_name',
  model: "if(model = '', '(idle)', model)",
  none: "''",
}

/** Filters on the GPU itself, and on what its worker served in the range (model, gpu_type). */
export const GPU_FILTERS = ['host', 'gpu_name', 'gpu', 'model', 'gpu_type'] as const
export type GpuFilters = Partial<Record<(typeof GPU_FILTERS)[number], string[]>>

function filterSql(store: Store, filters: GpuFilters, params: Record<string, unknown>): string {
  let sql = ''
  const served: string[] = []
  for (const key of GPU_FILTERS) {
    const values = filters[key]
    if (!values || values.length === 0) continue
    params[`f_${key}`] = values
    if (key === 'model' || key === 'gpu_type') served.push(` AND ${key} IN {f_${key}:Array(String)}`)
    else sql += ` AND ${key === 'gpu' ? 'gpu_uuid' : key} IN {f_${key}:Array(String)}`
  }
  if (served.length > 0) {
    sql += ` AND ifNull(worker_id, '') IN (SELECT DISTINCT worker_id FROM ${qualifiedTable(store, 'requestWindows')}
             WHERE window_start >= {from:DateTime64(3, 'UTC')} AND window_start < {to:DateTime64(3, 'UTC')}${served.join('')})`
  }
  return sql
}

function workerModels(store: Store): string {
  return `(SELECT worker_id, any(model) AS model FROM ${qualifiedTable(store, 'requestWindows')}
           WHERE window_start >= {from:DateTime64(3, 'UTC')} AND window_start < {to:DateTime64(3, 'UTC')} GROUP BY worker_id)`
}

/**
 * One row per group: fleet figures from gpu_windows, first summed per (GPU, worker): a GPU that
 * changed workers in the range is one GPU, idle only if idle under every worker.
 */
export function gpuSummarySql(store: Store, range: TimeRange, groupBy: GpuGroupBy, filters: GpuFilters) {
  const params: Record<string, unknown> = { from: chDateTime64(range.fromMs), to: chDateTime64(range.toMs) }
  const sql = `
    SELECT ${GROUP_SQL[groupBy]} AS grp, uniqExact(gpu_uuid) AS gpus, uniqExact(gpu_uuid) - uniqExactIf(gpu_uuid, g_busy > 0) AS idle_gpus, sum(g_samples) AS samples,
           sum(g_util_sum) / sum(g_samples) AS util_mean, max(g_util_max) AS util_max, sum(g_busy) / sum(g_samples) AS busy_fraction,
           sum(g_mem_used_sum) / sum(g_samples) AS mem_used_mean, max(g_mem_used_max) AS mem_used_max, sum(g_mem_total) AS mem_total,
           min(g_mem_total - g_mem_used_max) AS mem_headroom_min, sum(g_power_sum) / sum(g_samples) AS power_mean, max(g_power_max) AS power_max,
           max(g_temp_max) AS temp_max, sum(g_throttled) / sum(g_samples) AS throttled_fraction, sum(g_xid) AS xid_samples
    FROM (
      SELECT gpu_uuid, host, gpu_name, worker_id,
             sum(samples) AS g_samples, sum(util_sum) AS g_util_sum, max(util_max) AS g_util_max, sum(busy_samples) AS g_busy,
             sum(mem_used_sum) AS g_mem_used_sum, max(mem_used_max) AS g_mem_used_max, max(mem_total_max) AS g_mem_total,
             sum(power_sum) AS g_power_sum, max(power_max) AS g_power_max, max(temp_max) AS g_temp_max,
             sum(throttled_samples) AS g_throttled, sum(xid_samples) AS g_xid
      FROM ${qualifiedTable(store, 'gpuWindows')}
      WHERE window_start >= {from:DateTime64(3, 'UTC')} AND window_start < {to:DateTime64(3, 'UTC')}${filterSql(store, filters, params)}
      GROUP BY gpu_uuid, host, gpu_name, worker_id
    ) AS g
    LEFT JOIN ${workerModels(store)} AS wm ON g.worker_id = wm.worker_id
    GROUP BY grp
    HAVING samples > 0
    ORDER BY grp`
  return { sql, params }
}

/** One row per group: exact p95 of the sampled utilization (type-7 interpolation). */
export function gpuP95Sql(store: Store, range: TimeRange, groupBy: GpuGroupBy, filters: GpuFilters) {
  const params: Record<string, unknown> = { from: chDateTime64(range.fromMs), to: chDateTime64(range.toMs) }
  const sql = `
    SELECT ${GROUP_SQL[groupBy]} AS grp, quantileExactInclusive(0.95)(util) AS util_p95
    FROM (
      SELECT gpu_uuid, host, gpu_name, ifNull(worker_id, '') AS worker_id, toFloat64(ifNull(util_gpu_pct, 0)) AS util
      FROM ${qualifiedTable(store, 'gpuSamples')}
      WHERE sampled_at >= {from:DateTime64(3, 'UTC')} AND sampled_at < {to:DateTime64(3, 'UTC')}${filterSql(store, filters, params)}
    ) AS s
    LEFT JOIN ${workerModels(store)} AS wm ON s.worker_id = wm.worker_id
    GROUP BY grp`
  return { sql, params }
}

export const GPU_SERIES_METRICS = ['util', 'mem_used', 'power', 'temp'] as const
export type GpuSeriesMetric = (typeof GPU_SERIES_METRICS)[number]
const SERIES_VALUE: Readonly<Record<GpuSeriesMetric, string>> = {
  util: 'sum(util_sum) / sum(samples)',
  mem_used: 'sum(mem_used_sum) / sum(samples)',
  power: 'sum(power_sum) / sum(samples)',
  temp: 'max(temp_max)',
}

/** One row per (GPU, bucket): the metric's mean (max for temperature). */
export function gpuSeriesSql(store: Store, range: TimeRange, stepSeconds: number, metric: GpuSeriesMetric, filters: GpuFilters) {
  const params: Record<string, unknown> = { from: chDateTime64(range.fromMs), to: chDateTime64(range.toMs), step: stepSeconds }
  const sql = `
    SELECT gpu_uuid, host, gpu_name, intDiv(toUnixTimestamp(window_start), {step:UInt32}) * {step:UInt32} AS bucket,
           sum(samples) AS n_samples, ${SERIES_VALUE[metric]} AS value
    FROM ${qualifiedTable(store, 'gpuWindows')}
    WHERE window_start >= {from:DateTime64(3, 'UTC')} AND window_start < {to:DateTime64(3, 'UTC')}${filterSql(store, filters, params)}
    GROUP BY gpu_uuid, host, gpu_name, bucket
    ORDER BY host, gpu_uuid, bucket`
  return { sql, params }
}

/**
 * What the trend report reads: per UTC day (and per ISO week for the p95), only from the tables
 * kept for long trends, so 30–90 days answer from a few thousand rows per day instead of raw
 * events: request counts and errors from request_windows (windows by start), the p95 of
 * end-to-end latency of successful requests merged from the hourly t-digest rollup
 * (latency_rollup_1h), GPU utilization from gpu_windows. Filters on model and GPU type apply to
 * the request figures; GPU utilization is fleet-wide (GPU samples do not carry a model).
 */
import { chDateTime64, num, numOrNull, qualifiedTable, selectRows, type Store } from '../store.ts'
import { reportFilterSql, type ReportFilters } from './report-filters.ts'

export type TrendFilters = ReportFilters
export type DayVolume = { day: number; requests: number; errors: number; images: number }
export type DayP95 = { day: number; p95: number | null; n: number }
export type DayGpu = { day: number; samples: number; util_sum: number; busy_samples: number }

const filterSql = reportFilterSql

const dayMs = (v: unknown) => num(v) * 1000

export async function readTrend(store: Store, range: { fromMs: number; toMs: number }, filters: TrendFilters) {
  const base = { from: chDateTime64(range.fromMs), to: chDateTime64(range.toMs) }
  const reqParams: Record<string, unknown> = { ...base }
  const reqFilter = filterSql(filters, reqParams)
  const latParams: Record<string, unknown> = { ...base }
  const latFilter = filterSql(filters, latParams)
  const between = (col: string) => `${col} >= {from:DateTime64(3, 'UTC')} AND ${col} < {to:DateTime64(3, 'UTC')}`
  // Two levels: the hourly states are merged once into one state per day, and the weekly p95
  // merges those few daily states, instead of merging every hourly state twice.
  const p95Sql = `
    SELECT toUnixTimestamp(day) AS d, toUnixTimestamp(week) AS w, quantilesTDigestMerge(0.95)(st)[1] AS p95, sum(n) AS n
    FROM (
      SELECT toStartOfDay(ts) AS day, toDateTime(toMonday(ts), 'UTC') AS week, quantilesTDigestMergeState(0.95)(e2e) AS st, sum(n_e2e) AS n
      FROM ${qualifiedTable(store, 'latencyRollup1h')}
      WHERE ${between('ts')} AND status = 'ok'${latFilter}
      GROUP BY day, week
    )
    GROUP BY GROUPING SETS ((day), (week))`
  const [volume, p95Rows, gpu] = await Promise.all([
    selectRows<Record<string, unknown>>(store, `
      SELECT toUnixTimestamp(toStartOfDay(window_start)) AS day, sum(requests) AS requests, sum(errors) AS errors, sum(images) AS images
      FROM ${qualifiedTable(store, 'requestWindows')}
      WHERE ${between('window_start')}${reqFilter}
      GROUP BY day ORDER BY day`, reqParams, 'trend report volume'),
    selectRows<Record<string, unknown>>(store, p95Sql, latParams, 'trend report p95'),
    selectRows<Record<string, unknown>>(store, `
      SELECT toUnixTimestamp(toStartOfDay(window_start)) AS day, sum(samples) AS samples, sum(util_sum) AS util_sum, sum(busy_samples) AS busy_samples
      FROM ${qualifiedTable(store, 'gpuWindows')}
      WHERE ${between('window_start')}
      GROUP BY day ORDER BY day`, { ...base }, 'trend report GPU utilization'),
  ])
  const p95 = (key: 'd' | 'w') => (r: Record<string, unknown>): DayP95 => ({ day: dayMs(r[key]), p95: num(r['n']) > 0 ? numOrNull(r['p95']) : null, n: num(r['n']) })
  // GROUPING SETS leave the column outside the set at its default (epoch 0).
  return {
    volume: volume.map((r): DayVolume => ({ day: dayMs(r['day']), requests: num(r['requests']), errors: num(r['errors']), images: num(r['images']) })),
    p95Daily: p95Rows.filter((r) => num(r['d']) > 0).map(p95('d')),
    p95Weekly: p95Rows.filter((r) => num(r['w']) > 0).map(p95('w')),
    gpu: gpu.map((r): DayGpu => ({ day: dayMs(r['day']), samples: num(r['samples']), util_sum: num(r['util_sum']), busy_samples: num(r['busy_samples']) })),
  }
}

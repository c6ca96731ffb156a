/**
 * What the capacity report reads from ClickHouse: raw request events whose completed_at lies in
 * [from, to), per pool (model × GPU type) and per pool × resolution bucket × steps bucket.
 *
 * Service time of a request = the time it held its worker's GPU: from dequeued_at to
 * inference_end_at (model load and pre-processing included; the upload runs after the GPU is
 * released), or to completed_at for a request that failed before inference ended. Requests
 * never dequeued (queue timeouts, rejections) have none and are left out of service figures
 * but counted as arrivals. Values only as query parameters; identifiers are fixed.
 */
import { RESOLUTION_BUCKET_SQL, STEPS_BUCKET_SQL } from '../dimensions.ts'
import { reportFilterSql, type ReportFilters } from './report-filters.ts'
import { chDateTime64, num, numOrNull, qualifiedTable, selectRows, type Store } from '../store.ts'

export type CapacityFilters = ReportFilters

const SERVICE_MS =
  'if(dequeued_at IS NULL, NULL, toFloat64(toUnixTimestamp64Milli(coalesce(inference_end_at, completed_at)) - toUnixTimestamp64Milli(dequeued_at)))'

export type ServiceRow = {
  model: string
  gpu_type: string
  resolution_bucket: string
  steps_bucket: string
  requests: number
  served: number
  ok: number
  images_ok: number
  gpus: number
  service_sum_ms: number
  service_mean_ms: number | null
  service_p50_ms: number | null
  service_p95_ms: number | null
  inference_mean_ms: number | null
  inference_p50_ms: number | null
  inference_p95_ms: number | null
  queue_p95_ms: number | null
  peak_requests: number
}

function where(filters: CapacityFilters, params: Record<string, unknown>): string {
  return "completed_at >= {from:DateTime64(3, 'UTC')} AND completed_at < {to:DateTime64(3, 'UTC')}" + reportFilterSql(filters, params)
}

/**
 * One row per pool (buckets '') and one per pool × resolution bucket × steps bucket, with the
 * busiest `peakSeconds`-long epoch-aligned window's arrival count of that row (arrivals by
 * received_at). GROUPING SETS compute both levels in one scan of the events per query.
 */
export async function readServiceRows(
  store: Store,
  range: { fromMs: number; toMs: number },
  filters: CapacityFilters,
  peakSeconds: number,
): Promise<ServiceRow[]> {
  const params: Record<string, unknown> = { from: chDateTime64(range.fromMs), to: chDateTime64(range.toMs), peak: peakSeconds }
  const cond = where(filters, params)
  const buckets = `${RESOLUTION_BUCKET_SQL} AS resolution_bucket, ${STEPS_BUCKET_SQL} AS steps_bucket`
  const keys = 'model, gpu_type, resolution_bucket, steps_bucket'
  const sets = 'GROUPING SETS ((model, gpu_type), (model, gpu_type, resolution_bucket, steps_bucket))'
  const table = qualifiedTable(store, 'requestEvents')
  const sql = `
    SELECT s.*, p.peak_requests
    FROM (
      SELECT ${keys}, count() AS requests, count(svc) AS served, countIf(status = 'ok') AS ok, sumIf(images, status = 'ok') AS images_ok,
             uniqExactIf(gpu_uuid, svc IS NOT NULL) AS gpus, sum(svc) AS service_sum_ms, avg(svc) AS service_mean_ms,
             quantilesTDigest(0.5, 0.95)(svc) AS svc_q, avg(inference_ms) AS inference_mean_ms,
             quantilesTDigest(0.5, 0.95)(inference_ms) AS inf_q, quantileTDigest(0.95)(queue_ms) AS queue_p95_ms
      FROM (SELECT model, gpu_type, status, images, gpu_uuid, inference_ms, queue_ms, ${buckets}, ${SERVICE_MS} AS svc FROM ${table} WHERE ${cond})
      GROUP BY ${sets}
    ) AS s
    INNER JOIN (
      SELECT ${keys}, max(n) AS peak_requests
      FROM (
        SELECT ${keys}, w, count() AS n
        FROM (SELECT model, gpu_type, intDiv(toUnixTimestamp(received_at), {peak:UInt32}) AS w, ${buckets} FROM ${table} WHERE ${cond})
        GROUP BY GROUPING SETS ((model, gpu_type, w), (model, gpu_type, resolution_bucket, steps_bucket, w))
      )
      GROUP BY ${keys}
    ) AS p USING (${keys})
    ORDER BY ${keys}`
  const rows = await selectRows<Record<string, unknown>>(store, sql, params, 'capacity report')
  return rows.map((r) => {
    const served = num(r['served'])
    const svcQ = (r['svc_q'] as unknown[] | undefined) ?? []
    const infQ = (r['inf_q'] as unknown[] | undefined) ?? []
    const hasInference = numOrNull(r['inference_mean_ms']) !== null
    return {
      model: String(r['model']),
      gpu_type: String(r['gpu_type']),
      resolution_bucket: String(r['resolution_bucket']),
      steps_bucket: String(r['steps_bucket']),
      requests: num(r['requests']),
      served,
      ok: num(r['ok']),
      images_ok: num(r['images_ok']),
      gpus: num(r['gpus']),
      service_sum_ms: num(r['service_sum_ms']),
      service_mean_ms: served > 0 ? numOrNull(r['service_mean_ms']) : null,
      service_p50_ms: served > 0 ? numOrNull(svcQ[0]) : null,
      service_p95_ms: served > 0 ? numOrNull(svcQ[1]) : null,
      inference_mean_ms: numOrNull(r['inference_mean_ms']),
      inference_p50_ms: hasInference ? numOrNull(infQ[0]) : null,
      inference_p95_ms: hasInference ? numOrNull(infQ[1]) : null,
      queue_p95_ms: served > 0 ? numOrNull(r['queue_p95_ms']) : null,
      peak_requests: num(r['peak_requests']),
    }
  })
}

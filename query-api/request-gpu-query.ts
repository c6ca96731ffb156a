/**
 * SQL of GET /v1/requests/gpu: requests joined with the GPU samples taken while they ran, in one
 * ClickHouse query.
 *
 * Which samples. A sample stamped t describes the interval before it ([t − I, t), I the
 * agent's sampling interval: nvidia-smi's utilization is "over the past sample period", the host
 * figures "over the last interval"). So the samples of a request are those whose interval
 * overlaps its inference [inference_start_at, inference_end_at): start < t < end + I. A request
 * with no inference (queue timeout, rejected), or one whose inference ends before it starts
 * (a producer's clock bug), has no samples and null figures, but is still listed.
 *
 * Whose samples. The request's gpu_uuid; when that is empty (a producer that does not know
 * it), the samples of every GPU bound to the request's worker_id (`matched_by` says which).
 *
 * Bounded. Requests are selected first (completed_at in [from, to), filters, order, limit), so
 * at most `limit` requests take part. Samples are read only for those GPUs / workers and only
 * between the earliest inference start and the latest inference end + I of the selected
 * requests. The join is an equi-join on (GPU, 10-s slot): each request is expanded to the slots
 * its window touches (at most MAX_SLOTS_PER_REQUEST), each sample to its own slot, so a request
 * meets only the samples of its GPU in those slots (about window / interval + 2 × 10 s /
 * interval rows), never the GPU's whole range.
 */
import { chDateTime64, qualifiedTable, type Store } from './store.ts'
import type { TimeRange } from './time-range.ts'

export const REQUEST_GPU_SORTS = ['recent', 'slowest'] as const
export type RequestGpuSort = (typeof REQUEST_GPU_SORTS)[number]

/** Query parameter → column of request_events. */
export const REQUEST_GPU_FILTERS = {
  model: 'model', worker: 'worker_id', gpu_type: 'gpu_type', tenant: 'tenant', status: 'status', event_id: 'event_id',
} as const
export type RequestGpuFilter = keyof typeof REQUEST_GPU_FILTERS
export type RequestGpuFilters = Partial<Record<RequestGpuFilter, string[]>>

/** Grain of the equi-join: a request meets the samples of its GPU in the 10-s slots its window touches. */
export const JOIN_SLOT_MS = 10_000
/** Longest window joined (24 h of slots); a longer one is matched on its first 24 h only. */
export const MAX_SLOTS_PER_REQUEST = 8640

/** Order of the requests (ties broken so that the limit cuts the same list every time). */
const ORDER: Readonly<Record<RequestGpuSort, string>> = {
  recent: 'completed_ms DESC, event_id',
  slowest: 'e2e_ms DESC, completed_ms DESC, event_id',
}

export type RequestGpuQuery = {
  range: TimeRange
  sort: RequestGpuSort
  /** Requests to return; one more is selected to tell whether the list was cut. */
  limit: number
  sampleIntervalMs: number
  filters: RequestGpuFilters
}

function filterSql(filters: RequestGpuFilters, params: Record<string, unknown>): string {
  let sql = ''
  for (const key of Object.keys(REQUEST_GPU_FILTERS) as RequestGpuFilter[]) {
    const values = filters[key]
    if (!values || values.length === 0) continue
    params[`f_${key}`] = values
    sql += ` AND ${REQUEST_GPU_FILTERS[key]} IN {f_${key}:Array(String)}`
  }
  return sql
}

export function requestGpuSql(store: Store, q: RequestGpuQuery) {
  const params: Record<string, unknown> = {
    from: chDateTime64(q.range.fromMs), to: chDateTime64(q.range.toMs), n: q.limit + 1, interval_ms: q.sampleIntervalMs, max_slots: MAX_SLOTS_PER_REQUEST, slot: JOIN_SLOT_MS,
  }
  const samples = qualifiedTable(store, 'gpuSamples')
  // Both sample branches read the same columns; `key` is what a request's match_key names.
  const sampleCols = `toUnixTimestamp64Milli(sampled_at) AS t_ms, intDiv(t_ms, {slot:UInt32}) AS slot, util_gpu_pct AS util, mem_used_mb AS mem_used,
                      power_w AS power, temperature_c AS temp, length(throttle_reasons) > 0 AS throttled`
  const bounds = `sampled_at > (SELECT min(inference_start_at) FROM req)
                  AND sampled_at < (SELECT max(inference_end_at) FROM req) + toIntervalMillisecond({interval_ms:UInt32})`
  const sql = `
    WITH req AS (
      SELECT event_id, request_id, model, worker_id, host, gpu_uuid, gpu_type, tenant, pipeline, status, error_type, width, height, steps, images,
             toUnixTimestamp64Milli(received_at) AS received_ms, toUnixTimestamp64Milli(inference_start_at) AS start_ms,
             toUnixTimestamp64Milli(inference_end_at) AS end_ms, toUnixTimestamp64Milli(completed_at) AS completed_ms,
             e2e_ms, queue_ms, inference_ms, peak_gpu_mem_mb, inference_start_at, inference_end_at,
             if(gpu_uuid != '', concat('g:', gpu_uuid), concat('w:', worker_id)) AS match_key
      FROM ${qualifiedTable(store, 'requestEvents')}
      WHERE completed_at >= {from:DateTime64(3, 'UTC')} AND completed_at < {to:DateTime64(3, 'UTC')}${filterSql(q.filters, params)}
      ORDER BY ${ORDER[q.sort]}
      LIMIT {n:UInt32}
    )
    SELECT any(event_id) AS event_id, any(request_id) AS request_id, any(model) AS model, any(worker_id) AS worker_id, any(host) AS host,
           any(gpu_uuid) AS gpu_uuid, any(gpu_type) AS gpu_type, any(tenant) AS tenant, any(pipeline) AS pipeline, any(status) AS status,
           any(error_type) AS error_type, any(width) AS width, any(height) AS height, any(steps) AS steps, any(images) AS images,
           any(received_ms) AS received_ms, any(start_ms) AS start_ms, any(end_ms) AS end_ms, any(completed_ms) AS completed_ms,
           any(e2e_ms) AS e2e_ms, any(queue_ms) AS queue_ms, any(inference_ms) AS inference_ms, any(peak_gpu_mem_mb) AS peak_gpu_mem_mb,
           any(match_key) AS match_key,
           countIf(in_window) AS samples, avgIf(util, in_window) AS util_mean, maxIf(util, in_window) AS util_max,
           maxIf(mem_used, in_window) AS mem_used_max, avgIf(power, in_window) AS power_mean, maxIf(temp, in_window) AS temp_max,
           countIf(in_window AND throttled) AS throttled_samples
    FROM (
      SELECT r.*, s.util AS util, s.mem_used AS mem_used, s.power AS power, s.temp AS temp, s.throttled AS throttled,
             ifNull(s.t_ms > r.start_ms AND s.t_ms < r.end_ms + {interval_ms:UInt32}, 0) AS in_window
      FROM (
        SELECT *, arrayJoin(if(start_ms IS NULL OR end_ms IS NULL OR end_ms < start_ms, [toInt64(-1)],
                               range(intDiv(assumeNotNull(start_ms), {slot:UInt32}),
                                     least(intDiv(assumeNotNull(end_ms) + {interval_ms:UInt32}, {slot:UInt32}), intDiv(assumeNotNull(start_ms), {slot:UInt32}) + {max_slots:UInt32} - 1) + 1))) AS slot
        FROM (SELECT *, rowNumberInAllBlocks() AS rn FROM req)
      ) AS r
      LEFT JOIN (
        SELECT concat('g:', gpu_uuid) AS key, ${sampleCols} FROM ${samples}
        WHERE gpu_uuid IN (SELECT gpu_uuid FROM req WHERE gpu_uuid != '') AND ${bounds}
        UNION ALL
        SELECT concat('w:', ifNull(worker_id, '')) AS key, ${sampleCols} FROM ${samples}
        WHERE worker_id IN (SELECT worker_id FROM req WHERE gpu_uuid = '') AND ${bounds}
      ) AS s ON r.match_key = s.key AND r.slot = s.slot
    )
    GROUP BY rn
    ORDER BY ${ORDER[q.sort]}`
  return { sql, params }
}

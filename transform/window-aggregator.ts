/**
 * Event-time tumbling windows, as partial aggregates of one chunk. The transformer keeps no
 * window open across chunks: each chunk contributes its own partial rows, and ClickHouse merges
 * them at query time (sum / max re-aggregation). Several instances, replays that the dedup token
 * drops, and late events therefore all give the same totals.
 *
 * An event is late when it reached Kafka (its message timestamp) after its window closed plus the
 * allowed lateness. It is still counted in its own window and also counted in `late_events`.
 * Both inputs are in the message, so a replay classifies every event the same way.
 */
import type { ErrorType, GpuSample, RequestEvent } from '../schemas/generated/types.ts'
import { ERROR_TYPES } from '../schemas/generated/types.ts'

export type WindowSettings = { windowSeconds: number; allowedLatenessMs: number; aggVersion: number }

export function windowStartSec(eventMs: number, windowSeconds: number): number {
  const ws = windowSeconds * 1000
  return (Math.floor(eventMs / ws) * ws) / 1000
}

export function isLate(eventMs: number, messageTimestampMs: number, w: WindowSettings): boolean {
  const windowEndMs = (windowStartSec(eventMs, w.windowSeconds) + w.windowSeconds) * 1000
  return messageTimestampMs > windowEndMs + w.allowedLatenessMs
}

export type RequestWindowRow = {
  window_start: number
  window_seconds: number
  model: string
  model_version: string
  worker_id: string
  pipeline: string
  gpu_type: string
  region: string
  tenant: string
  deployment: string
  requests: number
  successes: number
  images: number
  errors: number
  late_events: number
  e2e_ms_sum: number
  queue_ms_sum: number
  inference_ms_sum: number
  queue_ms_count: number
  inference_ms_count: number
  e2e_ms_max: number
  agg_version: number
} & Record<`err_${ErrorType}`, number>

export type GpuWindowRow = {
  window_start: number
  window_seconds: number
  gpu_uuid: string
  host: string
  gpu_name: string
  worker_id: string
  samples: number
  util_sum: number
  util_max: number
  util_mem_sum: number
  mem_used_sum: number
  mem_used_max: number
  mem_total_max: number
  power_sum: number
  power_max: number
  temp_max: number
  throttled_samples: number
  xid_samples: number
  busy_samples: number
  late_events: number
  agg_version: number
}

function emptyErrors(): Record<`err_${ErrorType}`, number> {
  const out = {} as Record<`err_${ErrorType}`, number>
  for (const t of ERROR_TYPES) out[`err_${t}`] = 0
  return out
}

export class RequestWindowAggregator {
  private readonly rows = new Map<string, RequestWindowRow>()
  constructor(private readonly w: WindowSettings) {}

  add(e: RequestEvent, messageTimestampMs: number): void {
    const start = windowStartSec(e.completed_at, this.w.windowSeconds)
    const key = `${start}\u0000${e.model}\u0000${e.model_version}\u0000${e.worker_id}\u0000${e.pipeline}\u0000${e.gpu_type}\u0000${e.region}\u0000${e.tenant}\u0000${e.deployment}`
    let row = this.rows.get(key)
    if (!row) {
      row = {
        window_start: start, window_seconds: this.w.windowSeconds,
        model: e.model, model_version: e.model_version, worker_id: e.worker_id, pipeline: e.pipeline, gpu_type: e.gpu_type,
        region: e.region, tenant: e.tenant, deployment: e.deployment,
        requests: 0, successes: 0, images: 0, errors: 0, late_events: 0,
        e2e_ms_sum: 0, queue_ms_sum: 0, inference_ms_sum: 0, queue_ms_count: 0, inference_ms_count: 0, e2e_ms_max: 0,
        agg_version: this.w.aggVersion,
        ...emptyErrors(),
      }
      this.rows.set(key, row)
    }
    const e2e = e.completed_at - e.received_at
    row.requests += 1
    if (e.status === 'ok') {
      row.successes += 1
      row.images += e.images
    } else {
      row.errors += 1
      row[`err_${e.error_type ?? 'internal'}`] += 1
    }
    if (isLate(e.completed_at, messageTimestampMs, this.w)) row.late_events += 1
    row.e2e_ms_sum += e2e
    if (e2e > row.e2e_ms_max) row.e2e_ms_max = e2e
    if (e.dequeued_at !== null) {
      row.queue_ms_sum += e.dequeued_at - e.received_at
      row.queue_ms_count += 1
    }
    if (e.inference_start_at !== null && e.inference_end_at !== null) {
      row.inference_ms_sum += e.inference_end_at - e.inference_start_at
      row.inference_ms_count += 1
    }
  }

  drain(): RequestWindowRow[] {
    const out = [...this.rows.values()]
    this.rows.clear()
    return out
  }
}

export class GpuWindowAggregator {
  private readonly rows = new Map<string, GpuWindowRow>()
  constructor(private readonly w: WindowSettings) {}

  add(s: GpuSample, messageTimestampMs: number): void {
    const start = windowStartSec(s.sampled_at, this.w.windowSeconds)
    const worker = s.worker_id ?? ''
    const key = `${start}\u0000${s.gpu_uuid}\u0000${s.host}\u0000${s.gpu_name}\u0000${worker}`
    let row = this.rows.get(key)
    if (!row) {
      row = {
        window_start: start, window_seconds: this.w.windowSeconds,
        gpu_uuid: s.gpu_uuid, host: s.host, gpu_name: s.gpu_name, worker_id: worker,
        samples: 0, util_sum: 0, util_max: 0, util_mem_sum: 0, mem_used_sum: 0, mem_used_max: 0,
        mem_total_max: 0, power_sum: 0, power_max: 0, temp_max: 0, throttled_samples: 0,
        xid_samples: 0, busy_samples: 0, late_events: 0, agg_version: this.w.aggVersion,
      }
      this.rows.set(key, row)
    }
    const util = s.util_gpu_pct ?? 0
    const mem = s.mem_used_mb ?? 0
    const power = s.power_w ?? 0
    row.samples += 1
    row.util_sum += util
    row.util_max = Math.max(row.util_max, util)
    row.util_mem_sum += s.util_mem_pct ?? 0
    row.mem_used_sum += mem
    row.mem_used_max = Math.max(row.mem_used_max, mem)
    row.mem_total_max = Math.max(row.mem_total_max, s.mem_total_mb ?? 0)
    row.power_sum += power
    row.power_max = Math.max(row.power_max, power)
    row.temp_max = Math.max(row.temp_max, s.temperature_c ?? 0)
    if (s.throttle_reasons.length > 0) row.throttled_samples += 1
    if (s.last_xid !== null) row.xid_samples += 1
    if (util > 0) row.busy_samples += 1
    if (isLate(s.sampled_at, messageTimestampMs, this.w)) row.late_events += 1
  }

  drain(): GpuWindowRow[] {
    const out = [...this.rows.values()]
    this.rows.clear()
    return out
  }
}

import { describe, expect, it } from 'vitest'
import type { RequestEvent } from '../schemas/generated/types.ts'
import { RequestWindowAggregator, isLate, windowStartSec } from './window-aggregator.ts'

const T0 = Date.UTC(2026, 10, 28, 12, 0, 0)

function req(over: Partial<RequestEvent>): RequestEvent {
  return {
    event_id: 'e', request_id: 'r', trace_id: null, tenant: 'acme', region: 'eu', deployment: 'prod',
    worker_id: 'w1', host: 'h1', gpu_uuid: 'GPU-1', gpu_type: 'L4', model: 'sdxl', model_version: '1.0',
    pipeline: 'txt2img', sampler: 'euler', steps: 30, guidance_scale: 7, width: 1024, height: 1024,
    images: 1, batch_size: 1, prompt_hash: null, cold_start: false, model_load_ms: null,
    received_at: T0, dequeued_at: T0 + 100, inference_start_at: T0 + 150, inference_end_at: T0 + 1150,
    completed_at: T0 + 1200, text_encode_ms: null, denoise_ms: null, vae_decode_ms: null, safety_ms: null,
    upload_ms: null, status: 'ok', error_type: null, error_message: null, http_status: 200, peak_gpu_mem_mb: null,
    ...over,
  } as RequestEvent
}

describe('windows', () => {
  it('assigns event time to tumbling windows', () => {
    expect(windowStartSec(T0 + 9_999, 10)).toBe(T0 / 1000)
    expect(windowStartSec(T0 + 10_000, 10)).toBe(T0 / 1000 + 10)
  })

  it('calls an event late only when it reached Kafka after window end + allowed lateness', () => {
    const w = { windowSeconds: 10, allowedLatenessMs: 5_000, aggVersion: 1 }
    expect(isLate(T0 + 1, T0 + 15_000, w)).toBe(false)
    expect(isLate(T0 + 1, T0 + 15_001, w)).toBe(true)
  })
})

describe('RequestWindowAggregator', () => {
  it('counts requests, successes, images, errors by type, late events and latency sums per window and dimensions', () => {
    const agg = new RequestWindowAggregator({ windowSeconds: 10, allowedLatenessMs: 0, aggVersion: 7 })
    agg.add(req({ images: 2 }), T0 + 1_300)
    agg.add(req({ status: 'error', error_type: 'oom', images: 4, completed_at: T0 + 2_000 }), T0 + 2_100)
    agg.add(req({ status: 'error', error_type: 'queue_timeout', dequeued_at: null, inference_start_at: null, inference_end_at: null, completed_at: T0 + 3_000 }), T0 + 60_000)
    agg.add(req({ model: 'flux' }), T0 + 1_300)
    agg.add(req({ completed_at: T0 + 10_000 }), T0 + 10_100)
    const rows = agg.drain()
    expect(rows).toHaveLength(3)
    const sdxl = rows.find((r) => r.model === 'sdxl' && r.window_start === T0 / 1000)!
    expect(sdxl).toMatchObject({
      requests: 3, successes: 1, images: 2, errors: 2, err_oom: 1, err_queue_timeout: 1, err_timeout: 0,
      late_events: 1, e2e_ms_sum: 1_200 + 2_000 + 3_000, e2e_ms_max: 3_000,
      queue_ms_sum: 200, inference_ms_sum: 2_000, queue_ms_count: 2, inference_ms_count: 2, agg_version: 7, window_seconds: 10,
    })
    expect(rows.find((r) => r.model === 'flux')).toMatchObject({ requests: 1, successes: 1 })
    expect(rows.find((r) => r.window_start === T0 / 1000 + 10)).toMatchObject({ requests: 1 })
    expect(agg.drain()).toEqual([])
  })
})

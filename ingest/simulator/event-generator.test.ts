import { describe, expect, it } from 'vitest'
import { createFleetSimulator } from './event-generator.ts'
import { eventTime } from './realtime.ts'
import { collect, T0 } from './test-helpers.ts'

describe('createFleetSimulator: determinism', () => {
  const window = { startMs: T0, durationMs: 10 * 60_000 }

  it('gives identical events for the same seed, also across simulator instances and calls', () => {
    const a = createFleetSimulator({ seed: 42, requestRate: 2 })
    const b = createFleetSimulator({ seed: 42, requestRate: 2 })
    const first = JSON.stringify([...a.generate(window)])
    expect(JSON.stringify([...b.generate(window)])).toBe(first)
    expect(JSON.stringify([...a.generate(window)])).toBe(first)
  })

  it('gives different events (ids, GPU uuids, request mix) for another seed', () => {
    const a = collect(createFleetSimulator({ seed: 1, requestRate: 2 }).generate(window))
    const b = collect(createFleetSimulator({ seed: 2, requestRate: 2 }).generate(window))
    const idsA = new Set(a.requests.map((r) => r.event_id))
    expect(b.requests.some((r) => idsA.has(r.event_id))).toBe(false)
    const uuidsA = new Set(a.samples.map((s) => s.gpu_uuid))
    expect(b.samples.some((s) => uuidsA.has(s.gpu_uuid))).toBe(false)
    expect(a.requests.map((r) => r.completed_at)).not.toEqual(b.requests.map((r) => r.completed_at))
  })
})

describe('createFleetSimulator: the window and the order', () => {
  const sim = createFleetSimulator({ seed: 7, requestRate: 2.5 })
  const durationMs = 30 * 60_000
  const { events, requests, samples } = collect(sim.generate({ startMs: T0, durationMs }))

  it('emits events in non-decreasing event time, all inside [start, start + duration)', () => {
    for (let i = 1; i < events.length; i++) {
      expect(eventTime(events[i]!)).toBeGreaterThanOrEqual(eventTime(events[i - 1]!))
    }
    expect(eventTime(events[0]!)).toBeGreaterThanOrEqual(T0)
    expect(eventTime(events.at(-1)!)).toBeLessThan(T0 + durationMs)
  })

  it('samples every GPU exactly once per interval, at start + k * interval', () => {
    const perGpu = new Map<string, number[]>()
    for (const s of samples) perGpu.set(s.gpu_uuid, [...(perGpu.get(s.gpu_uuid) ?? []), s.sampled_at])
    expect(perGpu.size).toBe(8)
    for (const times of perGpu.values()) {
      expect(times).toEqual(Array.from({ length: durationMs / 1000 }, (_, k) => T0 + k * 1000))
    }
  })

  it('keys requests by worker id and samples by GPU uuid', () => {
    for (const e of events) expect(e.key).toBe(e.kind === 'request-event' ? e.value.worker_id : e.value.gpu_uuid)
  })

  it('produces about requestRate x duration requests (Poisson, 5 sigma), minus those still in flight', () => {
    const expected = sim.config.requestRate * (durationMs / 1000)
    expect(Math.abs(requests.length - expected)).toBeLessThan(5 * Math.sqrt(expected) + 20)
  })
})

describe('createFleetSimulator: warm-up', () => {
  it('emits with warm-up exactly the tail of a run started warm-up earlier', () => {
    const sim = createFleetSimulator({ seed: 5, requestRate: 2.5 })
    const warm = [...sim.generate({ startMs: T0, durationMs: 5 * 60_000, warmupMs: 120_000 })]
    const longer = [...sim.generate({ startMs: T0 - 120_000, durationMs: 7 * 60_000 })].filter((e) => eventTime(e) >= T0)
    expect(warm).toEqual(longer)
  })

  it('opens the window in steady state: requests complete from the first seconds on', () => {
    const sim = createFleetSimulator({ seed: 5, requestRate: 2.5 })
    const cold = collect(sim.generate({ startMs: T0, durationMs: 10_000 })).requests.length
    const warm = collect(sim.generate({ startMs: T0, durationMs: 10_000, warmupMs: 60_000 })).requests
    expect(warm.length).toBeGreaterThan(cold)
    expect(warm.some((r) => r.received_at < T0)).toBe(true)
  })
})

describe('request events: timestamps and stages', () => {
  const sim = createFleetSimulator({ seed: 11, requestRate: createFleetSimulator().fleet.capacity * 1.3 })
  const { requests } = collect(sim.generate({ startMs: T0, durationMs: 2 * 3600_000 }))

  it('covers every outcome the model has', () => {
    const types = new Set(requests.map((r) => r.error_type))
    for (const t of [null, 'oom', 'timeout', 'queue_timeout', 'invalid_input', 'safety_blocked', 'model_error', 'upstream', 'cancelled']) {
      expect(types).toContain(t)
    }
  })

  /** Requests for which `bad` holds, as short descriptions; expected to be none. */
  const violations = (bad: (r: (typeof requests)[number]) => boolean) =>
    requests.filter(bad).map((r) => `${r.event_id} ${r.error_type ?? 'ok'}`)

  it('orders received <= dequeued <= inference start <= inference end <= completed, all integer ms', () => {
    expect(
      violations((r) => {
        const chain = [r.received_at, r.dequeued_at, r.inference_start_at, r.inference_end_at, r.completed_at].filter((t): t is number => t !== null)
        return chain.some((t, i) => !Number.isInteger(t) || (i > 0 && t < chain[i - 1]!))
      }),
    ).toEqual([])
  })

  it('makes inference time the rounded sum of the stages that ran, and completion follow the upload', () => {
    const called = requests.filter((r) => r.inference_start_at !== null)
    expect(called.length).toBeGreaterThan(1000)
    expect(
      violations((r) => {
        if (r.inference_start_at === null || r.inference_end_at === null) return r.inference_end_at !== r.inference_start_at
        const stages = (r.text_encode_ms ?? 0) + (r.denoise_ms ?? 0) + (r.vae_decode_ms ?? 0) + (r.safety_ms ?? 0)
        return (
          r.inference_end_at - r.inference_start_at !== Math.round(stages) ||
          (r.upload_ms !== null && r.completed_at - r.inference_end_at !== Math.round(r.upload_ms)) ||
          r.inference_start_at - r.dequeued_at! < Math.round(r.model_load_ms ?? 0)
        )
      }),
    ).toEqual([])
  })

  it('answers a queue timeout at received + queue timeout, without dequeue or inference', () => {
    const timedOut = requests.filter((r) => r.error_type === 'queue_timeout')
    expect(timedOut.length).toBeGreaterThan(0)
    for (const r of timedOut) {
      expect(r.completed_at - r.received_at).toBe(sim.config.queueTimeoutMs)
      expect([r.dequeued_at, r.inference_start_at, r.inference_end_at, r.peak_gpu_mem_mb]).toEqual([null, null, null, null])
      expect(r.http_status).toBe(503)
    }
  })

  it('keeps status, error type, message and HTTP status consistent', () => {
    expect(
      violations((r) =>
        r.status === 'ok'
          ? r.error_type !== null || r.error_message !== null || r.http_status !== 200 || r.upload_ms === null || r.safety_ms === null
          : r.error_type === null || !r.error_message || r.error_message.length > 512 || r.http_status === null || r.http_status < 400,
      ),
    ).toEqual([])
    expect(violations((r) => r.cold_start !== (r.model_load_ms !== null) || r.images < r.batch_size)).toEqual([])
  })

  it('serves each worker in arrival order, one inference at a time', () => {
    const byWorker = new Map<string, typeof requests>()
    for (const r of requests) byWorker.set(r.worker_id, [...(byWorker.get(r.worker_id) ?? []), r])
    const overlaps: string[] = []
    for (const list of byWorker.values()) {
      const served = list.filter((r) => r.dequeued_at !== null).sort((a, b) => a.received_at - b.received_at || a.dequeued_at! - b.dequeued_at!)
      served.forEach((r, i) => i > 0 && r.dequeued_at! < served[i - 1]!.dequeued_at! && overlaps.push(`dequeue ${r.event_id}`))
      const calls = served.filter((r) => r.inference_start_at !== null)
      calls.forEach((r, i) => i > 0 && r.inference_start_at! < calls[i - 1]!.inference_end_at! && overlaps.push(`inference ${r.event_id}`))
    }
    expect(overlaps).toEqual([])
  })
})

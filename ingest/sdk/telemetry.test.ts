import { describe, expect, it } from 'vitest'
import { createCodec } from '../../schemas/codec.ts'
import { sampleGpuSample, sampleRequestEvent } from '../../schemas/test-fixtures.ts'
import { topicSet } from '../../schemas/topics.ts'
import { createTelemetry, type TelemetryOptions } from './telemetry.ts'
import { FakeTransport } from './test-transport.ts'

const codec = createCodec()
const event = (i: number) => ({ ...sampleRequestEvent(), event_id: `ev-${i}`, worker_id: `w-${i % 3}` })
const idsOf = (t: FakeTransport): string[] =>
  t.delivered.map((r) => {
    const d = codec.decode(r.value)
    if (!d.ok || d.kind !== 'request-event') throw new Error('undecodable')
    return d.value.event_id
  })
const ids = (from: number, to: number): string[] => Array.from({ length: to - from }, (_, k) => `ev-${from + k}`)

function telemetry(transport: FakeTransport, options: Partial<TelemetryOptions> = {}) {
  return createTelemetry({ brokers: [], transport, codec, lingerMs: 5, initialBackoffMs: 5, maxBackoffMs: 20, ...options })
}

describe('worker SDK buffering', () => {
  it('a full buffer drops exactly the records beyond its size, and keeps the older ones in order', async () => {
    const transport = new FakeTransport()
    transport.up = false
    const t = telemetry(transport, { bufferSize: 5 })
    const results = Array.from({ length: 8 }, (_, i) => t.recordRequest(event(i)))
    expect(results).toEqual([true, true, true, true, true, false, false, false])
    expect(t.counters()).toMatchObject({ sent: 0, dropped: 3, buffered: 5 })
    await new Promise((r) => setTimeout(r, 40))
    expect(t.counters().errors).toBe(transport.attempts) // every failed attempt counted once
    transport.up = true
    expect(await t.flush(2000)).toBe(true)
    expect(idsOf(transport)).toEqual(ids(0, 5))
    expect(await t.close()).toEqual({ sent: 5, dropped: 3, rejected: 0, buffered: 0, errors: transport.attempts - transport.batches.length })
  })

  it('order survives failed sends: batches are retried from the front', async () => {
    const transport = new FakeTransport()
    transport.failNext = 2
    const t = telemetry(transport, { batchSize: 2 })
    for (let i = 0; i < 7; i++) t.recordRequest(event(i))
    expect(await t.flush(2000)).toBe(true)
    expect(idsOf(transport)).toEqual(ids(0, 7))
    expect(transport.batches).toEqual([2, 2, 2, 1])
    expect(t.counters()).toEqual({ sent: 7, dropped: 0, rejected: 0, buffered: 0, errors: 2 })
  })

  it('a failed batch is retried as the same array, nothing added, before newer records', async () => {
    const transport = new FakeTransport()
    transport.up = false
    const t = telemetry(transport, { batchSize: 10 })
    const attempts = async (n: number): Promise<void> => {
      while (transport.attempts < n) await new Promise((r) => setTimeout(r, 1))
    }
    for (let i = 0; i < 3; i++) t.recordRequest(event(i))
    await attempts(1) // the partial batch of 3 left after its linger, and failed
    for (let i = 3; i < 6; i++) t.recordRequest(event(i))
    await attempts(3)
    transport.up = true
    expect(await t.flush(2000)).toBe(true)
    // The transport recognises a retry by identity: only then may it resend under the same producer id.
    expect(transport.given[0]).toBe(transport.given[1])
    expect(transport.given[1]).toBe(transport.given[3])
    expect(transport.given[3]).toHaveLength(3)
    expect(transport.batches).toEqual([3, 3])
    expect(idsOf(transport)).toEqual(ids(0, 6))
  })

  it('close() flushes what waits for its linger, then closes the transport', async () => {
    const transport = new FakeTransport()
    const t = telemetry(transport, { lingerMs: 60_000 })
    for (let i = 0; i < 3; i++) t.recordRequest(event(i))
    expect(transport.delivered).toHaveLength(0)
    const counters = await t.close()
    expect(idsOf(transport)).toEqual(ids(0, 3))
    expect(transport.closed).toBe(true)
    expect(counters).toEqual({ sent: 3, dropped: 0, rejected: 0, buffered: 0, errors: 0 })
    expect(t.recordRequest(event(9))).toBe(false) // after close: counted, not sent
    expect(t.counters().dropped).toBe(1)
  })

  it('close() with Kafka down gives up after its timeout and counts the rest as dropped', async () => {
    const transport = new FakeTransport()
    transport.up = false
    const t = telemetry(transport)
    for (let i = 0; i < 4; i++) t.recordRequest(event(i))
    const counters = await t.close(50)
    expect(counters).toMatchObject({ sent: 0, dropped: 4, rejected: 0, buffered: 0 })
  })

  it('an invalid event is rejected and counted, never thrown into the worker', async () => {
    const errors: unknown[] = []
    const transport = new FakeTransport()
    const t = telemetry(transport, { onError: (e) => errors.push(e) })
    expect(t.recordRequest({ ...event(1), steps: 'thirty' as unknown as number })).toBe(false)
    expect(t.recordGpuSample(sampleGpuSample())).toBe(true)
    await t.flush(1000)
    expect(t.counters()).toEqual({ sent: 1, dropped: 0, rejected: 1, buffered: 0, errors: 0 })
    expect((errors[0] as { code: string }).code).toBe('SCH_INVALID_VALUE')
    expect(transport.delivered.map((r) => [r.topic, r.key])).toEqual([[topicSet().gpuSamples, sampleGpuSample().gpu_uuid]])
  })
})

describe('request timer', () => {
  it('fills marks, stages and outcome; a second finish is ignored', async () => {
    const transport = new FakeTransport()
    const t = telemetry(transport, { topicPrefix: 'p-' })
    const base = sampleRequestEvent()
    // lora_adapters and queue_depth are left out, so the encoder writes their defaults; seed and
    // precision come with the failure, as extras known only at the end.
    const { event_id, received_at, dequeued_at, inference_start_at, inference_end_at, completed_at, status, error_type, error_message, lora_adapters, queue_depth, seed, precision, ...start } = base
    const before = Date.now()
    const timer = t.startRequest({ ...start, received_at: 1_767_225_600_000 })
    timer.mark('dequeued', 1_767_225_600_010)
    timer.mark('inferenceStart')
    timer.stage('denoise', 812.5)
    const end = timer.startStage('vae_decode')
    end()
    timer.mark('inferenceEnd')
    expect(timer.fail('oom', 'x'.repeat(600), { http_status: 507, seed, precision })).toBe(true)
    expect(timer.complete()).toBe(false)
    await t.flush(1000)
    expect(transport.delivered.map((r) => r.topic)).toEqual(['p-diffwatch.requests.v1'])
    const d = codec.decode(transport.delivered[0]!.value)
    if (!d.ok || d.kind !== 'request-event') throw new Error('undecodable')
    const v = d.value
    expect(v.event_id).toMatch(/^[0-9a-f-]{36}$/)
    expect([v.received_at, v.dequeued_at, v.denoise_ms, v.status, v.error_type, v.error_message?.length, v.http_status]).toEqual([
      1_767_225_600_000, 1_767_225_600_010, 812.5, 'error', 'oom', 512, 507,
    ])
    expect(v.inference_start_at).toBeGreaterThanOrEqual(before)
    expect(v.completed_at).toBeGreaterThanOrEqual(v.inference_end_at ?? Infinity)
    expect(v.vae_decode_ms).toBeGreaterThanOrEqual(0)
    expect([v.lora_adapters, v.queue_depth, v.seed, v.precision]).toEqual([[], null, 1234567890123, 'fp16'])
  })
})

describe('worker SDK: events finished through a timer', () => {
  const start = (i: number) => {
    const { event_id: _id, received_at: _r, dequeued_at: _d, inference_start_at: _s, inference_end_at: _e, completed_at: _c, status: _st, error_type: _et, error_message: _em, text_encode_ms: _t, denoise_ms: _dn, vae_decode_ms: _v, safety_ms: _sf, upload_ms: _u, ...rest } = sampleRequestEvent()
    return { ...rest, event_id: `ev-${i}` }
  }

  it('are encoded after the caller returns, count against the buffer bound meanwhile, and arrive in order', async () => {
    const transport = new FakeTransport()
    transport.up = false
    const t = telemetry(transport, { bufferSize: 4 })
    const accepted = Array.from({ length: 6 }, (_, i) => t.startRequest(start(i)).complete({ http_status: 200 }))
    expect(accepted).toEqual([true, true, true, true, false, false])
    expect(t.counters()).toMatchObject({ buffered: 4, dropped: 2, rejected: 0 })
    transport.up = true
    expect(await t.flush(2000)).toBe(true)
    expect(idsOf(transport)).toEqual(ids(0, 4))
    expect(await t.close()).toMatchObject({ sent: 4, dropped: 2, rejected: 0, buffered: 0 })
  })

  it('an invalid timed event is counted as rejected once encoded, and reported', async () => {
    const transport = new FakeTransport()
    const errors: unknown[] = []
    const t = telemetry(transport, { onError: (e) => errors.push(e) })
    expect(t.startRequest({ ...start(1), steps: -3 as unknown as number, width: 1.5 as unknown as number }).complete()).toBe(true)
    expect(t.startRequest(start(2)).complete()).toBe(true)
    await new Promise((r) => setImmediate(r))
    expect(t.counters()).toMatchObject({ rejected: 1 })
    expect(errors).toHaveLength(1)
    expect(await t.close()).toMatchObject({ sent: 1, rejected: 1, dropped: 0, buffered: 0 })
    expect(idsOf(transport)).toEqual(['ev-2'])
  })

  it('close() right after complete() still sends the event (admitted before close)', async () => {
    const transport = new FakeTransport()
    const t = telemetry(transport, { lingerMs: 60_000 })
    t.startRequest(start(7)).complete()
    expect(await t.close()).toMatchObject({ sent: 1, dropped: 0 })
    expect(idsOf(transport)).toEqual(['ev-7'])
  })
})

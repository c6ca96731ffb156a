import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCodec } from '../../schemas/codec.ts'
import { sampleGpuSample, sampleRequestEvent } from '../../schemas/test-fixtures.ts'
import { createTestTopics, kafkaBrokers, testKafka, type TestTopics } from '../../test/support/kafka.ts'
import { createTelemetry } from './telemetry.ts'
import { readTopic, topicMessageCount } from './test-read-topic.ts'

const codec = createCodec()
let topics: TestTopics
beforeAll(async () => {
  topics = await createTestTopics({ partitions: 2, prefix: 'sdk' })
})
afterAll(async () => topics?.cleanup())

describe('worker SDK against a real broker', () => {
  it('produces every recorded request and sample once, per-worker order kept', async () => {
    const t = createTelemetry({ brokers: kafkaBrokers(), topicPrefix: topics.prefix, batchSize: 50, lingerMs: 20 })
    const requests = 230
    const workers = ['w-a', 'w-b', 'w-c']
    for (let i = 0; i < requests; i++) {
      const timer = t.startRequest({ ...start(), request_id: `r-${i}`, event_id: `ev-${i}`, worker_id: workers[i % 3]!, seed: i })
      timer.mark('dequeued')
      if (i % 10 === 0) timer.fail('timeout', 'deadline exceeded')
      else timer.complete({ http_status: 200 })
    }
    for (let g = 0; g < 4; g++) t.recordGpuSample({ ...sampleGpuSample(), gpu_uuid: `GPU-${g}`, sampled_at: Date.now() })
    expect(await t.flush(30_000)).toBe(true)
    expect(await t.close()).toEqual({ sent: requests + 4, dropped: 0, rejected: 0, buffered: 0, errors: 0 })

    const kafka = testKafka()
    expect(await topicMessageCount(kafka, topics.topics.requests)).toBe(requests)
    expect(await topicMessageCount(kafka, topics.topics.gpuSamples)).toBe(4)
    const read = await readTopic(kafka, topics.topics.requests, requests)
    const decoded = read.map((m) => {
      const d = codec.decode(m.value)
      if (!d.ok || d.kind !== 'request-event') throw new Error('undecodable')
      expect(m.key).toBe(d.value.worker_id)
      return d.value
    })
    for (const w of workers) {
      const seen = decoded.filter((e) => e.worker_id === w).map((e) => Number(e.request_id.slice(2)))
      const expected = Array.from({ length: requests }, (_, i) => i).filter((i) => workers[i % 3] === w)
      expect(seen).toEqual(expected)
    }
    expect(decoded.filter((e) => e.status === 'error').length).toBe(Math.ceil(requests / 10))
    expect(decoded.map((e) => e.seed).sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual(Array.from({ length: requests }, (_, i) => i))
  })

  it('with Kafka unreachable it never blocks: drops beyond the buffer are counted exactly', async () => {
    const t = createTelemetry({ brokers: ['127.0.0.1:1'], bufferSize: 20, lingerMs: 5, initialBackoffMs: 50, maxBackoffMs: 200 })
    const t0 = performance.now()
    for (let i = 0; i < 50; i++) t.startRequest({ ...start(), request_id: `down-${i}` }).complete()
    expect(performance.now() - t0).toBeLessThan(1000) // recording did not wait for the network
    expect(t.counters()).toMatchObject({ sent: 0, dropped: 30, buffered: 20 })
    const counters = await t.close(300)
    expect(counters).toMatchObject({ sent: 0, dropped: 50, buffered: 0, rejected: 0 })
    expect(counters.errors).toBeGreaterThanOrEqual(1)
  })
})

function start() {
  const { event_id, received_at, dequeued_at, inference_start_at, inference_end_at, completed_at, status, error_type, error_message, ...rest } = sampleRequestEvent()
  return rest
}

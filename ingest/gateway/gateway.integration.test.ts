import { gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCodec } from '../../schemas/codec.ts'
import { sampleGpuSample, sampleRequestEventV1 } from '../../schemas/test-fixtures.ts'
import type { RequestEventInput } from '../../schemas/generated/types.ts'
import { createTestTopics, kafkaBrokers, testKafka, type TestTopics } from '../../test/support/kafka.ts'
import { createKafkaTransport, type Transport } from '../sdk/kafka-transport.ts'
import { readTopic, topicMessageCount } from '../sdk/test-read-topic.ts'
import { sha256Hex } from './api-keys.ts'
import { buildGateway } from './app.ts'

const KEY = 'dw-test-key-3f9a'
const codec = createCodec({ readerVersions: { 'request-event': 1 } }) // a v1-era client's encoder
const v2 = createCodec()
let topics: TestTopics
let transport: Transport
let app: ReturnType<typeof buildGateway>

function gateway(t: Transport) {
  return buildGateway({
    transport: t, codec: v2, topics: topics.topics, apiKeyHashes: [Buffer.from(sha256Hex(KEY), 'hex')],
    bodyLimitBytes: 64 * 1024, limits: { maxDecompressedBytes: 128 * 1024, maxRecords: 100 },
  })
}
const auth = { authorization: `Bearer ${KEY}` }
// events as a v1-era worker sends them (no v2 fields); record 3 below adds v2 fields itself
const ev = (i: number) => ({ ...sampleRequestEventV1(), event_id: `gw-${i}`, worker_id: `w-${i % 2}`, completed_at: Date.now() }) as unknown as RequestEventInput

beforeAll(async () => {
  topics = await createTestTopics({ partitions: 2, prefix: 'gw' })
  transport = createKafkaTransport({ brokers: kafkaBrokers(), clientId: 'gw-test', compression: 'gzip' })
  app = gateway(transport)
})
afterAll(async () => {
  await app?.close()
  await transport?.close()
  await topics?.cleanup()
})

describe('POST /v1/events against a real broker', () => {
  it('answers per record; good neighbours of bad records land in Kafka exactly once', async () => {
    const bad = { ...ev(2), steps: 'many' }
    const ndjson = [ev(1), bad, '{not json', { ...ev(3), lora_adapters: ['x'], seed: 5 }, { ...ev(4), colour: 'red' }]
      .map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n')
    const res = await app.inject({ method: 'POST', url: '/v1/events', headers: { ...auth, 'content-type': 'application/x-ndjson' }, payload: ndjson })
    expect(res.statusCode).toBe(207)
    const body = res.json() as { accepted: number; rejected: number; results: Array<{ index: number; status: string; code?: string; fields?: string[] }> }
    expect([body.accepted, body.rejected]).toEqual([2, 3])
    expect(body.results.map((r) => [r.index, r.status, r.code ?? null, r.fields ?? null])).toEqual([
      [0, 'accepted', null, null],
      [1, 'rejected', 'SCH_INVALID_VALUE', ['steps']],
      [2, 'rejected', 'ING_GW_BAD_JSON', null],
      [3, 'accepted', null, null],
      [4, 'rejected', 'SCH_INVALID_VALUE', ['colour']],
    ])

    // JSON array, gzip; and one Avro single-object event written by a v1-era encoder.
    const gz = gzipSync(JSON.stringify([ev(5), ev(6)]))
    const r2 = await app.inject({ method: 'POST', url: '/v1/events', headers: { ...auth, 'content-type': 'application/json', 'content-encoding': 'gzip' }, payload: gz })
    expect([r2.statusCode, r2.json().accepted]).toEqual([200, 2])
    const avroBytes = codec.encodeRequestEvent(ev(7))
    const r3 = await app.inject({ method: 'POST', url: '/v1/events', headers: { 'x-api-key': KEY, 'content-type': 'application/avro' }, payload: avroBytes })
    expect([r3.statusCode, r3.json().accepted]).toEqual([200, 1])
    const r4 = await app.inject({ method: 'POST', url: '/v1/events?kind=gpu-sample', headers: { ...auth, 'content-type': 'application/json' }, payload: { ...sampleGpuSample(), sampled_at: Date.now() } })
    expect([r4.statusCode, r4.json().accepted]).toEqual([200, 1])

    const kafka = testKafka()
    expect(await topicMessageCount(kafka, topics.topics.requests)).toBe(5)
    expect(await topicMessageCount(kafka, topics.topics.gpuSamples)).toBe(1)
    const read = await readTopic(kafka, topics.topics.requests, 5)
    const ids = read.map((m) => {
      const d = v2.decode(m.value)
      if (!d.ok || d.kind !== 'request-event') throw new Error('undecodable')
      expect(m.key).toBe(d.value.worker_id)
      return `${d.value.event_id}:v${d.version}`
    })
    expect(ids.sort()).toEqual(['gw-1:v2', 'gw-3:v2', 'gw-5:v2', 'gw-6:v2', 'gw-7:v1'])
    expect(read.find((m) => m.value.equals(avroBytes))).toBeDefined() // Avro forwarded byte for byte
  })

  it('refuses missing or wrong keys, oversized and bomb bodies, before producing anything', async () => {
    const before = await topicMessageCount(testKafka(), topics.topics.requests)
    const post = (headers: Record<string, string>, payload: string | Buffer) => app.inject({ method: 'POST', url: '/v1/events', headers, payload })
    const codes = async (headers: Record<string, string>, payload: string | Buffer) => {
      const r = await post(headers, payload)
      return [r.statusCode, (r.json() as { code: string }).code, r.headers['content-type']]
    }
    const json = { 'content-type': 'application/json' }
    expect(await codes(json, JSON.stringify(ev(8)))).toEqual([401, 'ING_GW_UNAUTHORIZED', 'application/problem+json; charset=utf-8'])
    expect(await codes({ ...json, authorization: 'Bearer nope' }, JSON.stringify(ev(8)))).toEqual([401, 'ING_GW_UNAUTHORIZED', 'application/problem+json; charset=utf-8'])
    expect((await codes({ ...json, ...auth }, 'x'.repeat(70 * 1024))).slice(0, 2)).toEqual([413, 'ING_GW_TOO_LARGE'])
    const bomb = gzipSync(Buffer.alloc(1024 * 1024, 0x20)) // ~1 KB that inflates to 1 MiB
    expect((await codes({ ...json, ...auth, 'content-encoding': 'gzip' }, bomb)).slice(0, 2)).toEqual([413, 'ING_GW_TOO_LARGE'])
    expect((await codes({ ...json, ...auth }, '{"a":')).slice(0, 2)).toEqual([400, 'ING_GW_BAD_JSON'])
    expect(await topicMessageCount(testKafka(), topics.topics.requests)).toBe(before)
  })

  it('answers 503 with Retry-After and accepts nothing when Kafka is unreachable', async () => {
    const down = createKafkaTransport({ brokers: ['127.0.0.1:1'], clientId: 'gw-down', compression: 'none', requestTimeoutMs: 300 })
    const g = gateway(down)
    const r = await g.inject({ method: 'POST', url: '/v1/events', headers: { ...auth, 'content-type': 'application/json' }, payload: [ev(9), ev(10)] })
    expect([r.statusCode, r.headers['retry-after'], (r.json() as { code: string }).code]).toEqual([503, '5', 'ING_GW_KAFKA_UNAVAILABLE'])
    await g.close()
    await down.close()
  })
})

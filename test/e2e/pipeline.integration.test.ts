/**
 * The real path end to end: simulated Avro events and poison messages produced to a real Kafka
 * broker, the transformer consuming them as a consumer group into embedded ClickHouse, and the
 * query API answering from what landed. Every expectation is computed here from the produced
 * events.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Producer } from 'kafkajs'
import { createFleetSimulator } from '../../ingest/simulator/event-generator.ts'
import { buildApi } from '../../query-api/app.ts'
import { createCodec } from '../../schemas/codec.ts'
import type { GpuSample, RequestEvent } from '../../schemas/generated/types.ts'
import { DLQ_HEADERS } from '../../schemas/topics.ts'
import { windowStartSec } from '../../transform/window-aggregator.ts'
import { testKafka, waitForCommitted } from '../support/kafka.ts'
import { createPipelineHarness, type PipelineHarness } from '../support/pipeline.ts'

const WINDOW_S = 10
const LATENESS_MS = 30_000
const codec = createCodec()

type Produced = { requests: RequestEvent[]; samples: GpuSample[]; lateRequests: number; poison: number }

/** Produces the simulator's events (with explicit Kafka timestamps) plus a known poison mix. */
async function produceFleet(producer: Producer, h: PipelineHarness, startMs: number): Promise<Produced> {
  const sim = createFleetSimulator({ seed: 42, requestRate: 30, hosts: 2, gpusPerHost: 2 })
  const out: Produced = { requests: [], samples: [], lateRequests: 0, poison: 0 }
  const reqMsgs: { key: string; value: Buffer; timestamp: string }[] = []
  const gpuMsgs: { key: string; value: Buffer; timestamp: string }[] = []
  let i = 0
  for (const ev of sim.generate({ startMs, durationMs: 120_000 })) {
    i += 1
    if (ev.kind === 'request-event') {
      // every 50th request reaches Kafka 2 minutes after it completed: late for its window
      const late = i % 50 === 0
      const ts = ev.value.completed_at + (late ? 120_000 : 500)
      const windowEnd = (windowStartSec(ev.value.completed_at, WINDOW_S) + WINDOW_S) * 1000
      if (ts > windowEnd + LATENESS_MS) out.lateRequests += 1
      out.requests.push(ev.value)
      reqMsgs.push({ key: ev.key, value: codec.encodeRequestEvent(ev.value), timestamp: String(ts) })
    } else {
      out.samples.push(ev.value)
      gpuMsgs.push({ key: ev.key, value: codec.encodeGpuSample(ev.value), timestamp: String(ev.value.sampled_at + 200) })
    }
  }
  const good = reqMsgs[0]!
  const poison = [
    Buffer.from('{"not":"avro"}'),
    good.value.subarray(0, 6),
    Buffer.concat([Buffer.from([0xc3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8]), good.value.subarray(10)]),
    good.value.subarray(0, good.value.length - 3),
    codec.encodeRequestEvent({ ...out.requests[0]!, event_id: 'bad-order', completed_at: out.requests[0]!.received_at - 1 }),
    codec.encodeGpuSample(out.samples[0]!), // a GPU sample on the requests topic
  ]
  for (const [n, value] of poison.entries()) reqMsgs.splice(100 * (n + 1), 0, { key: `poison-${n}`, value, timestamp: String(startMs + 60_000) })
  out.poison = poison.length
  for (let at = 0; at < reqMsgs.length; at += 1_000) await producer.send({ topic: h.kafka.topics.requests, acks: -1, messages: reqMsgs.slice(at, at + 1_000) })
  for (let at = 0; at < gpuMsgs.length; at += 1_000) await producer.send({ topic: h.kafka.topics.gpuSamples, acks: -1, messages: gpuMsgs.slice(at, at + 1_000) })
  return out
}

function expectedWindows(requests: RequestEvent[]): Map<string, { requests: number; successes: number; errors: number; oom: number; images: number }> {
  const m = new Map<string, { requests: number; successes: number; errors: number; oom: number; images: number }>()
  for (const e of requests) {
    const key = `${windowStartSec(e.completed_at, WINDOW_S)}|${e.model}`
    const w = m.get(key) ?? { requests: 0, successes: 0, errors: 0, oom: 0, images: 0 }
    w.requests += 1
    if (e.status === 'ok') { w.successes += 1; w.images += e.images } else w.errors += 1
    if (e.error_type === 'oom') w.oom += 1
    m.set(key, w)
  }
  return m
}

function exactRankBounds(sorted: number[], v: number): [number, number] {
  let below = 0
  let atOrBelow = 0
  for (const x of sorted) {
    if (x < v) below += 1
    if (x <= v) atOrBelow += 1
  }
  return [below / sorted.length, atOrBelow / sorted.length]
}

describe('pipeline: simulator → Kafka → transformer → ClickHouse → API', () => {
  let h: PipelineHarness
  let produced: Produced
  const startMs = Math.floor(Date.now() / 60_000) * 60_000 - 10 * 60_000

  beforeAll(async () => {
    h = await createPipelineHarness({ partitions: 3, env: { WINDOW_SECONDS: String(WINDOW_S), ALLOWED_LATENESS_SEC: String(LATENESS_MS / 1000) } })
    const producer = testKafka().producer()
    await producer.connect()
    produced = await produceFleet(producer, h, startMs)
    await producer.disconnect()
    await h.startTransformer()
    await waitForCommitted(h.kafka.admin, h.groupId, [h.kafka.topics.requests, h.kafka.topics.gpuSamples])
  })
  afterAll(async () => {
    await h?.close()
  })

  it('stores every valid event exactly once', async () => {
    expect(produced.requests.length).toBeGreaterThan(1_000)
    const [r] = await h.query<{ n: number; ids: number }>(`SELECT count() AS n, uniqExact(event_id) AS ids FROM ${h.database}.request_events`)
    expect(r).toEqual({ n: produced.requests.length, ids: produced.requests.length })
    const [g] = await h.query<{ n: number }>(`SELECT count() AS n FROM ${h.database}.gpu_samples`)
    expect(g!.n).toBe(produced.samples.length)
  })

  it('dead-letters every poison message with its original bytes and reason headers', async () => {
    const consumer = testKafka().consumer({ groupId: `${h.groupId}-dlq-reader` })
    await consumer.connect()
    await consumer.subscribe({ topic: h.kafka.topics.deadLetter, fromBeginning: true })
    const codes: string[] = []
    await new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          const header = (name: string) => message.headers?.[name]?.toString()
          expect(header(DLQ_HEADERS.sourceTopic)).toBe(h.kafka.topics.requests)
          expect(Number(header(DLQ_HEADERS.sourceOffset))).toBeGreaterThanOrEqual(0)
          expect(header(DLQ_HEADERS.reason)?.length).toBeGreaterThan(0)
          codes.push(header(DLQ_HEADERS.code) ?? '')
          if (codes.length === produced.poison) resolve()
        },
      })
    })
    await consumer.disconnect()
    expect(codes.sort()).toEqual(['SCH_BAD_MAGIC', 'SCH_TRUNCATED', 'SCH_UNDECODABLE', 'SCH_UNKNOWN_FINGERPRINT', 'SCH_WRONG_KIND', 'TRF_TIME_ORDER'].sort())
  })

  it('writes windowed counts equal to those computed from the produced events', async () => {
    const rows = await h.query<{ w: number; model: string; requests: number; successes: number; errors: number; oom: number; images: number }>(
      `SELECT toUnixTimestamp(window_start) AS w, model, sum(requests) AS requests, sum(successes) AS successes, sum(errors) AS errors,
              sum(err_oom) AS oom, sum(images) AS images
       FROM ${h.database}.request_windows GROUP BY w, model`,
    )
    const got = new Map(rows.map((r) => [`${r.w}|${r.model}`, { requests: r.requests, successes: r.successes, errors: r.errors, oom: r.oom, images: r.images }]))
    expect(got).toEqual(expectedWindows(produced.requests))
    const [late] = await h.query<{ late: number }>(`SELECT sum(late_events) AS late FROM ${h.database}.request_windows`)
    expect(late!.late).toBe(produced.lateRequests)
    const [gw] = await h.query<{ samples: number }>(`SELECT sum(samples) AS samples FROM ${h.database}.gpu_windows`)
    expect(gw!.samples).toBe(produced.samples.length)
  })

  it('answers latency percentiles per model within the t-digest error of the exact ones', async () => {
    const api = await buildApi({ clickhouse: h.clickhouse, database: h.database })
    const from = new Date(startMs - 60_000).toISOString()
    const to = new Date(startMs + 300_000).toISOString()
    const res = await api.inject({ method: 'GET', url: `/v1/latency/percentiles?from=${from}&to=${to}&groupBy=model&quantiles=0.5,0.95,0.99` })
    expect(res.statusCode).toBe(200)
    const body = res.json() as { groups: { group: string; count: number; percentiles: { quantile: number; value_ms: number }[] }[] }
    const byModel = new Map<string, number[]>()
    for (const e of produced.requests) if (e.status === 'ok') byModel.set(e.model, [...(byModel.get(e.model) ?? []), e.completed_at - e.received_at])
    expect(new Map(body.groups.map((g) => [g.group, g.count]))).toEqual(new Map([...byModel].map(([m, v]) => [m, v.length])))
    for (const g of body.groups) {
      const sorted = byModel.get(g.group)!.sort((a, b) => a - b)
      for (const p of g.percentiles) {
        // the value's exact rank range (Float32 storage: ±1e-6 relative) must hold the quantile
        // asked for, give or take the t-digest's documented 1 % rank error plus one value
        const lo = exactRankBounds(sorted, p.value_ms * (1 - 1e-6))[0]
        const hi = exactRankBounds(sorted, p.value_ms * (1 + 1e-6))[1]
        const slack = 0.01 + 1 / sorted.length
        expect(p.quantile).toBeGreaterThanOrEqual(lo - slack)
        expect(p.quantile).toBeLessThanOrEqual(hi + slack)
      }
    }
    const tp = await api.inject({ method: 'GET', url: `/v1/throughput?from=${from}&to=${to}&step=1m` })
    expect(tp.statusCode).toBe(200)
    const totals = (tp.json() as { totals: { requests: number; errors: number } }).totals
    expect(totals.requests).toBe(produced.requests.length)
    expect(totals.errors).toBe(produced.requests.filter((e) => e.status === 'error').length)
    await api.close()
  })
})

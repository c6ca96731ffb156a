/**
 * Event time against arrival time: out-of-order events, events later than the allowed lateness
 * (counted in their own window and as late), events from beyond FUTURE_TOLERANCE_SEC and
 * events with NaN or negative durations (dead-lettered with their codes). Every expectation is
 * computed here from the messages produced.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCodec } from '../../schemas/codec.ts'
import type { RequestEvent } from '../../schemas/generated/types.ts'
import { DLQ_HEADERS } from '../../schemas/topics.ts'
import { isLate } from '../../transform/window-aggregator.ts'
import { expectedRequestWindows, fleetTraffic, requestWindowMap, sendAll, storedWindowsSql, type KafkaMessage } from '../support/fleet-truth.ts'
import { testKafka, topicEndOffsets, waitForCommitted } from '../support/kafka.ts'
import { createPipelineHarness, type PipelineHarness } from '../support/pipeline.ts'

const WINDOW_S = 10
const LATENESS_S = 20
const FUTURE_S = 60
const codec = createCodec()

/** Deterministic shuffle (seeded LCG), so event time runs backwards within every chunk. */
function shuffled<T>(items: T[], seed: number): T[] {
  const out = [...items]
  let s = seed
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1_103_515_245 + 12_345) % 2_147_483_648
    const j = s % (i + 1)
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

describe('transformer: out-of-order, late, future and invalid events', () => {
  let h: PipelineHarness
  const startMs = Math.floor(Date.now() / 60_000) * 60_000 - 10 * 60_000
  const good: RequestEvent[] = []
  let late = 0
  let outOfOrder = 0
  const expectedCodes: string[] = []

  beforeAll(async () => {
    h = await createPipelineHarness({
      partitions: 2,
      env: { WINDOW_SECONDS: String(WINDOW_S), ALLOWED_LATENESS_SEC: String(LATENESS_S), FUTURE_TOLERANCE_SEC: String(FUTURE_S) },
    })
    const traffic = fleetTraffic({ seed: 11, startMs, durationMs: 120_000 })
    const messages: KafkaMessage[] = []
    for (const [i, e] of traffic.requests.entries()) {
      if (i % 40 === 7) {
        // stamped by Kafka 90 s before it completed: from the future, beyond the tolerance
        messages.push({ key: e.worker_id, value: codec.encodeRequestEvent(e), timestamp: String(e.completed_at - (FUTURE_S + 30) * 1000) })
        expectedCodes.push('TRF_FUTURE_EVENT')
      } else if (i % 40 === 13) {
        messages.push({ key: e.worker_id, value: codec.encodeRequestEvent({ ...e, denoise_ms: -5 }), timestamp: String(e.completed_at + 500) })
        expectedCodes.push('TRF_OUT_OF_RANGE')
      } else if (i % 40 === 21) {
        messages.push({ key: e.worker_id, value: codec.encodeRequestEvent({ ...e, denoise_ms: Number.NaN }), timestamp: String(e.completed_at + 500) })
        expectedCodes.push('TRF_INVALID_NUMBER')
      } else {
        // every 9th arrives two minutes after it completed: late for its window
        const ts = e.completed_at + (i % 9 === 0 ? 120_000 : 500)
        if (isLate(e.completed_at, ts, { windowSeconds: WINDOW_S, allowedLatenessMs: LATENESS_S * 1000, aggVersion: 1 })) late += 1
        good.push(e)
        messages.push({ key: e.worker_id, value: codec.encodeRequestEvent(e), timestamp: String(ts) })
      }
    }
    const sent = shuffled(messages, 5)
    // how often event time goes backwards from one message to the next, in produce order
    const times = sent.map((m) => (codec.decode(m.value) as { ok: true; value: RequestEvent }).value.completed_at)
    for (let i = 1; i < times.length; i++) if (times[i]! < times[i - 1]!) outOfOrder += 1
    const producer = testKafka().producer()
    await producer.connect()
    await sendAll(producer, h.kafka.topics.requests, sent)
    await producer.disconnect()
    await h.startTransformer()
    await waitForCommitted(h.kafka.admin, h.groupId, [h.kafka.topics.requests])
  })
  afterAll(async () => {
    await h?.close()
  })

  it('produces a stream that really is out of order, with late events and every bad kind', () => {
    expect(outOfOrder).toBeGreaterThan(good.length / 4)
    expect(late).toBeGreaterThan(10)
    expect(new Set(expectedCodes)).toEqual(new Set(['TRF_FUTURE_EVENT', 'TRF_OUT_OF_RANGE', 'TRF_INVALID_NUMBER']))
  })

  it('counts every good event once, in its own event-time window, and the late ones as late', async () => {
    const [r] = await h.query<{ n: number; ids: number }>(`SELECT count() AS n, uniqExact(event_id) AS ids FROM ${h.database}.request_events`)
    expect(r).toEqual({ n: good.length, ids: good.length })
    expect(requestWindowMap(await h.query(storedWindowsSql(h.database).requests))).toEqual(expectedRequestWindows(good, WINDOW_S))
    const [l] = await h.query<{ late: number }>(`SELECT sum(late_events) AS late FROM ${h.database}.request_windows`)
    expect(l!.late).toBe(late)
  })

  it('dead-letters future, negative-duration and NaN events with their codes', async () => {
    const consumer = testKafka().consumer({ groupId: `${h.groupId}-dlq-reader` })
    await consumer.connect()
    await consumer.subscribe({ topic: h.kafka.topics.deadLetter, fromBeginning: true })
    const codes: string[] = []
    await new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          codes.push(message.headers?.[DLQ_HEADERS.code]?.toString() ?? '')
          if (codes.length === expectedCodes.length) resolve()
        },
      })
    })
    await consumer.disconnect()
    expect(codes.sort()).toEqual([...expectedCodes].sort())
    // nothing beyond them: the topic holds exactly that many records
    expect([...(await topicEndOffsets(h.kafka.admin, h.kafka.topics.deadLetter)).values()].reduce((a, b) => a + b, 0)).toBe(expectedCodes.length)
  })
})

/**
 * Transient failures: ClickHouse refusing inserts for a while (injected at the client boundary,
 * since embedded ClickHouse lives in this process) and the Kafka broker restarting mid-stream.
 * In both, consumption pauses, retries, and resumes by itself; nothing is dead-lettered, lost or
 * duplicated. Expectations come from the produced events.
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Producer } from 'kafkajs'
import { createRowSink } from '../../transform/row-sink.ts'
import type { Transformer } from '../../transform/transformer.ts'
import { expectedRequestWindows, fleetTraffic, requestWindowMap, sendAll, storedWindowsSql, type FleetTraffic } from '../support/fleet-truth.ts'
import { faultySink } from '../support/faulty-sink.ts'
import { committedOffsets, kafkaBrokers, testKafka, topicEndOffsets, waitForCommitted } from '../support/kafka.ts'
import { createPipelineHarness, type PipelineHarness } from '../support/pipeline.ts'

const WINDOW_S = 10
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const startMs = Math.floor(Date.now() / 60_000) * 60_000 - 10 * 60_000

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

const sum = (m: Map<number, number>) => [...m.values()].reduce((a, b) => a + Math.max(0, b), 0)

async function expectExactlyOnce(h: PipelineHarness, traffic: FleetTraffic): Promise<void> {
  const [r] = await h.query<{ n: number; ids: number }>(`SELECT count() AS n, uniqExact(event_id) AS ids FROM ${h.database}.request_events`)
  expect(r).toEqual({ n: traffic.requests.length, ids: traffic.requests.length })
  expect(requestWindowMap(await h.query(storedWindowsSql(h.database).requests))).toEqual(expectedRequestWindows(traffic.requests, WINDOW_S))
}

// The suite's own broker can be restarted only when global-setup started it (scripts/kafka.sh).
const port = Number(kafkaBrokers()[0]!.split(':')[1])
const ownBroker = existsSync(path.join(root, `.cache/kafka/test-run-${port}.lock`))

function kafkaScript(command: 'stop' | 'start'): void {
  const { KAFKA_BROKERS: _external, ...env } = process.env
  execFileSync('bash', [path.join(root, 'scripts/kafka.sh'), command], { env: { ...env, KAFKA_PORT: String(port) }, stdio: 'inherit', cwd: root })
}

/**
 * One harness for the file (embedded ClickHouse takes one folder per process), one transformer
 * through all three faults; each step adds fresh events and the expectation grows with them.
 */
describe('transformer: transient failures', () => {
  let h: PipelineHarness
  let producer: Producer
  let t: Transformer
  const sink = { current: null as ReturnType<typeof faultySink> | null }
  const all: FleetTraffic = { requests: [], samples: [], requestMessages: [], sampleMessages: [] }
  const add = (seed: number) => {
    const traffic = fleetTraffic({ seed, startMs: startMs + seed * 1_000, durationMs: 80_000 })
    all.requests.push(...traffic.requests)
    return traffic.requestMessages
  }

  beforeAll(async () => {
    h = await createPipelineHarness({ partitions: 3, env: { WINDOW_SECONDS: String(WINDOW_S), RETRY_INITIAL_MS: '50', RETRY_MAX_MS: '400', READY_STALL_MS: '1000', SESSION_TIMEOUT_MS: '6000', HEARTBEAT_INTERVAL_MS: '500' } })
    // Idempotent: a retry across the broker restart must not write an event twice into the topic.
    producer = testKafka().producer({ idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    sink.current = faultySink(createRowSink(h.clickhouse))
    t = await h.startTransformer({}, { sink: sink.current })
  })
  afterAll(async () => {
    await producer?.disconnect()
    await h?.close()
  })

  it('ClickHouse refusing inserts: pauses, retries and resumes by itself; nothing dead-lettered, lost or duplicated', async () => {
    const s = sink.current!
    const topic = h.kafka.topics.requests
    const first = add(1)
    await sendAll(producer, topic, first)
    await waitForCommitted(h.kafka.admin, h.groupId, [topic])

    s.start()
    const second = add(2)
    await sendAll(producer, topic, second)
    await s.firstRefusal
    const before = sum(await committedOffsets(h.kafka.admin, h.groupId, topic))
    await new Promise((r) => setTimeout(r, 1_500))
    // paused: no commit moved during the outage, while the topic holds more
    expect(sum(await committedOffsets(h.kafka.admin, h.groupId, topic))).toBe(before)
    expect(sum(await topicEndOffsets(h.kafka.admin, topic))).toBe(first.length + second.length)
    expect(before).toBeLessThan(first.length + second.length)
    expect(s.refused).toBeGreaterThan(2)
    // readiness follows progress: every connection is up, but nothing moves while there is lag
    await until(() => !t.ready(), 15_000, 'readiness to fail during the outage')
    s.end()

    await waitForCommitted(h.kafka.admin, h.groupId, [topic])
    await until(() => t.ready(), 10_000, 'readiness to return after the outage')
    await expectExactlyOnce(h, all)
    expect(t.stats.deadLetters).toBe(0)
    // every refusal was retried (and nothing else needed a retry)
    expect(t.stats.retries).toBe(s.refused)
  })

  it.skipIf(!ownBroker)('the broker restarting mid-stream: survived, every event exactly once', async () => {
    const topic = h.kafka.topics.requests
    await sendAll(producer, topic, add(3))
    kafkaScript('stop') // mid-stream: these events are being consumed
    await new Promise((r) => setTimeout(r, 2_000))
    kafkaScript('start')
    await sendAll(producer, topic, add(4))
    await waitForCommitted(h.kafka.admin, h.groupId, [topic])
    // The topic holds each event once (the producer is idempotent): any duplicate below is the transformer's.
    expect(sum(await topicEndOffsets(h.kafka.admin, topic))).toBe(all.requests.length)
    await expectExactlyOnce(h, all)
    expect(t.stats.deadLetters).toBe(0)
  })

  it('an insert longer than the session timeout does not get the member expelled (heartbeats during work)', async () => {
    const topic = h.kafka.topics.requests
    await waitForCommitted(h.kafka.admin, h.groupId, [topic])
    const joins = t.stats.groupJoins
    sink.current!.slowNext(8_000) // SESSION_TIMEOUT_MS is 6000
    await sendAll(producer, topic, add(5))
    await waitForCommitted(h.kafka.admin, h.groupId, [topic])
    expect(t.stats.groupJoins).toBe(joins)
    await expectExactlyOnce(h, all)
  })
})

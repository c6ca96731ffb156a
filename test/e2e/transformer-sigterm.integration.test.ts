/**
 * Graceful shutdown of a real `diffwatch transform` process: SIGTERM mid-stream stops intake,
 * flushes and commits the open chunks, then closes. With a flush interval far longer than the
 * test, only the shutdown can have committed the last chunks: so the group's committed offsets
 * must equal what the process reported it processed, and after a restart every event is stored
 * exactly once.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ClickHouseClient } from '@clickhouse/client'
import { openClickHouse } from '../../migrations/clickhouse.ts'
import { fleetTraffic, sendAll } from '../support/fleet-truth.ts'
import { committedOffsets, createTestTopics, kafkaBrokers, testKafka, uniqueName, waitForCommitted, type TestTopics } from '../support/kafka.ts'
import { spawnTransformer, type TransformerProcess } from '../support/transformer-process.ts'

async function waitFor(p: TransformerProcess, needle: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!p.logTail(200).includes(needle)) {
    if (Date.now() > deadline || p.child.exitCode !== null) throw new Error(`no "${needle}" from the transformer:\n${p.logTail()}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

/** The stats the process logged in its last line, "transformer stopped". */
function stoppedStats(p: TransformerProcess): { eventsProcessed: number; committed: Record<string, number> } {
  const line = p.logTail(200).split('\n').reverse().find((l) => l.includes('"transformer stopped"'))
  if (!line) throw new Error(`the transformer did not log its stop:\n${p.logTail()}`)
  return JSON.parse(line) as { eventsProcessed: number; committed: Record<string, number> }
}

describe('transformer: SIGTERM mid-stream', () => {
  const dataPath = mkdtempSync(join(tmpdir(), 'dw-sigterm-'))
  const database = uniqueName('dw_sigterm').replace('-', '_')
  const groupId = uniqueName('sigterm')
  const traffic = fleetTraffic({ seed: 9, startMs: Math.floor(Date.now() / 60_000) * 60_000 - 10 * 60_000, durationMs: 120_000 })
  let topics: TestTopics
  let clickhouse: ClickHouseClient | null = null
  let firstRun: { eventsProcessed: number; committed: Record<string, number> }
  let committedAfterStop = 0
  let exitCode = ''

  beforeAll(async () => {
    topics = await createTestTopics({ partitions: 3, prefix: 'sigterm' })
    const env = {
      KAFKA_BROKERS: kafkaBrokers().join(','), TOPIC_PREFIX: topics.prefix, TRANSFORM_GROUP_ID: groupId,
      CLICKHOUSE_DATA_PATH: dataPath, CLICKHOUSE_DATABASE: database,
      CHUNK_MAX_EVENTS: '400', FLUSH_INTERVAL_MS: '600000', TRANSFORM_HTTP_PORT: '0',
    }
    const producer = testKafka().producer()
    await producer.connect()
    const first = spawnTransformer(env)
    await waitFor(first, 'joined consumer group')
    const topic = topics.topics.requests
    const sending = sendAll(producer, topic, traffic.requestMessages, 100, 300)
    await new Promise((r) => setTimeout(r, 2_000))
    exitCode = await first.kill('SIGTERM')
    firstRun = stoppedStats(first)
    const c = await committedOffsets(topics.admin, groupId, topic)
    committedAfterStop = [...c.values()].reduce((a, b) => a + Math.max(0, b), 0)
    await sending
    await producer.disconnect()
    // the restart closes partly filled chunks at once: the last chunk of a partition never fills
    const second = spawnTransformer({ ...env, FLUSH_INTERVAL_MS: '200' })
    await waitFor(second, 'transformer started')
    await waitForCommitted(topics.admin, groupId, [topic], 60_000)
    await second.kill('SIGTERM')
    clickhouse = await openClickHouse({ dataPath, database })
  })
  afterAll(async () => {
    await clickhouse?.close()
    await topics?.cleanup()
    rmSync(dataPath, { recursive: true, force: true })
  })

  it('exits cleanly and has committed everything it processed (only the shutdown flush could)', () => {
    expect(exitCode).toBe('0')
    expect(firstRun.eventsProcessed).toBeGreaterThan(0)
    expect(firstRun.eventsProcessed).toBeLessThan(traffic.requestMessages.length)
    // one process from offset 0, no poison: every processed event is covered by the commits
    expect(committedAfterStop).toBe(firstRun.eventsProcessed)
    const reported = Object.entries(firstRun.committed).filter(([k]) => k.startsWith(topics.topics.requests))
    expect(reported.reduce((a, [, v]) => a + v, 0)).toBe(committedAfterStop)
  })

  it('loses and duplicates nothing after the restart', async () => {
    const rs = await clickhouse!.query({ query: `SELECT count() AS n, uniqExact(event_id) AS ids FROM ${database}.request_events`, format: 'JSONEachRow' })
    const [r] = await rs.json<{ n: number; ids: number }>()
    expect(r).toEqual({ n: traffic.requests.length, ids: traffic.requests.length })
  })
})

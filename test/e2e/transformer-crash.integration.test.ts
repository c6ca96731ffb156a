/**
 * Crash anywhere: a real `diffwatch transform` process is SIGKILLed at random moments while a
 * known stream flows into three partitions, restarted each time, and finally stopped with
 * SIGTERM once it has caught up. Only then (chdb locks its folder per process) does the test
 * open the embedded ClickHouse folder and compare what landed with the ground truth computed
 * from the produced events. A control run with TRANSFORM_INSERT_DEDUP=false must show
 * duplicates, proving the checks can fail.
 *
 * The kill moments come from a seeded generator; the seed is printed (CRASH_SEED reruns one).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ClickHouseClient } from '@clickhouse/client'
import { Rng } from '../../ingest/simulator/prng.ts'
import { openClickHouse } from '../../migrations/clickhouse.ts'
import { createTestTopics, kafkaBrokers, testKafka, uniqueName, waitForCommitted, type TestTopics } from '../support/kafka.ts'
import { expectedGpuWindows, expectedRequestWindows, fleetTraffic, gpuWindowMap, requestWindowMap, sendTraffic, storedWindowsSql, type FleetTraffic } from '../support/fleet-truth.ts'
import { spawnTransformer, type TransformerProcess } from '../support/transformer-process.ts'

const WINDOW_S = 10
const seed = Number(process.env.CRASH_SEED ?? Date.now() % 1_000_000)

/** Uniform [0, 1) from the simulator's seeded generator, so a failing kill schedule can be replayed. */
function rng(s: number): () => number {
  const r = new Rng(s)
  return () => r.next()
}

type Scenario = { name: string; dedup: boolean; kills: number; topics: TestTopics; database: string; groupId: string; traffic: FleetTraffic; killed: number }

async function waitForLine(p: TransformerProcess, needle: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (p.logTail(200).includes(needle)) return true
    if (p.child.exitCode !== null) return false
    await new Promise((r) => setTimeout(r, 25))
  }
  return false
}

/**
 * One scenario: produce the traffic while a child is killed `kills` times. Each kill of the
 * main run comes either at a random moment of start-up (1 in 4) or at a random moment within
 * 1.5 s of the child joining the group, while it is busy with the backlog.
 */
async function runScenario(s: Scenario, dataPath: string, random: () => number): Promise<void> {
  const env = {
    KAFKA_BROKERS: kafkaBrokers().join(','),
    TOPIC_PREFIX: s.topics.prefix,
    TRANSFORM_GROUP_ID: s.groupId,
    CLICKHOUSE_DATA_PATH: dataPath,
    CLICKHOUSE_DATABASE: s.database,
    CHUNK_MAX_EVENTS: '100',
    FLUSH_INTERVAL_MS: '100',
    WINDOW_SECONDS: String(WINDOW_S),
    SESSION_TIMEOUT_MS: '6000',
    HEARTBEAT_INTERVAL_MS: '500',
    TRANSFORM_HTTP_PORT: '0',
    TRANSFORM_INSERT_DEDUP: String(s.dedup),
    LOG_LEVEL: s.dedup ? 'info' : 'debug',
  }
  const producer = testKafka('crash-producer').producer()
  await producer.connect()
  // slices spread over roughly the time the kills take, so most kills hit a busy transformer;
  // the control run produces at once, so its few kills all land in a backlog
  const producing = sendTraffic(producer, s.topics.topics, s.traffic, 100, s.dedup ? s.kills * 250 : 0)
  const t0 = Date.now()
  for (let k = 0; k < s.kills; k++) {
    const p = spawnTransformer(env)
    if (!s.dedup) {
      // control run, aimed rather than random: killed the moment ClickHouse acknowledged an
      // insert whose chunk is not committed yet, the one moment a replay double-counts when
      // deduplication is off; a kill of the main run lands there only by chance
      p.killOn('"insert acknowledged"', 'SIGKILL')
      await Promise.race([p.exited, new Promise((r) => setTimeout(r, 30_000))])
    } else if (random() < 0.25) await new Promise((r) => setTimeout(r, random() * 2_500))
    else if (await waitForLine(p, 'joined consumer group', 30_000)) await new Promise((r) => setTimeout(r, random() * 1_500))
    const how = await p.kill('SIGKILL')
    console.log(`[crash] ${s.name}: kill ${k + 1} at ${Date.now() - t0} ms`)
    if (how === 'SIGKILL') s.killed += 1
    else throw new Error(`transformer exited by itself (${how}) before kill ${k + 1}:\n${p.logTail()}`)
  }
  await producing
  await producer.disconnect()
  const last = spawnTransformer(env)
  try {
    // SIGTERM must reach the signal handler, installed once the transformer runs
    if (!(await waitForLine(last, 'transformer started', 30_000))) throw new Error('the last transformer did not start')
    await waitForCommitted(s.topics.admin, s.groupId, [s.topics.topics.requests, s.topics.topics.gpuSamples], 60_000)
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${last.logTail()}`)
  }
  const how = await last.kill('SIGTERM')
  if (how !== '0') throw new Error(`SIGTERM did not end the transformer cleanly (${how}):\n${last.logTail()}`)
}

describe('transformer: SIGKILL at random moments, restarted each time', () => {
  const dataPath = mkdtempSync(join(tmpdir(), 'dw-crash-'))
  const startMs = Math.floor(Date.now() / 60_000) * 60_000 - 10 * 60_000
  const scenarios: Scenario[] = []
  let clickhouse: ClickHouseClient | null = null

  beforeAll(async () => {
    console.log(`[crash] kill schedule seed ${seed} (rerun with CRASH_SEED=${seed})`)
    const random = rng(seed)
    for (const [name, dedup, kills, durationMs] of [['dedup', true, 10, 120_000], ['no-dedup', false, 3, 80_000]] as const) {
      const s: Scenario = {
        name, dedup, kills, killed: 0,
        topics: await createTestTopics({ partitions: 3, prefix: `crash-${name}` }),
        database: uniqueName(`dw_crash_${name.replace('-', '')}`).replace('-', '_'),
        groupId: uniqueName(`crash-${name}`),
        traffic: fleetTraffic({ seed: 7, startMs, durationMs }),
      }
      scenarios.push(s)
      await runScenario(s, dataPath, random)
    }
    // Every child has exited: the folder's lock is free for this process now.
    clickhouse = await openClickHouse({ dataPath, database: scenarios[0]!.database })
  })

  afterAll(async () => {
    await clickhouse?.close()
    for (const s of scenarios) await s.topics.cleanup()
    rmSync(dataPath, { recursive: true, force: true })
  })

  async function query<T>(sql: string): Promise<T[]> {
    const rs = await clickhouse!.query({ query: sql, format: 'JSONEachRow' })
    return rs.json<T>()
  }

  it('with deduplication: every event exactly once and every window equal to the ground truth after 10 kills', async () => {
    const s = scenarios[0]!
    expect(s.killed).toBe(10)
    const [r] = await query<{ n: number; ids: number }>(`SELECT count() AS n, uniqExact(event_id) AS ids FROM ${s.database}.request_events`)
    expect(r).toEqual({ n: s.traffic.requests.length, ids: s.traffic.requests.length })
    const [g] = await query<{ n: number }>(`SELECT count() AS n FROM ${s.database}.gpu_samples`)
    expect(g!.n).toBe(s.traffic.samples.length)
    const sql = storedWindowsSql(s.database)
    expect(requestWindowMap(await query(sql.requests))).toEqual(expectedRequestWindows(s.traffic.requests, WINDOW_S))
    expect(gpuWindowMap(await query(sql.gpus))).toEqual(expectedGpuWindows(s.traffic.samples, WINDOW_S))
  })

  it('without deduplication (control run): replays after kills show up as duplicates', async () => {
    const s = scenarios[1]!
    expect(s.killed).toBe(3)
    const [r] = await query<{ n: number; ids: number }>(`SELECT count() AS n, uniqExact(event_id) AS ids FROM ${s.database}.request_events`)
    // every event is there (at-least-once) ...
    expect(r!.ids).toBe(s.traffic.requests.length)
    const [g] = await query<{ n: number }>(`SELECT count() AS n FROM ${s.database}.gpu_samples`)
    // ... and some more than once: the same checks as above would fail
    expect(r!.n + g!.n).toBeGreaterThan(s.traffic.requests.length + s.traffic.samples.length)
  })
})

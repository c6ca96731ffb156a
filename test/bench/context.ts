/**
 * What every scenario gets: the broker (KAFKA_BROKERS, or the project's broker started on its
 * own port and stopped at the end), one embedded ClickHouse data folder for the whole process
 * (chdb binds one per process), fresh databases and topic sets on demand, and the parameters.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ClickHouseClient } from '@clickhouse/client'
import { openClickHouse } from '../../migrations/clickhouse.ts'
import { migrate } from '../../migrations/runner.ts'
import { createTestTopics, uniqueName, type TestTopics } from '../support/kafka.ts'
import type { Figure } from './report.ts'

export type BenchParams = {
  quick: boolean
  events: number
  repeats: number
  partitions: number
  profile: boolean
  sinks: ('json' | 'file')[]
  /** CHUNK_MAX_EVENTS for the transformer; undefined = its default. */
  chunkMaxEvents: number | undefined
  /** Producer rates of the freshness scenario; undefined = 10k (quick) or 10k and 50k. */
  freshRates: number[] | undefined
}

export type BenchContext = {
  params: BenchParams
  brokers: string[]
  kafkaVersion: string
  kafkaLibs: string
  dataPath: string
  /** A migrated database of its own. */
  database(name: string): Promise<{ client: ClickHouseClient; database: string }>
  topics(partitions: number): Promise<TestTopics>
  report(f: Figure): void
  /** Anything else worth keeping in the JSON (per-repeat figures, settings). */
  detail(key: string, value: unknown): void
}

/** Environment of a bench transformer: defaults except what the parameters set. */
export function transformerEnv(ctx: BenchContext, prefix: string, groupId: string, database: string): Record<string, string> {
  return {
    KAFKA_BROKERS: ctx.brokers.join(','), TOPIC_PREFIX: prefix, TRANSFORM_GROUP_ID: groupId,
    CLICKHOUSE_DATABASE: database, CLICKHOUSE_DATA_PATH: ctx.dataPath, TRANSFORM_HTTP_PORT: '0', LOG_LEVEL: 'silent',
    ...(ctx.params.chunkMaxEvents !== undefined ? { CHUNK_MAX_EVENTS: String(ctx.params.chunkMaxEvents) } : {}),
  }
}

export type Scenario = {
  name: string
  describe: string
  run(ctx: BenchContext): Promise<void>
}

export const ROOT = new URL('../../', import.meta.url).pathname
const BENCH_KAFKA_PORT = '19600'

function kafkaVersionDir(): { version: string; libs: string } {
  const cache = join(ROOT, '.cache/kafka')
  const script = execFileSync('bash', ['-c', `grep -m1 -o 'KAFKA_VERSION:-[0-9.]*' scripts/kafka.sh`], { cwd: ROOT, encoding: 'utf8' })
  const version = process.env.KAFKA_VERSION ?? script.trim().replace('KAFKA_VERSION:-', '')
  const libs = join(cache, version, 'libs')
  if (!readdirSync(libs).some((f) => f.startsWith('kafka-tools-'))) throw new Error(`no kafka-tools jar in ${libs}`)
  return { version, libs }
}

/** Starts the project's broker unless KAFKA_BROKERS names one; returns the stop function. */
export function startBroker(): { brokers: string[]; stop: () => void } {
  const external = process.env.KAFKA_BROKERS
  if (external) return { brokers: external.split(',').map((b) => b.trim()), stop: () => undefined }
  const env = { ...process.env, KAFKA_PORT: BENCH_KAFKA_PORT, KAFKA_DATA_RESET: '1', KAFKA_HEAP: process.env.KAFKA_HEAP ?? '1g' }
  execFileSync('bash', ['scripts/kafka.sh', 'start'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'inherit'] })
  const brokers = [`127.0.0.1:${BENCH_KAFKA_PORT}`]
  // The test helpers read KAFKA_BROKERS; set it for this process only.
  process.env.KAFKA_BROKERS = brokers.join(',')
  return {
    brokers,
    stop: () => {
      delete process.env.KAFKA_BROKERS
      execFileSync('bash', ['scripts/kafka.sh', 'stop'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'inherit'] })
    },
  }
}

export function createContext(params: BenchParams, brokers: string[], figures: Figure[], details: Record<string, unknown>) {
  const dataPath = mkdtempSync(join(tmpdir(), 'dw-bench-ch-'))
  const clients: ClickHouseClient[] = []
  const topicSets: TestTopics[] = []
  const { version, libs } = kafkaVersionDir()
  const ctx: BenchContext = {
    params,
    brokers,
    kafkaVersion: version,
    kafkaLibs: libs,
    dataPath,
    async database(name) {
      const database = uniqueName(`bench_${name}`).replace(/-/g, '_')
      const client = await openClickHouse({ dataPath, database })
      clients.push(client)
      await migrate(client, { database })
      return { client, database }
    },
    async topics(partitions) {
      const t = await createTestTopics({ partitions, prefix: 'bench' })
      topicSets.push(t)
      return t
    },
    report(f) {
      figures.push(f)
    },
    detail(key, value) {
      details[key] = value
    },
  }
  async function close(): Promise<void> {
    for (const t of topicSets) await t.cleanup().catch(() => undefined)
    for (const c of clients) await c.close().catch(() => undefined)
    rmSync(dataPath, { recursive: true, force: true })
  }
  return { ctx, close }
}

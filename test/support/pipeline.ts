/**
 * Test harness for the whole path: a fresh topic set, an embedded ClickHouse database in its own
 * temp folder, and a transformer started with test-sized chunks. Expectations are computed by
 * the tests from the events they produced, never read back from the pipeline.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ClickHouseClient } from '@clickhouse/client'
import { openClickHouse } from '../../migrations/clickhouse.ts'
import { migrate } from '../../migrations/runner.ts'
import { createCodec } from '../../schemas/codec.ts'
import { loadTransformConfig, type TransformConfig } from '../../transform/config.ts'
import { silentLogger } from '../../transform/logger.ts'
import { startTransformer, type Transformer, type TransformerDeps } from '../../transform/transformer.ts'
import { createTestTopics, kafkaBrokers, uniqueName, type TestTopics } from './kafka.ts'

export type PipelineHarness = {
  kafka: TestTopics
  clickhouse: ClickHouseClient
  database: string
  /** The embedded ClickHouse folder (a second database in this process must use it too). */
  dataPath: string
  groupId: string
  env: Record<string, string>
  /** `deps` replaces parts of the transformer (e.g. a fault-injecting sink). */
  startTransformer(overrides?: Record<string, string>, deps?: Pick<TransformerDeps, 'sink'>): Promise<Transformer>
  query<T>(sql: string, params?: Record<string, unknown>): Promise<T[]>
  close(): Promise<void>
}

export async function createPipelineHarness(options: { partitions: number; env?: Record<string, string> }): Promise<PipelineHarness> {
  const kafka = await createTestTopics({ partitions: options.partitions })
  const dataPath = mkdtempSync(join(tmpdir(), 'dw-ch-'))
  const database = uniqueName('dw').replace('-', '_')
  const groupId = uniqueName('transformer')
  const env: Record<string, string> = {
    KAFKA_BROKERS: kafkaBrokers().join(','),
    TOPIC_PREFIX: kafka.prefix,
    TRANSFORM_GROUP_ID: groupId,
    CLICKHOUSE_DATABASE: database,
    CLICKHOUSE_DATA_PATH: dataPath,
    CHUNK_MAX_EVENTS: '500',
    FLUSH_INTERVAL_MS: '200',
    SESSION_TIMEOUT_MS: '10000',
    HEARTBEAT_INTERVAL_MS: '1000',
    ...options.env,
  }
  const config: Readonly<TransformConfig> = loadTransformConfig(env)
  const clickhouse = await openClickHouse({ dataPath, database })
  await migrate(clickhouse, { database })
  const running: Transformer[] = []
  return {
    kafka,
    clickhouse,
    database,
    dataPath,
    groupId,
    env,
    async startTransformer(overrides = {}, deps = {}) {
      const t = await startTransformer({ config: { ...config, ...loadTransformConfig({ ...env, ...overrides }) }, clickhouse, codec: createCodec(), log: silentLogger, ...deps })
      running.push(t)
      return t
    },
    async query<T>(sql: string, params: Record<string, unknown> = {}) {
      const rs = await clickhouse.query({ query: sql, query_params: params, format: 'JSONEachRow' })
      return rs.json<T>()
    },
    async close() {
      for (const t of running) await t.stop()
      await clickhouse.close()
      await kafka.cleanup()
      rmSync(dataPath, { recursive: true, force: true })
    },
  }
}

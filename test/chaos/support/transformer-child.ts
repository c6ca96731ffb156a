/**
 * A real `diffwatch transform` process for a scenario, with its own embedded ClickHouse folder
 * and database, so the scenario's process (the chaos runner's) never opens chdb. After the
 * transformer has stopped, `query` reads the folder through a short-lived child process.
 */
import { execFile } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawnTransformer, type TransformerProcess } from '../../support/transformer-process.ts'
import { uniqueName } from './topics.ts'

const here = path.dirname(fileURLToPath(import.meta.url))

export type TransformerChild = {
  readonly groupId: string
  readonly database: string
  readonly dataPath: string
  readonly process: TransformerProcess
  /** SIGTERM (flush and commit), SIGKILL after 15 s; returns its exit code or the signal. */
  stop(): Promise<string>
  query<T>(queries: Record<string, string>): Promise<Record<string, T[]>>
}

export function startTransformerChild(o: { brokers: string; topicPrefix: string; workDir: string; env?: Record<string, string> }): TransformerChild {
  const dataPath = path.join(o.workDir, `ch-${uniqueName('t')}`)
  mkdirSync(dataPath, { recursive: true })
  const database = uniqueName('chaos').replace('-', '_')
  const groupId = uniqueName('chaos-transformer')
  const child = spawnTransformer({
    KAFKA_BROKERS: o.brokers,
    TOPIC_PREFIX: o.topicPrefix,
    TRANSFORM_GROUP_ID: groupId,
    CLICKHOUSE_DATA_PATH: dataPath,
    CLICKHOUSE_DATABASE: database,
    TRANSFORM_HTTP_PORT: '0',
    TRANSFORM_HTTP_HOST: '127.0.0.1',
    CHUNK_MAX_EVENTS: '2000',
    FLUSH_INTERVAL_MS: '300',
    SESSION_TIMEOUT_MS: '10000',
    HEARTBEAT_INTERVAL_MS: '1000',
    RETRY_INITIAL_MS: '100',
    RETRY_MAX_MS: '2000',
    // kafkajs' own log level passes through for diagnosis (its debug lines land in the log file).
    ...(process.env.KAFKAJS_LOG_LEVEL ? { KAFKAJS_LOG_LEVEL: process.env.KAFKAJS_LOG_LEVEL } : {}),
    ...o.env,
  }, undefined, `${dataPath}.log`)
  return {
    groupId,
    database,
    dataPath,
    process: child,
    async stop() {
      // A transformer stuck in a retry loop never finishes its graceful stop: SIGKILL after 15 s.
      const timer = setTimeout(() => child.child.kill('SIGKILL'), 15_000)
      try {
        return await child.kill('SIGTERM')
      } finally {
        clearTimeout(timer)
      }
    },
    query<T>(queries: Record<string, string>) {
      return new Promise<Record<string, T[]>>((resolve, reject) => {
        execFile(
          process.execPath,
          ['--import', 'tsx', path.join(here, 'ch-counts-child.ts'), dataPath, database, JSON.stringify(queries)],
          { timeout: 120_000, maxBuffer: 64 * 1024 * 1024 },
          (err, stdout, stderr) => (err ? reject(new Error(`ClickHouse read failed: ${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout) as Record<string, T[]>)),
        )
      })
    },
  }
}

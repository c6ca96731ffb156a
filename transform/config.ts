/**
 * Configuration of the transformer, read once from the environment. Every option, its default
 * and its bounds live here (and in the README's configuration table).
 */
import { Type, type Static } from '@sinclair/typebox'
import { loadConfig } from '../schemas/config.ts'

export const TransformConfigSchema = Type.Object({
  KAFKA_BROKERS: Type.String({ default: '127.0.0.1:19092', description: 'Comma-separated bootstrap brokers.' }),
  KAFKA_CLIENT_ID: Type.String({ default: 'diffwatch-transformer', description: 'Kafka client id (broker logs, quotas).' }),
  TOPIC_PREFIX: Type.String({ default: '', description: 'Prefix of the three diffwatch topics (isolated test runs).' }),
  TRANSFORM_GROUP_ID: Type.String({ default: 'diffwatch-transformer', minLength: 1, description: 'Consumer group: every transformer instance of one deployment uses the same.' }),
  TRANSFORM_FROM_BEGINNING: Type.Boolean({ default: true, description: 'Where a new group starts: earliest (true) or latest.' }),
  WINDOW_SECONDS: Type.Integer({ default: 10, minimum: 1, maximum: 3600, description: 'Tumbling event-time window of the aggregates, seconds.' }),
  ALLOWED_LATENESS_SEC: Type.Integer({ default: 30, minimum: 0, description: 'Events arriving later than window end + this are counted as late.' }),
  FUTURE_TOLERANCE_SEC: Type.Integer({ default: 300, minimum: 0, description: 'Events stamped further than this after their Kafka timestamp are dead-lettered.' }),
  CHUNK_MAX_EVENTS: Type.Integer({ default: 20_000, minimum: 1, maximum: 1_000_000, description: 'Offsets per chunk (one insert per table, one commit).' }),
  TRANSFORM_MAX_INFLIGHT_CHUNKS: Type.Integer({ default: 3, minimum: 1, maximum: 64, description: 'Closed chunks written in the background while the next ones are decoded (in order per partition); bounds the memory held by closed chunks.' }),
  FLUSH_INTERVAL_MS: Type.Integer({ default: 1_000, minimum: 10, maximum: 600_000, description: 'A partly filled chunk is closed after this long.' }),
  AGG_VERSION: Type.Integer({ default: 1, minimum: 1, maximum: 65535, description: 'Bump when aggregation logic changes: part of every dedup token.' }),
  SESSION_TIMEOUT_MS: Type.Integer({ default: 30_000, minimum: 6_000, description: 'Consumer-group session timeout.' }),
  HEARTBEAT_INTERVAL_MS: Type.Integer({ default: 3_000, minimum: 100, description: 'At most a third of SESSION_TIMEOUT_MS.' }),
  PARTITIONS_CONCURRENCY: Type.Integer({ default: 1, minimum: 1, maximum: 64, description: 'Partitions processed concurrently by one instance.' }),
  RETRY_INITIAL_MS: Type.Integer({ default: 200, minimum: 1, description: 'First backoff after a transient failure (doubles up to RETRY_MAX_MS; retried until it works).' }),
  RETRY_MAX_MS: Type.Integer({ default: 10_000, minimum: 1, description: 'Longest backoff.' }),
  TRANSFORM_INSERT_DEDUP: Type.Boolean({ default: true, description: 'Test/diagnostic knob only: false gives every insert attempt a unique dedup token, so replays after a crash are NOT deduplicated (used to prove the crash test can fail). Never turn off in production.' }),
  TRANSFORM_HTTP_PORT: Type.Integer({ default: 9464, minimum: 0, maximum: 65535, description: 'Port of the transformer\'s /metrics, /healthz and /readyz server (`diffwatch transform`); 0 picks a free port.' }),
  TRANSFORM_HTTP_HOST: Type.String({ default: '0.0.0.0', description: 'Address the health/metrics server listens on.' }),
  READY_STALL_MS: Type.Integer({ default: 60_000, minimum: 1_000, description: '/readyz fails when the loop has lag but has not committed anything for this long.' }),
  CLICKHOUSE_URL: Type.Optional(Type.String({ description: 'ClickHouse server over HTTP; embedded chdb when unset.' })),
  CLICKHOUSE_USER: Type.Optional(Type.String({ description: 'Server user (default: default).' })),
  CLICKHOUSE_PASSWORD: Type.Optional(Type.String({ description: 'Server password.' })),
  CLICKHOUSE_DATABASE: Type.String({ default: 'diffwatch', pattern: '^[A-Za-z_][A-Za-z0-9_]*$', description: 'Database of the diffwatch tables.' }),
  CLICKHOUSE_DATA_PATH: Type.String({ default: './data/clickhouse', description: 'Data folder of embedded ClickHouse.' }),
  LOG_LEVEL: Type.Union([Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error'), Type.Literal('silent')], { default: 'info', description: 'debug, info, warn, error or silent; JSON lines on stderr (plain text on a terminal).' }),
})

export type TransformConfig = Static<typeof TransformConfigSchema>

export function loadTransformConfig(env: Record<string, string | undefined> = process.env): Readonly<TransformConfig> {
  return loadConfig(TransformConfigSchema, env, [
    (c) => (c.HEARTBEAT_INTERVAL_MS * 3 > c.SESSION_TIMEOUT_MS ? [`HEARTBEAT_INTERVAL_MS (${c.HEARTBEAT_INTERVAL_MS}) must be at most a third of SESSION_TIMEOUT_MS (${c.SESSION_TIMEOUT_MS})`] : []),
    (c) => (c.RETRY_INITIAL_MS > c.RETRY_MAX_MS ? [`RETRY_INITIAL_MS must not exceed RETRY_MAX_MS`] : []),
    (c) => (c.KAFKA_BROKERS.split(',').every((b) => /^[^\s:]+:\d+$/.test(b.trim())) ? [] : [`KAFKA_BROKERS must be host:port[,host:port...], got ${JSON.stringify(c.KAFKA_BROKERS)}`]),
  ])
}

export function brokerList(config: { KAFKA_BROKERS: string }): string[] {
  return config.KAFKA_BROKERS.split(',').map((b) => b.trim()).filter(Boolean)
}

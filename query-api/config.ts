/**
 * Configuration of the query API, keyed by environment variable name, with every default in
 * this one place. Parsed once at start-up with loadConfig (all problems reported together) and
 * frozen; buildApi receives only the `QueryLimits` slice, the CLI uses host and port to listen.
 * ClickHouse connection settings belong to migrations/clickhouse.ts, not here.
 */
import { Type, type Static } from '@sinclair/typebox'
import { loadConfig } from '../schemas/config.ts'

export const ApiConfigSchema = Type.Object({
  API_HOST: Type.String({ default: '127.0.0.1', minLength: 1, description: 'Interface the API listens on. Default 127.0.0.1 (local only); 0.0.0.0 to serve the network.' }),
  API_PORT: Type.Integer({ default: 8080, minimum: 0, maximum: 65_535, description: 'TCP port. Default 8080; 0 picks a free port.' }),
  API_MAX_RANGE_DAYS: Type.Number({ default: 31, exclusiveMinimum: 0, maximum: 400, description: 'Longest from..to range a query may span, in days. Default 31.' }),
  API_DEFAULT_RANGE_MINUTES: Type.Integer({ default: 60, minimum: 1, maximum: 44_640, description: 'Range used when `from` is omitted, in minutes before `to`. Default 60.' }),
  API_MAX_BUCKETS: Type.Integer({ default: 2000, minimum: 10, maximum: 100_000, description: 'Most time buckets one time-series answer may hold. Default 2000.' }),
  API_MAX_GROUPS: Type.Integer({ default: 500, minimum: 1, maximum: 10_000, description: 'Upper bound of the `limit` parameter (series / groups per answer). Default 500.' }),
  API_QUERY_TIMEOUT_SECONDS: Type.Integer({ default: 30, minimum: 1, maximum: 3600, description: 'ClickHouse max_execution_time of each API query, in seconds. Default 30.' }),
  API_ROLLUP_MIN_RANGE_MINUTES: Type.Integer({ default: 360, minimum: 1, maximum: 576_000, description: 'Latency ranges at least this long (minutes) read the 1-minute percentile rollups instead of raw events (when the filters and group-by allow). Default 360 (6 h).' }),
  API_ROLLUP_HOURLY_MIN_RANGE_DAYS: Type.Number({ default: 1, exclusiveMinimum: 0, maximum: 400, description: 'Latency ranges at least this long (days) read the 1-hour rollups (series need a step of whole hours). Default 1.' }),
  API_DOCS: Type.Boolean({ default: true, description: 'Serve the interactive docs at /docs (the OpenAPI document at /openapi.json is always served). Default true.' }),
  API_AUTH: Type.Union([Type.Literal('auto'), Type.Literal('required'), Type.Literal('off')], { default: 'auto', description: 'API keys on /v1: `required`, `off`, or `auto` (default): required for `serve`, and for `run`/`demo` unless they listen on a loopback address, where auth is off and the log says so.' }),
  API_KEY_CACHE_SECONDS: Type.Integer({ default: 30, minimum: 0, maximum: 3600, description: 'How long a key lookup is cached; a revoked key stops working within this many seconds. Default 30.' }),
  API_RATE_LIMIT_PER_MINUTE: Type.Integer({ default: 600, minimum: 1, maximum: 1_000_000, description: 'Sustained /v1 requests per minute per API key (per client IP without a key). Default 600.' }),
  API_RATE_LIMIT_BURST: Type.Integer({ default: 60, minimum: 1, maximum: 100_000, description: 'Requests a key or IP may make at once before the per-minute rate applies (token bucket size). Default 60.' }),
  API_SQL_RATE_LIMIT_PER_MINUTE: Type.Integer({ default: 30, minimum: 1, maximum: 100_000, description: 'Sustained POST /v1/sql requests per minute per key or IP. Default 30.' }),
  API_SQL_RATE_LIMIT_BURST: Type.Integer({ default: 5, minimum: 1, maximum: 10_000, description: 'Bucket size of the SQL route limit. Default 5.' }),
  API_RATE_LIMIT_MAX_CLIENTS: Type.Integer({ default: 10_000, minimum: 10, maximum: 10_000_000, description: 'Most rate-limit buckets kept in memory; idle ones are evicted first. Default 10000.' }),
  API_SQL_MAX_EXECUTION_SECONDS: Type.Integer({ default: 10, minimum: 1, maximum: 3600, description: 'POST /v1/sql: a query running longer is stopped (max_execution_time). Default 10.' }),
  API_SQL_MAX_ROWS_TO_READ: Type.Integer({ default: 200_000_000, minimum: 1, description: 'POST /v1/sql: most rows a query may read (max_rows_to_read). Default 200000000.' }),
  API_SQL_MAX_RESULT_ROWS: Type.Integer({ default: 10_000, minimum: 1, maximum: 1_000_000, description: 'POST /v1/sql: most rows returned (and upper bound of `maxRows`); more are cut and `truncated` is true. Default 10000.' }),
  API_SQL_MAX_MEMORY_BYTES: Type.Integer({ default: 2_147_483_648, minimum: 1_048_576, description: 'POST /v1/sql: memory a query may use in ClickHouse (max_memory_usage). Default 2 GiB.' }),
  API_SQL_MAX_RESULT_BYTES: Type.Integer({ default: 67_108_864, minimum: 1024, description: 'POST /v1/sql: most result bytes (max_result_bytes). Default 64 MiB.' }),
  API_SQL_MAX_THREADS: Type.Integer({ default: 4, minimum: 1, maximum: 256, description: 'POST /v1/sql: ClickHouse threads per query (max_threads). Default 4.' }),
  API_SQL_MAX_QUERY_LENGTH: Type.Integer({ default: 20_000, minimum: 100, maximum: 1_000_000, description: 'POST /v1/sql: longest query text, in characters. Default 20000.' }),
  API_SQL_CLICKHOUSE_USER: Type.Optional(Type.String({ minLength: 1, description: 'ClickHouse server only: run POST /v1/sql as this read-only user (see docs/api.md) instead of CLICKHOUSE_USER. Unset by default.' })),
  API_SQL_CLICKHOUSE_PASSWORD: Type.Optional(Type.String({ description: 'Password of API_SQL_CLICKHOUSE_USER. Unset by default.' })),
})

export type ApiConfig = Static<typeof ApiConfigSchema>

/** What the routes need to know of the configuration. */
export type QueryLimits = {
  maxRangeSeconds: number
  defaultRangeSeconds: number
  maxBuckets: number
  maxGroups: number
  queryTimeoutSeconds: number
  /** Ranges from this many seconds read the 1-min latency rollups (auto source). */
  rollupMinRangeSeconds: number
  /** Ranges from this many seconds read the 1-h latency rollups (auto source). */
  hourlyRollupMinRangeSeconds: number
}

/** The limits POST /v1/sql runs under. */
export type SqlLimits = {
  maxExecutionSeconds: number
  maxRowsToRead: number
  maxResultRows: number
  maxMemoryBytes: number
  maxResultBytes: number
  maxThreads: number
  maxQueryLength: number
}

/** One token bucket policy: `perMinute` sustained, `burst` at once. */
export type RatePolicy = { perMinute: number; burst: number }
export type RateLimits = { api: RatePolicy; sql: RatePolicy; maxClients: number }

export function loadApiConfig(env: Record<string, string | undefined> = process.env): Readonly<ApiConfig> {
  return loadConfig(ApiConfigSchema, env, [
    (c) =>
      c.API_DEFAULT_RANGE_MINUTES * 60 > c.API_MAX_RANGE_DAYS * 86_400
        ? [`API_DEFAULT_RANGE_MINUTES (${c.API_DEFAULT_RANGE_MINUTES}) must not exceed API_MAX_RANGE_DAYS (${c.API_MAX_RANGE_DAYS} d)`]
        : [],
  ])
}

export function queryLimits(config: ApiConfig): QueryLimits {
  return {
    maxRangeSeconds: Math.round(config.API_MAX_RANGE_DAYS * 86_400),
    defaultRangeSeconds: config.API_DEFAULT_RANGE_MINUTES * 60,
    maxBuckets: config.API_MAX_BUCKETS,
    maxGroups: config.API_MAX_GROUPS,
    queryTimeoutSeconds: config.API_QUERY_TIMEOUT_SECONDS,
    rollupMinRangeSeconds: config.API_ROLLUP_MIN_RANGE_MINUTES * 60,
    hourlyRollupMinRangeSeconds: Math.round(config.API_ROLLUP_HOURLY_MIN_RANGE_DAYS * 86_400),
  }
}

export function sqlLimits(config: ApiConfig): SqlLimits {
  return {
    maxExecutionSeconds: config.API_SQL_MAX_EXECUTION_SECONDS,
    maxRowsToRead: config.API_SQL_MAX_ROWS_TO_READ,
    maxResultRows: config.API_SQL_MAX_RESULT_ROWS,
    maxMemoryBytes: config.API_SQL_MAX_MEMORY_BYTES,
    maxResultBytes: config.API_SQL_MAX_RESULT_BYTES,
    maxThreads: config.API_SQL_MAX_THREADS,
    maxQueryLength: config.API_SQL_MAX_QUERY_LENGTH,
  }
}

export function rateLimits(config: ApiConfig): RateLimits {
  return {
    api: { perMinute: config.API_RATE_LIMIT_PER_MINUTE, burst: config.API_RATE_LIMIT_BURST },
    sql: { perMinute: config.API_SQL_RATE_LIMIT_PER_MINUTE, burst: config.API_SQL_RATE_LIMIT_BURST },
    maxClients: config.API_RATE_LIMIT_MAX_CLIENTS,
  }
}

/** The limits of an empty environment: every documented default. */
export const DEFAULT_QUERY_LIMITS: Readonly<QueryLimits> = Object.freeze(queryLimits(loadApiConfig({})))

export const DEFAULT_SQL_LIMITS: Readonly<SqlLimits> = Object.freeze(sqlLimits(loadApiConfig({})))

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

/** The limits of an empty environment: every documented default. */
export const DEFAULT_QUERY_LIMITS: Readonly<QueryLimits> = Object.freeze(queryLimits(loadApiConfig({})))

/**
 * How the routes read ClickHouse: table names qualified with the validated database (embedded
 * chdb ignores the client's `database` option, and a caller may hand us any client), values only
 * as `{name:Type}` query parameters, a per-query execution time limit, and one error mapping:
 * a ClickHouse failure that may pass (unreachable, timeout, overload) becomes a 503
 * API_STORE_UNAVAILABLE; anything else stays a non-API error and is answered as a logged 500.
 */
import type { ClickHouseClient } from '@clickhouse/client'
import { assertIdentifier, toDiffwatchError } from '../migrations/clickhouse.ts'
import { TABLES, type TableKey } from '../migrations/tables.ts'
import { apiError } from './errors.ts'

export type Store = {
  client: ClickHouseClient
  /** Validated identifier. */
  database: string
  queryTimeoutSeconds: number
}

export function createStore(client: ClickHouseClient, database: string, queryTimeoutSeconds: number): Store {
  return { client, database: assertIdentifier(database, 'database name'), queryTimeoutSeconds }
}

/** `db`.`table`, both from validated names only. */
export function qualifiedTable(store: Store, key: TableKey): string {
  return `\`${store.database}\`.\`${TABLES[key]}\``
}

export type QueryParams = Record<string, unknown>

/** Runs a SELECT and returns its rows; see the module doc for the error mapping. */
export async function selectRows<T>(store: Store, query: string, params: QueryParams, what: string): Promise<T[]> {
  try {
    const result = await store.client.query({
      query,
      query_params: params,
      format: 'JSONEachRow',
      clickhouse_settings: { max_execution_time: store.queryTimeoutSeconds },
    })
    return await result.json<T>()
  } catch (err) {
    const mapped = toDiffwatchError(err, what)
    if (mapped.retryable) throw apiError('API_STORE_UNAVAILABLE', `ClickHouse unavailable during ${what}`, mapped)
    throw mapped
  }
}

/** A DateTime64(3,'UTC') query parameter value for epoch milliseconds. */
export function chDateTime64(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '')
}

/** UInt64 / Float64 cells arrive as numbers or (server default) strings; NaN and null as null. */
export function num(value: unknown): number {
  const n = typeof value === 'number' ? value : Number(value)
  return Number.isFinite(n) ? n : 0
}

export function numOrNull(value: unknown): number | null {
  if (value === null || value === undefined) return null
  const n = typeof value === 'number' ? value : Number(value)
  return Number.isFinite(n) ? n : null
}

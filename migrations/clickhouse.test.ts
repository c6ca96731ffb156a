import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ClickHouseClient } from '@clickhouse/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DiffwatchError, isDiffwatchError } from '../schemas/errors.ts'
import {
  TRANSIENT_CLICKHOUSE_ERRORS,
  createClickHouse,
  ensureDatabase,
  isRetryableClickHouseError,
  openClickHouse,
  toDiffwatchError,
} from './clickhouse.ts'

// One embedded engine per test file (chdb binds one data folder per process).
const root = mkdtempSync(join(tmpdir(), 'dw-clickhouse-test-'))
const dataPath = join(root, 'clickhouse')
let client: ClickHouseClient

beforeAll(async () => {
  client = await openClickHouse({ dataPath, database: 'ch_test' })
})
afterAll(async () => {
  await client.close()
  rmSync(root, { recursive: true, force: true })
})

async function rows<T>(c: ClickHouseClient, query: string): Promise<T[]> {
  return (await c.query({ query, format: 'JSONEachRow' })).json<T>()
}

function chError(code: number, type: string): Error {
  return Object.assign(new Error(`Code: ${code}. DB::Exception: something. (${type})`), { code: String(code), type })
}

describe('embedded database selection', () => {
  it('resolves unqualified table names to the configured database', async () => {
    expect(await rows(client, 'SELECT currentDatabase() AS db')).toEqual([{ db: 'ch_test' }])
    await client.command({ query: 'CREATE TABLE IF NOT EXISTS sel (x UInt64) ENGINE = MergeTree ORDER BY x' })
    await client.insert({ table: 'sel', values: [[1], [2]], format: 'JSONCompactEachRow' })
    expect(await rows(client, "SELECT database FROM system.tables WHERE name = 'sel'")).toEqual([{ database: 'ch_test' }])
    expect(await rows(client, 'SELECT sum(x) AS s FROM sel')).toEqual([{ s: 3 }])
  })

  it('keeps each client on its own database even if a statement switches it', async () => {
    const other = await openClickHouse({ dataPath, database: 'ch_test_other' })
    try {
      await other.command({ query: 'USE ch_test' })
      expect(await rows(other, 'SELECT currentDatabase() AS db')).toEqual([{ db: 'ch_test_other' }])
      expect(await rows(client, 'SELECT currentDatabase() AS db')).toEqual([{ db: 'ch_test' }])
    } finally {
      await other.close()
    }
  })

  it('returns 64-bit integers as JSON numbers', async () => {
    expect(await rows(client, 'SELECT toUInt64(42) AS u, toInt64(-7) AS i')).toEqual([{ u: 42, i: -7 }])
  })

  it('binds query parameters as usual', async () => {
    const rs = await client.query({ query: 'SELECT {n:UInt32} + 1 AS v', format: 'JSONEachRow', query_params: { n: 41 } })
    expect(await rs.json()).toEqual([{ v: 42 }])
  })

  // Regression: chdb runs per-query settings as session SETs, so a dedup token from one insert
  // stayed in force and the next, different insert was silently dropped as its duplicate.
  it('does not let a dedup token from one insert leak into the next insert', async () => {
    await client.command({ query: 'CREATE TABLE leak (x UInt64) ENGINE = MergeTree ORDER BY x SETTINGS non_replicated_deduplication_window = 100' })
    await client.insert({ table: 'leak', values: [[1]], format: 'JSONCompactEachRow', clickhouse_settings: { insert_deduplication_token: 'leak-1' } })
    await client.insert({ table: 'leak', values: [[2]], format: 'JSONCompactEachRow' })
    await client.insert({ table: 'leak', values: [[3]], format: 'JSONCompactEachRow', clickhouse_settings: { max_insert_threads: '1' } })
    expect(await rows(client, 'SELECT groupArray(x) AS xs FROM (SELECT x FROM leak ORDER BY x)')).toEqual([{ xs: [1, 2, 3] }])
    expect(await rows(client, "SELECT getSetting('insert_deduplication_token') AS t")).toEqual([{ t: '' }])
  })

  it('refuses a second data folder in the same process with a clear error', () => {
    let err: unknown
    try {
      createClickHouse({ dataPath: join(root, 'elsewhere'), database: 'x' })
    } catch (e) {
      err = e
    }
    expect(isDiffwatchError(err, 'MIG_CH_ONE_DATA_PATH')).toBe(true)
  })

  it('refuses database names that are not plain identifiers', () => {
    expect(() => createClickHouse({ dataPath, database: 'x; DROP DATABASE y' })).toThrow(DiffwatchError)
  })

  it('tells the user that another process holds the data folder', async () => {
    const module = fileURLToPath(new URL('./clickhouse.ts', import.meta.url))
    const script = `
      const m = await import(${JSON.stringify(module)});
      try { m.createClickHouse({ dataPath: ${JSON.stringify(dataPath)} }); console.log('OPENED') }
      catch (e) { console.log(JSON.stringify({ code: e.code, retryable: e.retryable, message: e.message })) }`
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { timeout: 60_000 }, (err, stdout) =>
        err ? reject(err) : resolve(stdout),
      ),
    )
    const result = JSON.parse(out.trim().split('\n').pop() ?? '{}') as { code: string; retryable: boolean; message: string }
    expect(result.code).toBe('MIG_CH_DATA_LOCKED')
    expect(result.retryable).toBe(false)
    expect(result.message).toContain(`pid ${process.pid}`)
    expect(result.message).toContain('CLICKHOUSE_URL')
  })
})

describe('error mapping', () => {
  it('knows the numeric code of every transient ClickHouse error by its engine name', async () => {
    const names = Object.entries(TRANSIENT_CLICKHOUSE_ERRORS)
    const query = `SELECT ${names.map(([, code], i) => `errorCodeToName(${code}) AS n${i}`).join(', ')}`
    const [row] = await rows<Record<string, string>>(client, query)
    expect(names.map((_, i) => row?.[`n${i}`])).toEqual(names.map(([name]) => name))
  })

  it('marks overload and unavailability retryable and the rest permanent, by code', () => {
    expect(isRetryableClickHouseError(chError(252, 'TOO_MANY_PARTS'))).toBe(true)
    expect(isRetryableClickHouseError(chError(159, 'TIMEOUT_EXCEEDED'))).toBe(true)
    expect(isRetryableClickHouseError(Object.assign(new Error('x'), { code: '241' }))).toBe(true)
    expect(isRetryableClickHouseError(chError(60, 'UNKNOWN_TABLE'))).toBe(false)
    expect(isRetryableClickHouseError(chError(62, 'SYNTAX_ERROR'))).toBe(false)
    expect(isRetryableClickHouseError(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }))).toBe(true)
    expect(isRetryableClickHouseError(new Error('wrapped', { cause: Object.assign(new Error('r'), { code: 'ECONNRESET' }) }))).toBe(true)
    expect(isRetryableClickHouseError(new Error('Timeout error.'))).toBe(true)
    expect(isRetryableClickHouseError(new TypeError('bug'))).toBe(false)
    expect(isRetryableClickHouseError(Object.assign(new Error('disk'), { code: 'ENOSPC' }))).toBe(false)
  })

  it('maps to MIG_CH_UNAVAILABLE (retryable) or MIG_CH_QUERY_FAILED (permanent), keeping the cause', () => {
    const busy = chError(252, 'TOO_MANY_PARTS')
    const mapped = toDiffwatchError(busy, 'insert into request_events')
    expect([mapped.code, mapped.retryable, mapped.cause]).toEqual(['MIG_CH_UNAVAILABLE', true, busy])
    expect(mapped.message).toContain('TOO_MANY_PARTS')
    const bad = toDiffwatchError(chError(60, 'UNKNOWN_TABLE'), 'select')
    expect([bad.code, bad.retryable]).toEqual(['MIG_CH_QUERY_FAILED', false])
    const already = new DiffwatchError('TRF_X', 'x')
    expect(toDiffwatchError(already, 'y')).toBe(already)
  })

  it('maps a real engine error from the embedded client as permanent', async () => {
    const err = await client.query({ query: 'SELECT * FROM no_such_table' }).catch((e: unknown) => e)
    expect(toDiffwatchError(err, 'select').code).toBe('MIG_CH_QUERY_FAILED')
  })

  it('maps an unreachable server as retryable, for queries and for ensureDatabase', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const { port } = srv.address() as { port: number }
        srv.close(() => resolve(port))
      })
    })
    const url = `http://127.0.0.1:${port}`
    const remote = createClickHouse({ url, database: 'diffwatch', requestTimeoutMs: 5_000 })
    try {
      const err = await remote.query({ query: 'SELECT 1' }).catch((e: unknown) => e)
      const mapped = toDiffwatchError(err, 'select')
      expect([mapped.code, mapped.retryable]).toEqual(['MIG_CH_UNAVAILABLE', true])
    } finally {
      await remote.close()
    }
    const ensured = await ensureDatabase({ url, database: 'diffwatch', requestTimeoutMs: 5_000 }).catch((e: unknown) => e)
    expect(isDiffwatchError(ensured, 'MIG_CH_UNAVAILABLE')).toBe(true)
  })
})

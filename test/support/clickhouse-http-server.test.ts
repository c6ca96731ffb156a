/**
 * The ClickHouse HTTP stand-in, driven by the real @clickhouse/client through diffwatch's own
 * openClickHouse (server mode) and migration runner: what a `diffwatch transform` process with
 * CLICKHOUSE_URL does against it. Loopback only, no Kafka.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ClickHouseClient } from '@clickhouse/client'
import { createClient } from '@clickhouse/client'
import { clickHouseErrorOf, isRetryableClickHouseError, openClickHouse } from '../../migrations/clickhouse.ts'
import { migrate, migrationStatus } from '../../migrations/runner.ts'
import { createRowSink } from '../../transform/row-sink.ts'
import { startClickHouseHttpServer, type ClickHouseHttpServer } from './clickhouse-http-server.ts'

describe('ClickHouse HTTP stand-in (chdb behind the HTTP interface)', () => {
  const dataPath = mkdtempSync(join(tmpdir(), 'dw-chhttp-'))
  const database = 'dw_http_test'
  let server: ClickHouseHttpServer
  let client: ClickHouseClient

  beforeAll(async () => {
    server = await startClickHouseHttpServer({ dataPath })
    client = await openClickHouse({ url: server.url, database })
  })
  afterAll(async () => {
    await client?.close()
    await server?.close()
    rmSync(dataPath, { recursive: true, force: true })
  })

  it('answers ping and runs the migrations through the server-mode client', async () => {
    expect((await client.ping()).success).toBe(true)
    const applied = await migrate(client, { database })
    const status = await migrationStatus(client, { database })
    expect(status.pending).toEqual([])
    expect(applied.length).toBe(status.applied.length)
    expect(applied.length).toBeGreaterThan(0)
  })

  it('binds {name:Type} parameters and returns 64-bit integers as numbers', async () => {
    const rs = await client.query({
      query: 'SELECT {n:UInt64} * 2 AS doubled, {s:String} AS s, length({a:Array(String)}) AS len',
      query_params: { n: 21, s: "it's a\\b\tc\nd", a: ['x', "y'", 'z'] },
      format: 'JSONEachRow',
    })
    expect(await rs.json()).toEqual([{ doubled: 42, s: "it's a\\b\tc\nd", len: 3 }])
  })

  it('drops an insert repeated with the same deduplication token, and keeps a different one', async () => {
    const sink = createRowSink(client)
    await client.command({ query: 'CREATE TABLE t_dedup (k UInt32, v String) ENGINE = MergeTree ORDER BY k SETTINGS non_replicated_deduplication_window = 100' })
    const write = { table: 't_dedup', columns: ['k', 'v'], rows: [[1, 'a'], [2, 'b'], [3, 'c']] }
    await sink.insert(write, 'token-1')
    await sink.insert(write, 'token-1')
    await sink.insert(write, 'token-2')
    const rs = await client.query({ query: 'SELECT count() AS n, uniqExact(k) AS keys FROM t_dedup', format: 'JSONEachRow' })
    expect(await rs.json()).toEqual([{ n: 6, keys: 3 }])
  })

  it('does not leak one request\'s settings into the next', async () => {
    const setting = async (settings: Record<string, number> = {}) => {
      const rs = await client.query({ query: "SELECT value FROM system.settings WHERE name = 'max_threads'", format: 'JSONEachRow', clickhouse_settings: settings })
      return (await rs.json<{ value: string }>())[0]!.value
    }
    const before = await setting()
    expect(await setting({ max_threads: 3 })).toBe('3')
    expect(await setting()).toBe(before)
  })

  it('reports engine errors with their real code and type, which diffwatch classifies', async () => {
    const err = await client.query({ query: 'SELECT * FROM no_such_table', format: 'JSONEachRow' }).catch((e: unknown) => e)
    expect(clickHouseErrorOf(err)).toEqual({ code: '60', type: 'UNKNOWN_TABLE' })
    expect(isRetryableClickHouseError(err)).toBe(false)
    const syntax = await client.command({ query: 'SELEC 1' }).catch((e: unknown) => e)
    expect(clickHouseErrorOf(syntax)?.type).toBe('SYNTAX_ERROR')
  })

  it('accepts gzip request bodies and answers gzip when asked', async () => {
    const gz = createClient({ url: server.url, database, compression: { request: true, response: true } })
    try {
      await gz.insert({ table: 't_dedup', values: [{ k: 10, v: 'gz' }], format: 'JSONEachRow' })
      const rs = await gz.query({ query: "SELECT v FROM t_dedup WHERE k = 10", format: 'JSONEachRow' })
      expect(await rs.json()).toEqual([{ v: 'gz' }])
    } finally {
      await gz.close()
    }
  })

  it('once closed, the client sees a connection error that diffwatch retries', async () => {
    const other = await startClickHouseHttpServer({ dataPath: mkdtempSync(join(tmpdir(), 'dw-chhttp2-')) }).catch((e: unknown) => e)
    // one data folder per process: a second engine in this process is refused, like chdb itself
    expect(other).toBeInstanceOf(Error)
    const lone = createClient({ url: server.url.replace(String(server.port), '1'), request_timeout: 2_000 })
    const err = await lone.query({ query: 'SELECT 1' }).catch((e: unknown) => e)
    await lone.close()
    expect(isRetryableClickHouseError(err)).toBe(true)
  })
})

import type { ClickHouseClient } from '@clickhouse/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureDatabase, openClickHouse, type ClickHouseOptions } from './clickhouse.ts'
import { migrate, migrationStatus } from './runner.ts'
import { INSERT_COLUMNS, TABLES } from './tables.ts'

// The server path of the access layer: runs only where CLICKHOUSE_URL names a ClickHouse server
// (the embedded path is covered by the unit tests). The test owns its database and drops it.
const url = process.env['CLICKHOUSE_URL']

describe.skipIf(url === undefined || url === '')('ClickHouse server (CLICKHOUSE_URL)', () => {
  const options: ClickHouseOptions = {
    url,
    username: process.env['CLICKHOUSE_USER'],
    password: process.env['CLICKHOUSE_PASSWORD'],
    database: `dw_migrations_it_${process.pid}_${Date.now()}`,
  }
  const database = options.database ?? ''
  let client: ClickHouseClient

  beforeAll(async () => {
    client = await openClickHouse(options)
  })
  afterAll(async () => {
    await client?.command({ query: `DROP DATABASE IF EXISTS \`${database}\`` })
    await client?.close()
  })

  it('migrates once, selects the database for unqualified names, and reads 64-bit ints as numbers', async () => {
    await ensureDatabase(options)
    expect((await migrate(client, { database })).length).toBeGreaterThanOrEqual(4)
    expect(await migrate(client, { database })).toEqual([])
    expect((await migrationStatus(client, { database })).pending).toEqual([])
    const rs = await client.query({ query: 'SELECT currentDatabase() AS db, toUInt64(1) AS one', format: 'JSONEachRow' })
    expect(await rs.json()).toEqual([{ db: database, one: 1 }])
  })

  it('drops a replayed window chunk carrying the same dedup token', async () => {
    const columns = INSERT_COLUMNS.gpuWindows
    const row: Record<string, unknown> = Object.fromEntries(columns.map((c) => [c, 1]))
    Object.assign(row, { window_start: new Date().toISOString().slice(0, 19).replace('T', ' '), gpu_uuid: 'GPU-1', host: 'h', gpu_name: 'n', worker_id: 'w' })
    for (let i = 0; i < 2; i++) {
      await client.insert({
        table: TABLES.gpuWindows,
        columns: [...columns],
        values: [columns.map((c) => row[c])],
        format: 'JSONCompactEachRow',
        clickhouse_settings: { insert_deduplication_token: 'it-token' },
      })
    }
    const rs = await client.query({ query: `SELECT count() AS n FROM ${TABLES.gpuWindows}`, format: 'JSONEachRow' })
    expect(await rs.json()).toEqual([{ n: 1 }])
  })
})

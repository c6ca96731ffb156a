/**
 * POST /v1/sql against embedded ClickHouse with the migrations applied and a simulated fleet
 * inserted: allowed queries answer the rows computed here from the events themselves; every
 * refusal class is refused with API_SQL_REFUSED naming what; limits cut or stop queries with a
 * code; a runaway query is stopped at the time limit instead of hanging.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ClickHouseClient } from '@clickhouse/client'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createClickHouse, openClickHouse } from '../../migrations/clickhouse.ts'
import { migrate } from '../../migrations/runner.ts'
import { buildApi } from '../app.ts'
import { insertFleet, simulateFleet, type Fleet } from '../test-support/fleet-data.ts'

const MIN = 60_000
const START = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 2 * 3_600_000
const root = mkdtempSync(join(tmpdir(), 'dw-sql-test-'))
const database = 'sql_test'
let client: ClickHouseClient
let sqlClient: ClickHouseClient
let api: FastifyInstance
let fleet: Fleet

beforeAll(async () => {
  fleet = simulateFleet({ seed: 5, requestRate: 2, hosts: 2, gpusPerHost: 2, sampleIntervalMs: 10_000 }, START, 30 * MIN)
  client = await openClickHouse({ dataPath: join(root, 'clickhouse'), database })
  await migrate(client, { database })
  await insertFleet(client, database, fleet)
  // A table in another database, to prove it cannot be reached.
  await client.command({ query: 'CREATE DATABASE IF NOT EXISTS other_db' })
  await client.command({ query: 'CREATE TABLE IF NOT EXISTS other_db.secrets (s String) ENGINE = MergeTree ORDER BY s' })
  // The SQL route gets a client of its own, as `serve` gives it (see sql-guard-engine.ts).
  sqlClient = createClickHouse({ dataPath: join(root, 'clickhouse'), database })
  api = await buildApi({ clickhouse: client, database, sql: { clickhouse: sqlClient, limits: { maxExecutionSeconds: 1, maxResultRows: 50, maxRowsToRead: 2e12 } } })
})
afterAll(async () => {
  await api?.close()
  await sqlClient?.close()
  await client?.close()
  rmSync(root, { recursive: true, force: true })
})

const sql = (body: Record<string, unknown>) => api.inject({ method: 'POST', url: '/v1/sql', payload: body })

async function refused(query: string): Promise<string> {
  const res = await sql({ query })
  expect(res.statusCode, `${query} -> ${res.body}`).toBe(400)
  const body = res.json<{ code: string; detail: string }>()
  expect(body.code, `${query} -> ${res.body}`).toBe('API_SQL_REFUSED')
  return body.detail
}

describe('POST /v1/sql: allowed queries', () => {
  it('answers counts per model equal to the inserted events, with params, CTE, JOIN and subquery', async () => {
    const expected = new Map<string, number>()
    for (const e of fleet.requests) if (e.status === 'ok') expected.set(e.model, (expected.get(e.model) ?? 0) + 1)
    const res = await sql({
      query: `WITH ok AS (SELECT model FROM request_events WHERE status = {status:String})
              SELECT m.model AS model, count() AS n FROM ok AS m
              JOIN (SELECT DISTINCT model FROM request_events) AS d ON d.model = m.model
              WHERE m.model IN (SELECT model FROM request_events) GROUP BY model ORDER BY model`,
      params: { status: 'ok' },
    })
    expect(res.statusCode, res.body).toBe(200)
    const body = res.json<{ rows: Array<{ model: string; n: number }>; columns: Array<{ name: string }>; truncated: boolean; tables: string[]; statistics: { rowsRead: number } }>()
    expect(Object.fromEntries(body.rows.map((r) => [r.model, Number(r.n)]))).toEqual(Object.fromEntries([...expected].sort()))
    expect(body.columns.map((c) => c.name)).toEqual(['model', 'n'])
    expect(body.truncated).toBe(false)
    expect(body.tables).toEqual([`${database}.request_events`])
    expect(body.statistics.rowsRead).toBeGreaterThanOrEqual(fleet.requests.length)
  })

  it('reads the GPU samples and the allowed generators (numbers)', async () => {
    const res = await sql({ query: 'SELECT (SELECT count() FROM gpu_samples) AS samples, (SELECT sum(number) FROM numbers(10)) AS s' })
    expect(res.statusCode, res.body).toBe(200)
    expect(res.json().rows).toEqual([{ samples: fleet.samples.length, s: 45 }])
  })

  it('cuts results at maxRows and says so; CSV carries the cut in a header', async () => {
    const json = await sql({ query: 'SELECT number FROM numbers(1000)', maxRows: 7 })
    expect(json.statusCode, json.body).toBe(200)
    expect(json.json().rows.map((r: { number: number }) => r.number)).toEqual([0, 1, 2, 3, 4, 5, 6])
    expect(json.json().truncated).toBe(true)
    const exact = await sql({ query: 'SELECT number FROM numbers(7)', maxRows: 7 })
    expect(exact.json().truncated).toBe(false)
    const csv = await sql({ query: 'SELECT number AS n FROM numbers(100)', format: 'csv' })
    expect(csv.headers['content-type']).toContain('text/csv')
    expect(csv.headers['x-diffwatch-truncated']).toBe('true')
    expect(csv.body.split('\r\n').filter(Boolean)).toHaveLength(1 + 50)
    const tooMany = await sql({ query: 'SELECT 1', maxRows: 51 })
    expect(tooMany.statusCode).toBe(400)
  })

  it('stops a runaway query at the time limit with a 422 and a code, not a hang', async () => {
    const started = Date.now()
    const res = await sql({ query: 'SELECT count() FROM numbers(1000000000000) WHERE sipHash64(number) = 0' })
    const elapsed = Date.now() - started
    expect(res.statusCode, res.body).toBe(422)
    expect(res.json().code).toBe('API_SQL_TIMEOUT')
    expect(elapsed).toBeLessThan(10_000)
  })

  it('answers the next query correctly after a timeout (chdb left the stopped query\'s output in the session)', async () => {
    const [slow, next] = await Promise.all([
      sql({ query: 'SELECT number FROM numbers(1000000000000) WHERE number % 1000000000 = 0' }),
      sql({ query: 'SELECT number FROM numbers(3)' }),
    ])
    expect(slow.json().code).toBe('API_SQL_TIMEOUT')
    expect(next.statusCode, next.body).toBe(200)
    expect(next.json().rows).toEqual([{ number: 0 }, { number: 1 }, { number: 2 }])
    const after = await sql({ query: 'SELECT count() AS n FROM request_events' })
    expect(after.json().rows).toEqual([{ n: fleet.requests.length }])
  })

  it('refuses a query that would read more rows than allowed, with API_SQL_LIMIT_EXCEEDED', async () => {
    const res = await sql({ query: 'SELECT count() FROM numbers(10000000000000)' })
    expect(res.statusCode, res.body).toBe(422)
    expect(res.json().code).toBe('API_SQL_LIMIT_EXCEEDED')
  })

  it('answers a syntax error or unknown column as API_SQL_INVALID with ClickHouse words', async () => {
    const syntax = await sql({ query: 'SELEC 1' })
    expect(syntax.statusCode).toBe(400)
    expect(syntax.json().code).toBe('API_SQL_INVALID')
    const column = await sql({ query: 'SELECT no_such_column FROM request_events' })
    expect(column.json().code).toBe('API_SQL_INVALID')
    expect(column.json().detail).toContain('no_such_column')
  })
})

describe('POST /v1/sql: refusals', () => {
  it.each([
    ['INSERT', "INSERT INTO request_events (event_id) VALUES ('x')", 'INSERT'],
    ['ALTER', 'ALTER TABLE request_events DELETE WHERE 1', 'ALTER'],
    ['DROP', 'DROP TABLE request_events', 'DROP'],
    ['TRUNCATE', 'TRUNCATE TABLE request_events', 'TRUNCATE'],
    ['CREATE', 'CREATE TABLE x (a Int8) ENGINE = Memory', 'CREATE'],
    ['SET', 'SET readonly = 0', 'SET'],
    ['SYSTEM', 'SYSTEM SHUTDOWN', 'SYSTEM'],
    ['KILL', "KILL QUERY WHERE query_id = 'x'", 'KILL'],
  ])('refuses %s', async (_name, query, word) => {
    expect(await refused(query)).toContain(word)
  })

  it('refuses two statements (and runs neither)', async () => {
    const before = await (await client.query({ query: 'SELECT count() AS n FROM request_events', format: 'JSONEachRow' })).json<{ n: number }>()
    const res = await sql({ query: 'SELECT 1; DROP TABLE request_events' })
    expect(res.statusCode).toBe(400)
    expect(['API_SQL_REFUSED', 'API_SQL_INVALID']).toContain(res.json().code)
    expect(res.json().detail).toMatch(/Multi-statements/)
    const after = await (await client.query({ query: 'SELECT count() AS n FROM request_events', format: 'JSONEachRow' })).json<{ n: number }>()
    expect(after).toEqual(before)
    expect(Number(after[0]?.n)).toBe(fleet.requests.length)
  })

  it('refuses SETTINGS clauses that would lift limits, at any depth', async () => {
    expect(await refused('SELECT 1 SETTINGS readonly = 0')).toContain('SETTINGS')
    expect(await refused('SELECT 1 SETTINGS max_execution_time = 3600')).toContain('SETTINGS')
    expect(await refused('SELECT * FROM (SELECT count() FROM numbers(10) SETTINGS readonly = 0)')).toContain('SETTINGS')
  })

  it('refuses FORMAT and INTO OUTFILE', async () => {
    const format = await sql({ query: 'SELECT 1 FORMAT JSON' })
    expect(format.statusCode).toBe(400) // a second FORMAT after the client's own: ClickHouse's parser refuses it
    expect(format.json().detail).toContain('FORMAT')
    expect(await refused("SELECT 1 INTO OUTFILE '/tmp/dw-sql-outfile'")).toContain('OUTFILE')
  })

  it.each([
    ["file('/etc/passwd', LineAsString)", 'file'],
    ["url('http://127.0.0.1:1/x', CSV, 'a String')", 'url'],
    ["s3('http://127.0.0.1:1/b/k.csv', CSV, 'a String')", 's3'],
    ["remote('127.0.0.1:9000', system.one)", 'remote'],
    ["mysql('127.0.0.1:3306', 'db', 't', 'u', 'p')", 'mysql'],
    ['executable(\'id\', TabSeparated, \'a String\')', 'executable'],
    ["merge('other_db', '.*')", 'merge'],
  ])('refuses the table function %s', async (call, name) => {
    expect(await refused(`SELECT * FROM ${call}`)).toContain(`${name}()`)
  })

  it('refuses functions that read files or dictionaries', async () => {
    expect(await refused("SELECT file('/etc/passwd')")).toContain('file()')
    expect(await refused("SELECT dictGet('d', 'a', toUInt64(1))")).toContain('dictGet()')
  })

  it('refuses system, information_schema, other databases and the key table', async () => {
    expect(await refused('SELECT * FROM system.tables')).toContain('system tables')
    expect(await refused('SELECT * FROM information_schema.tables')).toContain('information_schema')
    expect(await refused('SELECT * FROM INFORMATION_SCHEMA.TABLES')).toContain('information_schema')
    expect(await refused('SELECT * FROM other_db.secrets')).toContain('outside')
    expect(await refused('SELECT * FROM api_keys')).toContain('api_keys')
    expect(await refused(`SELECT * FROM ${database}.schema_migrations`)).toContain('schema_migrations')
  })

  it('refuses system tables and url() hidden in subqueries, CTEs, JOINs and IN', async () => {
    expect(await refused('SELECT * FROM (SELECT * FROM system.tables)')).toContain('system')
    expect(await refused('WITH t AS (SELECT name FROM system.tables) SELECT * FROM t')).toContain('system')
    expect(await refused('SELECT model FROM request_events AS r JOIN system.one AS o ON 1 = 1')).toContain('system')
    expect(await refused('SELECT 1 WHERE 1 IN system.tables')).toContain('system')
    expect(await refused('SELECT (SELECT count() FROM system.processes)')).toContain('system')
    expect(await refused("WITH u AS (SELECT * FROM url('http://127.0.0.1:1/x', CSV, 'a String')) SELECT * FROM u")).toContain('url()')
    expect(await refused("SELECT * FROM request_events WHERE model IN (SELECT a FROM url('http://127.0.0.1:1/x', CSV, 'a String'))")).toContain('url()')
  })

  it('runs nothing of a refused query: a refused url() is never fetched', async () => {
    // A port nobody listens on answers at once; a fetch attempt would surface as a connection error, not a refusal.
    const res = await sql({ query: "SELECT count() FROM url('http://127.0.0.1:9/x', CSV, 'a String')" })
    expect(res.json().code).toBe('API_SQL_REFUSED')
  })
})

/**
 * Regression tests for the defects the api-attack chaos scenario found (test/chaos/scenarios/
 * api-attack.ts), each named after what broke, on embedded ClickHouse with real keys:
 * - a read key ran SQL through `/v1/%73ql` (the guard read the scope from the raw URL);
 * - invalid UTF-8 and a BOM in a JSON body were decoded leniently and the SQL ran;
 * - `"query": false` was coerced to the SQL `false` and ran;
 * - a known path with another method answered 404, not 405 with Allow;
 * - a NUL character in the SQL or a parameter answered 500 (found by the full schemathesis run).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ClickHouseClient } from '@clickhouse/client'
import type { FastifyInstance, InjectOptions } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openClickHouse } from '../migrations/clickhouse.ts'
import { migrate } from '../migrations/runner.ts'
import { buildApi } from './app.ts'
import { createKeyStore } from './auth/key-store.ts'
import { createKeyVerifier } from './auth/key-verifier.ts'

const root = mkdtempSync(join(tmpdir(), 'dw-attack-regressions-'))
const database = 'attack_regressions'
let client: ClickHouseClient
let api: FastifyInstance
const keys = { read: '', sql: '' }

beforeAll(async () => {
  client = await openClickHouse({ dataPath: join(root, 'clickhouse'), database })
  await migrate(client, { database })
  const store = createKeyStore(client, database)
  keys.read = (await store.create('reader', ['read'])).key
  keys.sql = (await store.create('notebook', ['sql'])).key
  api = await buildApi({ clickhouse: client, database, docs: false, dashboard: false, auth: { mode: 'required', verifier: createKeyVerifier(store, { cacheSeconds: 30 }) } })
})
afterAll(async () => {
  await api?.close()
  await client?.close()
  rmSync(root, { recursive: true, force: true })
})

const sql = (key: string, payload: Buffer | string, url = '/v1/sql', extra: InjectOptions['headers'] = {}) =>
  api.inject({ method: 'POST', url, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...extra }, payload })

describe('defects found by the api-attack chaos scenario', () => {
  it('a read key cannot reach /v1/sql through a percent-encoded path', async () => {
    const res = await sql(keys.read, JSON.stringify({ query: 'SELECT 1' }), '/v1/%73ql')
    expect(res.statusCode, res.body).toBe(403)
    expect(res.json().code).toBe('API_FORBIDDEN')
    // The same key on the plain path is refused the same way, and the sql key still works there.
    expect((await sql(keys.read, JSON.stringify({ query: 'SELECT 1' }))).statusCode).toBe(403)
    expect((await sql(keys.sql, JSON.stringify({ query: 'SELECT 1' }), '/v1/%73ql')).statusCode).toBe(200)
  })

  it('refuses a JSON body with invalid UTF-8 or a BOM instead of running what it decoded', async () => {
    const invalid = Buffer.concat([Buffer.from('{"query":"SELECT \''), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('\' AS x"}')])
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"query":"SELECT 1"}')])
    for (const body of [invalid, bom]) {
      const res = await sql(keys.sql, body)
      expect(res.statusCode, res.body).toBe(400)
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
      expect(res.json().code).toBe('API_BAD_REQUEST')
    }
    // Valid UTF-8 beyond ASCII still passes through unchanged.
    const ok = await sql(keys.sql, JSON.stringify({ query: "SELECT 'é€😀' AS x" }))
    expect(ok.json().rows).toEqual([{ x: 'é€😀' }])
  })

  it('does not coerce a non-string query into SQL', async () => {
    for (const query of [false, 0, null]) {
      const res = await sql(keys.sql, JSON.stringify({ query }))
      expect(res.statusCode, res.body).toBe(400)
      expect(res.json().code).toBe('API_BAD_REQUEST')
    }
    const badParam = await sql(keys.sql, JSON.stringify({ query: 'SELECT 1', params: { 'x-y': [{}] } }))
    expect(badParam.statusCode, badParam.body).toBe(400)
  })

  it('refuses a NUL character in the SQL or in a parameter with a 400 instead of failing with a 500', async () => {
    const bodies = [
      { query: ')\u0017\f>\u009d8\u0011\rO\u007f\ud802\udfe9J\u00c4\u00ac\u001b\udaff\udfdd\u00d3\u00ddU\u0000\u00e7' }, // schemathesis' case
      { query: 'SELECT 1\u0000' },
      { query: 'SELECT {p:String} AS p', params: { p: 'a\u0000b' } },
      { query: 'SELECT {p:Array(String)} AS p', params: { p: ['a', 'b\u0000'] } },
    ]
    for (const body of bodies) {
      const res = await sql(keys.sql, JSON.stringify(body))
      expect(res.statusCode, res.body).toBe(400)
      expect(res.json()).toMatchObject({ code: 'API_SQL_INVALID', detail: expect.stringContaining('NUL') })
    }
    // The same parameter without the NUL runs.
    const ok = await sql(keys.sql, JSON.stringify({ query: 'SELECT {p:String} AS p', params: { p: 'ab' } }))
    expect(ok.json().rows).toEqual([{ p: 'ab' }])
  })

  it('answers 405 with Allow for a known path asked with another method, 404 for an unknown path', async () => {
    const trace = await api.inject({ method: 'TRACE', url: '/healthz' })
    expect(trace.statusCode).toBe(405)
    expect(trace.headers['allow']).toBe('GET, HEAD')
    expect(trace.json().code).toBe('API_METHOD_NOT_ALLOWED')
    const get = await api.inject({ method: 'GET', url: '/v1/sql', headers: { authorization: `Bearer ${keys.sql}` } })
    expect(get.statusCode).toBe(405)
    expect(get.headers['allow']).toBe('POST')
    expect((await api.inject({ method: 'GET', url: '/no/such/path' })).statusCode).toBe(404)
    // The key check comes first: a wrong method on a /v1 path without a key is a 401.
    expect((await api.inject({ method: 'GET', url: '/v1/sql' })).statusCode).toBe(401)
  })
})

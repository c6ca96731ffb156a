/**
 * API keys end to end through Fastify's inject, on embedded ClickHouse with the migrations
 * applied: create -> use -> revoke -> 401 after the cache TTL; wrong scope 403; missing,
 * malformed, tampered and unknown keys 401 with WWW-Authenticate; only hashes at rest; public
 * routes stay public; rate limits per key and per IP with their headers; a log without secrets.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import type { ClickHouseClient } from '@clickhouse/client'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openClickHouse } from '../../migrations/clickhouse.ts'
import { migrate } from '../../migrations/runner.ts'
import { buildApi } from '../app.ts'
import { hashSecret, parseKey } from './api-key.ts'
import { createKeyStore, type KeyStore } from './key-store.ts'
import { createKeyVerifier } from './key-verifier.ts'

const root = mkdtempSync(join(tmpdir(), 'dw-auth-test-'))
const database = 'auth_test'
const CACHE_SECONDS = 30
let client: ClickHouseClient
let store: KeyStore
let api: FastifyInstance
let clock = Date.now()
const logLines: string[] = []
const keys: Record<'read' | 'sql' | 'both', string> = { read: '', sql: '', both: '' }

beforeAll(async () => {
  client = await openClickHouse({ dataPath: join(root, 'clickhouse'), database })
  await migrate(client, { database })
  store = createKeyStore(client, database)
  keys.read = (await store.create('grafana', ['read'])).key
  keys.sql = (await store.create('notebook', ['sql'])).key
  keys.both = (await store.create('analyst', ['read', 'sql'])).key
  const verifier = createKeyVerifier(store, { cacheSeconds: CACHE_SECONDS, now: () => clock })
  const stream = new Writable({ write(chunk, _enc, done) { logLines.push(String(chunk)); done() } })
  api = await buildApi({
    clickhouse: client, database, now: () => clock, log: { level: 'info', stream },
    auth: { mode: 'required', verifier },
    rateLimits: { api: { perMinute: 60, burst: 100 }, sql: { perMinute: 6, burst: 3 }, maxClients: 100 },
  })
})
afterAll(async () => {
  await api?.close()
  await client?.close()
  rmSync(root, { recursive: true, force: true })
})

const get = (url: string, headers: Record<string, string> = {}) => api.inject({ method: 'GET', url, headers })
const bearer = (key: string) => ({ authorization: `Bearer ${key}` })
const sqlCall = (key: string, query = 'SELECT 1 AS one') => api.inject({ method: 'POST', url: '/v1/sql', headers: bearer(key), payload: { query } })

describe('API keys', () => {
  it('accepts a valid key by Bearer header and by X-API-Key', async () => {
    expect((await get('/v1/throughput', bearer(keys.read))).statusCode).toBe(200)
    expect((await get('/v1/throughput', { 'x-api-key': keys.read })).statusCode).toBe(200)
  })

  it('answers 401 with WWW-Authenticate for missing, malformed, tampered and unknown keys', async () => {
    const parsed = parseKey(keys.read)!
    const flipped = parsed.secret.slice(0, -1) + (parsed.secret.endsWith('A') ? 'B' : 'A')
    const cases = [
      {},
      bearer('not-a-key'),
      bearer(`dwk_${parsed.keyId}_${flipped}`),
      bearer(`dwk_0123456789abcdef_${parsed.secret}`),
      { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` },
    ]
    for (const headers of cases) {
      const res = await get('/v1/throughput', headers)
      expect(res.statusCode, JSON.stringify(headers)).toBe(401)
      expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="diffwatch"/)
      expect(res.headers['content-type']).toContain('application/problem+json')
      expect(res.json().code).toBe('API_UNAUTHORIZED')
    }
  })

  it('answers 403 for a key without the scope, on either side', async () => {
    const noSql = await sqlCall(keys.read)
    expect(noSql.statusCode).toBe(403)
    expect(noSql.json()).toMatchObject({ code: 'API_FORBIDDEN' })
    expect(noSql.json().detail).toContain("'sql' scope")
    const noRead = await get('/v1/errors', bearer(keys.sql))
    expect(noRead.statusCode).toBe(403)
    const ok = await sqlCall(keys.both)
    expect(ok.statusCode, ok.body).toBe(200)
    expect(ok.json().rows).toEqual([{ one: 1 }])
  })

  it('keeps health, readiness, docs, the OpenAPI document and the dashboard public, and declares the scheme', async () => {
    for (const url of ['/healthz', '/readyz', '/openapi.json', '/dashboard', '/dashboard/app.js']) {
      expect((await get(url)).statusCode, url).toBe(200)
    }
    const doc = (await get('/openapi.json')).json()
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['apiKeyHeader', 'bearerAuth'])
    expect(doc.paths['/v1/sql'].post.security).toEqual([{ bearerAuth: [] }, { apiKeyHeader: [] }])
    expect(doc.paths['/healthz'].get.security).toBeUndefined()
  })

  it('stores only hashes: no secret anywhere in the key tables', async () => {
    const rows = await (await client.query({ query: `SELECT * FROM ${database}.api_keys`, format: 'JSONEachRow' })).json<Record<string, unknown>>()
    const dump = JSON.stringify(rows) + (await (await client.query({ query: `SELECT * FROM ${database}.api_key_usage`, format: 'JSONEachRow' })).text())
    expect(rows.length).toBe(3)
    for (const key of Object.values(keys)) {
      const { keyId, secret } = parseKey(key)!
      expect(dump).not.toContain(secret)
      expect(dump).toContain(hashSecret(keyId, secret))
    }
  })

  it('revokes: a revoked key keeps working only until the cache TTL, then gets 401', async () => {
    const { key, record } = await store.create('temporary', ['read'])
    expect((await get('/v1/throughput', bearer(key))).statusCode).toBe(200)
    await store.revoke(record.keyId)
    expect((await store.list()).find((k) => k.keyId === record.keyId)?.revokedAt).not.toBeNull()
    // Cached lookup: revocation is documented to take up to API_KEY_CACHE_SECONDS.
    expect((await get('/v1/throughput', bearer(key))).statusCode).toBe(200)
    clock += (CACHE_SECONDS + 1) * 1000
    const res = await get('/v1/throughput', bearer(key))
    expect(res.statusCode).toBe(401)
    expect(res.json().detail).toContain('revoked')
  })
})

describe('rate limits', () => {
  it('lets a burst through, then answers 429 with Retry-After and RateLimit headers, and refills', async () => {
    const statuses: number[] = []
    let last = await sqlCall(keys.both)
    statuses.push(last.statusCode)
    expect(last.headers['ratelimit-limit']).toBe('3')
    expect(last.headers['ratelimit-remaining']).toBe('2')
    for (let i = 0; i < 3; i++) {
      last = await sqlCall(keys.both)
      statuses.push(last.statusCode)
    }
    expect(statuses).toEqual([200, 200, 200, 429])
    expect(last.json().code).toBe('API_RATE_LIMITED')
    expect(last.headers['retry-after']).toBe('10') // 6 per minute: one token every 10 s
    expect(last.headers['ratelimit-remaining']).toBe('0')
    expect(last.headers['ratelimit-reset']).toBe('30')
    // Another key has its own bucket; the read routes have their own policy.
    expect((await sqlCall(keys.sql)).statusCode).toBe(200)
    expect((await get('/v1/throughput', bearer(keys.both))).statusCode).toBe(200)
    clock += 10_000
    expect((await sqlCall(keys.both)).statusCode).toBe(200)
    expect((await sqlCall(keys.both)).statusCode).toBe(429)
  })

  it('limits unauthenticated and failing callers per IP', async () => {
    const codes: number[] = []
    for (let i = 0; i < 4; i++) codes.push((await api.inject({ method: 'POST', url: '/v1/sql', payload: { query: 'SELECT 1' }, remoteAddress: '10.9.9.9' })).statusCode)
    expect(codes).toEqual([401, 401, 401, 429])
  })
})

describe('request log', () => {
  it('logs one line per request with the key id, never the key', async () => {
    logLines.length = 0
    const { keyId, secret } = parseKey(keys.both)!
    await get('/v1/throughput', bearer(keys.both))
    await get('/v1/throughput', { 'x-api-key': keys.both })
    await get(`/v1/throughput?key=${encodeURIComponent(keys.both)}`, bearer(keys.both))
    await api.inject({ method: 'POST', url: '/v1/sql', headers: bearer(keys.sql), payload: { query: 'SELECT count() FROM numbers(1000)' } })
    const text = logLines.join('')
    expect(text).not.toContain(secret)
    expect(text).not.toContain(parseKey(keys.sql)!.secret)
    const lines = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['msg'] === 'request')
    expect(lines).toHaveLength(4)
    expect(lines.slice(0, 3).map((l) => [l['method'], l['route'], l['keyId']])).toEqual([
      ['GET', '/v1/throughput', keyId], ['GET', '/v1/throughput', keyId], ['GET', '/v1/throughput', keyId],
    ])
    expect(lines[2]?.['status']).toBe(400) // `key` is not a parameter of the route: refused, and not logged
    expect(lines[3]).toMatchObject({ route: '/v1/sql', status: 200, rowsRead: 1000 })
  })
})

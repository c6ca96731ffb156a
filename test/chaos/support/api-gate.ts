/**
 * The API's front door under attack: auth bypass attempts (each must be a 401 or 403 problem),
 * the rate limiter (a burst over the bucket gets 429 with Retry-After and RateLimit-* headers,
 * answers again after the refill, unauthenticated floods are limited per address), and
 * content-type tricks on POST /v1/sql (each a 4xx problem, never executed).
 */
import { parseKey } from '../../../query-api/auth/api-key.ts'
import type { ApiTarget } from './api-target.ts'
import { codeOf, isProblem, send, Tally, type Answer } from './api-probes.ts'
import { sleep } from './figures.ts'

const READ_PATH = '/v1/errors'
const bearer = (key: string): [string, string] => ['Authorization', `Bearer ${key}`]

function flipLast(s: string): string {
  const last = s.at(-1)
  return s.slice(0, -1) + (last === 'A' ? 'B' : 'A')
}

export async function attackAuth(t: ApiTarget): Promise<Tally> {
  const tally = new Tally()
  const { read, sql, revoked } = t.keys
  const readId = parseKey(read)!.keyId
  const otherId = readId.slice(0, -1) + (readId.endsWith('0') ? '1' : '0')
  const tamperedId = read.replace(readId, otherId)
  const refused = async (name: string, method: string, path: string, headers: [string, string][], statuses: number[], body?: string) => {
    const a = await send(t.mainUrl, method, path, headers, body)
    tally.record(method, `${path} [${name}]`, a, statuses.includes(a.status) && isProblem(a), true, `expected ${statuses.join('/')}`)
  }
  const sqlBody = JSON.stringify({ query: 'SELECT 1' })
  const json: [string, string] = ['Content-Type', 'application/json']

  // The revoked key is seen valid first, so it sits in the verifier's cache when it is revoked.
  const before = await send(t.mainUrl, 'GET', READ_PATH, [bearer(revoked)])
  tally.record('GET', `${READ_PATH} [revoked key, before revocation]`, before, before.status === 200, false, 'expected 200')
  await t.store.revoke(parseKey(revoked)!.keyId)
  await sleep(t.cacheSeconds * 1000 + 300)

  await refused('no key', 'GET', READ_PATH, [], [401])
  await refused('malformed bearer', 'GET', READ_PATH, [['Authorization', 'Bearer not-a-key']], [401])
  await refused('empty bearer', 'GET', READ_PATH, [['Authorization', 'Bearer ']], [401])
  await refused('tampered secret', 'GET', READ_PATH, [bearer(flipLast(read))], [401])
  await refused('tampered id', 'GET', READ_PATH, [bearer(tamperedId)], [401])
  await refused('key with trailing junk', 'GET', READ_PATH, [['Authorization', `Bearer ${read} x`]], [401])
  await refused('revoked key after the cache TTL', 'GET', READ_PATH, [bearer(revoked)], [401])
  await refused('revoked key as X-API-Key', 'GET', READ_PATH, [['X-API-Key', revoked]], [401])
  await refused('read key on /v1/sql', 'POST', '/v1/sql', [bearer(read), json], [403], sqlBody)
  await refused('sql key on a read route', 'GET', READ_PATH, [bearer(sql)], [403])
  await refused('key in the query string (key)', 'GET', `${READ_PATH}?key=${read}`, [], [401])
  await refused('key in the query string (api_key)', 'GET', `${READ_PATH}?api_key=${read}`, [], [401])
  await refused('Basic auth with the key as user', 'GET', READ_PATH, [['Authorization', `Basic ${Buffer.from(`${read}:`).toString('base64')}`]], [401])
  await refused('Basic auth with the key as password', 'GET', READ_PATH, [['Authorization', `Basic ${Buffer.from(`admin:${read}`).toString('base64')}`]], [401])
  await refused('lowercase scheme, tampered key', 'GET', READ_PATH, [['authorization', `bearer ${flipLast(read)}`]], [401])
  await refused('odd header casing, tampered key', 'GET', READ_PATH, [['aUtHoRiZaTiOn', `BEARER ${tamperedId}`]], [401])
  await refused('double Authorization: tampered then valid', 'GET', READ_PATH, [bearer(flipLast(read)), bearer(read)], [401])
  await refused('double Authorization: read then sql key on /v1/sql', 'POST', '/v1/sql', [bearer(read), bearer(sql), json], [403], sqlBody)
  await refused('bad Authorization beside a valid X-API-Key', 'POST', '/v1/sql', [['Authorization', 'Bearer nope'], ['X-API-Key', sql], json], [401], sqlBody)
  // Path spellings that could slip past a prefix check on the raw URL.
  await refused('read key on /v1/%73ql', 'POST', '/v1/%73ql', [bearer(read), json], [401, 403, 404], sqlBody)
  await refused('read key on /v1/sql/', 'POST', '/v1/sql/', [bearer(read), json], [401, 403, 404], sqlBody)
  await refused('no key on //v1/sql', 'POST', '//v1/sql', [json], [401, 403, 404], sqlBody)
  await refused('no key on /v1/./sql', 'POST', '/v1/./sql', [json], [401, 403, 404], sqlBody)
  await refused('no key on /V1/errors', 'GET', '/V1/errors', [], [401, 403, 404])
  await refused('no key on /v1%2ferrors', 'GET', '/v1%2ferrors', [], [401, 403, 404])
  return tally
}

function hasRateHeaders(a: Answer): boolean {
  return ['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset'].every((h) => a.headers[h] !== undefined)
}

export async function attackRateLimit(t: ApiTarget): Promise<{ tally: Tally; retryAfterSeconds: number }> {
  const tally = new Tally()
  const { apiBurst, apiPerMinute, sqlBurst } = t.strictLimits
  const burst = async (n: number, method: string, path: string, headers: [string, string][], body?: string) => {
    const started = performance.now()
    const answers = await Promise.all(Array.from({ length: n }, () => send(t.strictUrl, method, path, headers, body)))
    return { answers, elapsedS: (performance.now() - started) / 1000 }
  }
  const judge = (label: string, method: string, path: string, r: { answers: Answer[]; elapsedS: number }, size: number, perMinute: number, passStatus: number) => {
    // Tokens refilled while the burst ran may let a few more through; never more than that.
    const mostAllowed = size + Math.floor((r.elapsedS * perMinute) / 60)
    let allowed = 0
    for (const a of r.answers) {
      if (a.status === passStatus) {
        allowed++
        tally.record(method, `${path} [${label}]`, a, allowed <= mostAllowed && hasRateHeaders(a), false, `more than ${mostAllowed} let through`)
      } else {
        const ok = a.status === 429 && codeOf(a) === 'API_RATE_LIMITED' && Number(a.headers['retry-after']) >= 1 && hasRateHeaders(a)
        tally.record(method, `${path} [${label}]`, a, ok, true, 'expected 429 with Retry-After and RateLimit-*')
      }
    }
    if (allowed < size) tally.problems.push(`${label}: only ${allowed} of a bucket of ${size} answered ${passStatus}`)
  }
  const n = apiBurst * 3
  const keyed = await burst(n, 'GET', READ_PATH, [bearer(t.keys.read)])
  judge('burst with a read key', 'GET', READ_PATH, keyed, apiBurst, apiPerMinute, 200)
  const limited = keyed.answers.find((a) => a.status === 429)
  const retryAfterSeconds = Number(limited?.headers['retry-after'] ?? 1)
  await sleep(retryAfterSeconds * 1000 + 200)
  const again = await send(t.strictUrl, 'GET', READ_PATH, [bearer(t.keys.read)])
  tally.record('GET', `${READ_PATH} [after Retry-After]`, again, again.status === 200, false, 'expected 200 after the refill')

  const flood = await burst(n, 'GET', READ_PATH, [])
  judge('unauthenticated flood from one address', 'GET', READ_PATH, flood, apiBurst, apiPerMinute, 401)
  const sqlRun = await burst(sqlBurst * 3, 'POST', '/v1/sql', [bearer(t.keys.sql), ['Content-Type', 'application/json']], JSON.stringify({ query: 'SELECT 1 AS one' }))
  judge('SQL burst with an sql key', 'POST', '/v1/sql', sqlRun, sqlBurst, 60, 200)
  return { tally, retryAfterSeconds }
}

export async function attackContentTypes(t: ApiTarget): Promise<Tally> {
  const tally = new Tally()
  const auth = bearer(t.keys.sql)
  const query = 'SELECT count() AS n FROM request_events'
  const json = JSON.stringify({ query })
  const invalidUtf8 = Buffer.concat([Buffer.from('{"query":"SELECT \''), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('\' AS x"}')])
  const cases: { name: string; headers: [string, string][]; body: Buffer | string }[] = [
    { name: 'text/plain', headers: [['Content-Type', 'text/plain']], body: json },
    { name: 'form-urlencoded', headers: [['Content-Type', 'application/x-www-form-urlencoded']], body: `query=${encodeURIComponent(query)}` },
    { name: 'multipart', headers: [['Content-Type', 'multipart/form-data; boundary=x']], body: `--x\r\nContent-Disposition: form-data; name="query"\r\n\r\n${query}\r\n--x--\r\n` },
    { name: 'missing content type', headers: [], body: json },
    { name: 'JSON with a BOM', headers: [['Content-Type', 'application/json']], body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(json)]) },
    { name: '10 MB body', headers: [['Content-Type', 'application/json']], body: JSON.stringify({ query: `SELECT '${'x'.repeat(10 * 1024 * 1024)}'` }) },
    { name: 'deeply nested JSON', headers: [['Content-Type', 'application/json']], body: `{"query":${'['.repeat(100_000)}${']'.repeat(100_000)}}` },
    { name: 'invalid UTF-8', headers: [['Content-Type', 'application/json']], body: invalidUtf8 },
    { name: 'JSON array body', headers: [['Content-Type', 'application/json']], body: `[${json}]` },
    { name: 'duplicate query keys', headers: [['Content-Type', 'application/json']], body: `{"query":"SELECT 1","query":"DROP TABLE request_events"}` },
    { name: '__proto__ key', headers: [['Content-Type', 'application/json']], body: `{"query":"SELECT 1","__proto__":{"format":"csv"}}` },
  ]
  for (const c of cases) {
    const a = await send(t.mainUrl, 'POST', '/v1/sql', [auth, ...c.headers], c.body)
    // A refused body never reaches ClickHouse, so no row count comes back.
    const ok = a.status >= 400 && a.status < 500 && isProblem(a)
    tally.record('POST', `/v1/sql [${c.name}]`, a, ok, true, 'expected a 4xx problem')
  }
  return tally
}

/**
 * SQL injection against the query API: classic payloads in every query parameter of every GET
 * route named by /openapi.json (expected: a 200, or a 4xx problem+json; never a 5xx), and the
 * refusal classes of POST /v1/sql, each expected with its own code. Afterwards the seeded table
 * must still hold exactly the rows it was seeded with (nothing written, nothing dropped).
 */
import type { ChaosRow } from '../scenario.ts'
import { codeOf, isProblem, send, Tally } from './api-probes.ts'

export const INJECTION_PAYLOADS: readonly string[] = [
  "'", '"', "' OR '1'='1", "') OR 1=1 --", "' OR 1=1 --", '1 OR 1=1', "1'; DROP TABLE request_events; --",
  '1; DROP TABLE request_events', "' UNION SELECT secret_hash FROM api_keys --", '1 UNION ALL SELECT name FROM system.tables',
  "x' /* comment */ OR '1'='1", '-- ', '/*', "\\' OR 1=1 --", "\\\\'; SELECT 1 --", '\u2019 OR 1=1 --', '\u02bc OR \u02bc1\u02bc=\u02bc1',
  "a\u0000' OR 1=1", '%s%s%s%n%x', '{name:String}', "{x:String}') OR 1=1 --", '${7*7}', '`whoami`', "'; SELECT * FROM file('/etc/passwd') --",
  `'${'A'.repeat(10_000)}`, 'NULL', '0x27', "1' AND sleep(3) --",
]

type OpenApi = { paths: Record<string, Record<string, { parameters?: { name: string; in: string }[] }>> }

/** GET routes with their query parameter names, read from the served OpenAPI document. */
export async function getRoutes(baseUrl: string): Promise<{ path: string; params: string[] }[]> {
  const doc = (await (await fetch(`${baseUrl}/openapi.json`)).json()) as OpenApi
  return Object.entries(doc.paths)
    .filter(([, ops]) => ops['get'] !== undefined)
    .map(([path, ops]) => ({ path, params: (ops['get']?.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name) }))
}

async function pool<T>(items: T[], width: number, each: (item: T) => Promise<void>): Promise<void> {
  let at = 0
  await Promise.all(Array.from({ length: width }, async () => {
    while (at < items.length) await each(items[at++]!)
  }))
}

export async function injectEveryParameter(baseUrl: string, readKey: string): Promise<{ tally: Tally; routes: number; parameters: number }> {
  const routes = await getRoutes(baseUrl)
  const tally = new Tally()
  const attempts = routes.flatMap((r) => r.params.flatMap((p) => INJECTION_PAYLOADS.map((v) => ({ path: r.path, url: `${r.path}?${new URLSearchParams({ [p]: v })}` }))))
  await pool(attempts, 4, async (a) => {
    const res = await send(baseUrl, 'GET', a.url, [['Authorization', `Bearer ${readKey}`]])
    const ok = res.status === 200 || (res.status >= 400 && res.status < 500 && isProblem(res))
    tally.record('GET', a.url, res, ok, false, ok ? '' : 'expected 200 or a 4xx problem')
  })
  return { tally, routes: routes.length, parameters: routes.reduce((n, r) => n + r.params.length, 0) }
}

/** Each refusal class of POST /v1/sql with the codes its answer may carry. */
export const SQL_ATTACKS: { name: string; query: string; codes: string[]; status: number }[] = [
  { name: 'insert', query: "INSERT INTO request_events (event_id) VALUES ('x')", codes: ['API_SQL_REFUSED'], status: 400 },
  { name: 'alter delete', query: 'ALTER TABLE request_events DELETE WHERE 1', codes: ['API_SQL_REFUSED'], status: 400 },
  { name: 'drop table', query: 'DROP TABLE request_events', codes: ['API_SQL_REFUSED'], status: 400 },
  { name: 'create table', query: 'CREATE TABLE evil (x String) ENGINE = Memory', codes: ['API_SQL_REFUSED'], status: 400 },
  { name: 'truncate', query: 'TRUNCATE TABLE request_events', codes: ['API_SQL_REFUSED'], status: 400 },
  { name: 'stacked statements', query: 'SELECT 1; DROP TABLE request_events', codes: ['API_SQL_REFUSED', 'API_SQL_INVALID'], status: 400 },
  { name: 'SET a limit', query: 'SET max_execution_time = 0', codes: ['API_SQL_REFUSED'], status: 400 },
  { name: 'SETTINGS clause', query: 'SELECT count() FROM request_events SETTINGS max_rows_to_read = 0', codes: ['API_SQL_REFUSED'], status: 400 },
  { name: 'SETTINGS readonly=0 in a subquery', query: 'SELECT * FROM (SELECT 1 SETTINGS readonly = 0)', codes: ['API_SQL_REFUSED'], status: 400 },
  { name: 'file()', query: "SELECT * FROM file('/etc/passwd', 'LineAsString')", codes: ['API_SQL_REFUSED'], status: 400 },
  { name: 'url()', query: "SELECT * FROM url('http://127.0.0.1:1/x', 'CSV', 'a String')", codes: ['API_SQL_REFUSED'], status: 400 },
  { name: 's3()', query: "SELECT * FROM s3('http://127.0.0.1:1/b/k.csv', 'CSV', 'a String')", codes: ['API_SQL_REFUSED'], status: 400 },
  { name: 'remote()', query: "SELECT * FROM remote('127.0.0.1:9000', system.one)", codes: ['API_SQL_REFUSED'], status: 400 },
  { name: 'system table', query: 'SELECT name FROM system.tables', codes: ['API_SQL_REFUSED'], status: 400 },
  { name: 'information_schema', query: 'SELECT * FROM information_schema.tables', codes: ['API_SQL_REFUSED'], status: 400 },
  { name: 'key table', query: 'SELECT secret_hash FROM api_keys', codes: ['API_SQL_REFUSED'], status: 400 },
  { name: 'key table via UNION', query: 'SELECT model FROM request_events UNION ALL SELECT secret_hash FROM api_keys', codes: ['API_SQL_REFUSED'], status: 400 },
  { name: 'into outfile', query: "SELECT 1 INTO OUTFILE '/tmp/dw-chaos-outfile'", codes: ['API_SQL_REFUSED'], status: 400 },
  { name: 'system command', query: 'SYSTEM SHUTDOWN', codes: ['API_SQL_REFUSED'], status: 400 },
  { name: 'runaway query', query: 'SELECT count() FROM numbers(1000000000000) WHERE sipHash64(number) = 0', codes: ['API_SQL_TIMEOUT'], status: 422 },
]

export async function attackSql(baseUrl: string, sqlKey: string, seededRequests: number, timeLimitSeconds: number): Promise<{ tally: Tally; runawayMs: number }> {
  const tally = new Tally()
  const headers: [string, string][] = [['Authorization', `Bearer ${sqlKey}`], ['Content-Type', 'application/json']]
  let runawayMs = 0
  for (const a of SQL_ATTACKS) {
    const res = await send(baseUrl, 'POST', '/v1/sql', headers, JSON.stringify({ query: a.query }))
    const code = codeOf(res)
    let ok = res.status === a.status && isProblem(res) && code !== undefined && a.codes.includes(code)
    if (a.name === 'runaway query') {
      runawayMs = Math.round(res.ms)
      // Killed at its limit: answered within the limit plus slack, not after the query finished.
      if (res.ms > timeLimitSeconds * 1000 + 5000) ok = false
    }
    tally.record('POST', `/v1/sql ${a.name}`, res, ok, true, ok ? '' : `expected ${a.status} ${a.codes.join('|')}`)
  }
  // Nothing was written or dropped: the seeded table holds exactly its rows.
  const check = await send(baseUrl, 'POST', '/v1/sql', headers, JSON.stringify({ query: 'SELECT count() AS n FROM request_events' }))
  const n = check.status === 200 ? (JSON.parse(check.body) as { rows: { n: number | string }[] }).rows[0]?.n : undefined
  tally.record('POST', '/v1/sql count after attacks', check, Number(n) === seededRequests, false, `expected ${seededRequests} rows`)
  return { tally, runawayMs }
}

export function injectionRows(scenario: string, params: Awaited<ReturnType<typeof injectEveryParameter>>, sql: Awaited<ReturnType<typeof attackSql>>): ChaosRow[] {
  return [
    params.tally.row(scenario, `SQL injection: ${INJECTION_PAYLOADS.length} payloads in every GET parameter`, { routes: params.routes, parameters: params.parameters, payloads: INJECTION_PAYLOADS.length }),
    sql.tally.row(scenario, 'SQL endpoint: writes, DDL, SET, table functions, system tables, runaway', { runawayAnsweredMs: sql.runawayMs }),
  ]
}

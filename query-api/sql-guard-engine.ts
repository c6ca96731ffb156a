/**
 * Runs a power user's SQL read-only, in four steps, each through ClickHouse's own parser:
 *
 * 1. `formatQuerySingleLine({q:String})`: the text reaches ClickHouse only as a parameter value;
 *    the parser refuses multi-statements and returns the canonical text of the one statement.
 *    From here on only that canonical text is used, so what was checked is what runs.
 * 2. `EXPLAIN AST <canonical>` (parses, executes nothing): checkAst in sql-guard.ts.
 * 3. `EXPLAIN QUERY TREE <canonical> SETTINGS <limits>`: the analyzer resolves CTEs, aliases and
 *    subqueries into the tables really read; checkQueryTree holds them to the allow-list. The
 *    analyzer evaluates scalar subqueries here, hence the limits, and hence step 2 first.
 * 4. `<canonical> SETTINGS readonly=1, <limits>` in format JSON. The limits ride in the query's
 *    own SETTINGS clause, not in session SETs: embedded chdb would keep a session readonly=1 for
 *    every later query of the process (the transformer's inserts), and a query-level clause
 *    covers every branch of a UNION. readonly=1 also refuses file()/url() table functions.
 *
 * Guarantees: refusals are API_SQL_REFUSED (400); syntax and analysis errors API_SQL_INVALID (400,
 * ClickHouse's first line); time limit API_SQL_TIMEOUT (422); rows / memory / result limits
 * API_SQL_LIMIT_EXCEEDED (422); ClickHouse unreachable API_STORE_UNAVAILABLE (503). Results are
 * cut at `maxRows` with `truncated: true`; rows and bytes read come back for the request log.
 *
 * One query at a time per client, and a drain after every failure: measured on chdb 3.4, a query
 * stopped by an exception (a timeout) leaves its partial output in the session, and the next
 * query on that session receives it in front of its own answer (broken JSON). So the SQL route
 * should get a client of its own (services.ts opens one), and after a failure the engine reads
 * one throwaway `SELECT 1` before the next query may run. A server is unaffected; the drain
 * costs it one round trip per failed query.
 */
import type { ClickHouseClient } from '@clickhouse/client'
import { clickHouseErrorOf, isRetryableClickHouseError, toDiffwatchError } from '../migrations/clickhouse.ts'
import type { SqlLimits } from './config.ts'
import { apiError } from './errors.ts'
import { checkAst, checkQueryTree, type SqlPolicy } from './sql-guard.ts'

export type SqlParamValue = string | number | boolean | null | SqlParamValue[]
export type SqlRequest = { query: string; params?: Record<string, SqlParamValue>; maxRows?: number }
export type SqlResult = {
  columns: Array<{ name: string; type: string }>
  rows: Array<Record<string, unknown>>
  rowCount: number
  truncated: boolean
  tables: string[]
  statistics: { elapsedMs: number; rowsRead: number; bytesRead: number }
}

const LIMIT_ERRORS = new Set(['158', '396', '241', '307', '159' /* handled first */, '160', '161', '290'])

function limitSettings(limits: SqlLimits, resultRows: number): string {
  // Integers from validated configuration only: nothing here comes from the request.
  return [
    'readonly = 1',
    `max_execution_time = ${limits.maxExecutionSeconds}`,
    "timeout_overflow_mode = 'throw'",
    `max_rows_to_read = ${limits.maxRowsToRead}`,
    "read_overflow_mode = 'throw'",
    `max_memory_usage = ${limits.maxMemoryBytes}`,
    `max_threads = ${limits.maxThreads}`,
    `max_result_rows = ${resultRows}`,
    `max_result_bytes = ${limits.maxResultBytes}`,
    "result_overflow_mode = 'break'",
    // `limit` cuts the result exactly (result_overflow_mode=break stops only at a block edge).
    `limit = ${resultRows}`,
  ].join(', ')
}

function mapError(err: unknown, limits: SqlLimits, step: string): Error {
  const ch = clickHouseErrorOf(err)
  if (ch?.code === '159') {
    return apiError('API_SQL_TIMEOUT', `the query ran longer than ${limits.maxExecutionSeconds} s (API_SQL_MAX_EXECUTION_SECONDS) and was stopped: narrow the time range or aggregate a rollup table`, err)
  }
  if (ch && LIMIT_ERRORS.has(ch.code)) {
    return apiError('API_SQL_LIMIT_EXCEEDED', `the query exceeded a limit (${ch.type ?? ch.code}: ${firstLine(err)}); limits: ${limits.maxRowsToRead} rows read, ${limits.maxMemoryBytes} bytes of memory, ${limits.maxResultBytes} result bytes`, err)
  }
  if (ch?.code === '164') return apiError('API_SQL_REFUSED', `ClickHouse refused the query in read-only mode (${firstLine(err)})`, err)
  if (ch && !isRetryableClickHouseError(err)) return apiError('API_SQL_INVALID', `ClickHouse could not ${step} the query: ${firstLine(err)}`, err)
  const mapped = toDiffwatchError(err, `SQL ${step}`)
  return mapped.retryable ? apiError('API_STORE_UNAVAILABLE', `ClickHouse unavailable during SQL ${step}`, mapped) : mapped
}

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err)
  return (msg.split('\n')[0] ?? '').replace(/\s*\(version [^)]*\)\s*$/, '').trim().slice(0, 500)
}

/** The format the client appends to every query (` FORMAT x`): it shows in EXPLAIN AST. */
const EXPLAIN_FORMAT = 'JSONEachRow'

async function text(client: ClickHouseClient, query: string, params: Record<string, unknown>): Promise<string> {
  const rs = await client.query({ query, query_params: params, format: 'JSONEachRow' })
  // One-column answers arrive as objects from a server and, for EXPLAIN, as bare strings from chdb.
  const rows = await rs.json<string | { explain?: string; q?: string }>()
  return rows.map((r) => (typeof r === 'string' ? r : (r.explain ?? r.q ?? ''))).join('\n')
}

function hasNul(value: SqlParamValue): boolean {
  return typeof value === 'string' ? value.includes('\u0000') : Array.isArray(value) && value.some(hasNul)
}

/** Steps 1–3: the canonical statement and the tables it reads, or a refusal. */
export async function vetSql(client: ClickHouseClient, request: SqlRequest, policy: SqlPolicy, limits: SqlLimits): Promise<{ canonical: string; tables: string[] }> {
  const raw = request.query.trim()
  if (raw === '') throw apiError('API_SQL_INVALID', 'the query is empty')
  if (raw.length > limits.maxQueryLength) throw apiError('API_SQL_INVALID', `the query is ${raw.length} characters long; the limit is ${limits.maxQueryLength} (API_SQL_MAX_QUERY_LENGTH)`)
  const params = request.params ?? {}
  // The embedded engine takes text as C strings: a NUL cut it short and failed as a 500 (found
  // by the chaos suite's full schemathesis run). No SQL or parameter needs one.
  if (raw.includes('\u0000')) throw apiError('API_SQL_INVALID', 'the query contains a NUL character (U+0000); remove it')
  for (const [name, value] of Object.entries(params)) {
    if (name.includes('\u0000') || hasNul(value)) throw apiError('API_SQL_INVALID', `parameter ${JSON.stringify(name)} contains a NUL character (U+0000); remove it`)
  }
  let canonical: string
  try {
    canonical = await text(client, 'SELECT formatQuerySingleLine({q:String}) AS q', { q: raw })
  } catch (err) {
    throw mapError(err, limits, 'parse')
  }
  // Cheap first gate before anything else sees the text; the AST check below is the real one.
  if (!/^(SELECT|WITH|\()/i.test(canonical)) checkKind(canonical)
  let ast: string
  try {
    ast = await text(client, `EXPLAIN AST ${canonical}`, params)
  } catch (err) {
    throw mapError(err, limits, 'parse')
  }
  checkAst(ast, policy, EXPLAIN_FORMAT)
  let tree: string
  try {
    tree = await text(client, `EXPLAIN QUERY TREE ${canonical} SETTINGS enable_analyzer = 1, ${limitSettings(limits, limits.maxResultRows)}`, params)
  } catch (err) {
    throw mapError(err, limits, 'analyze')
  }
  return { canonical, tables: checkQueryTree(tree, policy).tables }
}

function checkKind(canonical: string): never {
  const word = /^\s*([A-Za-z]+)/.exec(canonical)?.[1]?.toUpperCase() ?? 'this statement'
  throw apiError('API_SQL_REFUSED', `only SELECT statements are allowed, not ${word}. POST /v1/sql runs one read-only SELECT over the diffwatch tables; see docs/api.md#sql`)
}

type JsonAnswer = {
  meta?: Array<{ name: string; type: string }>
  data?: Array<Record<string, unknown>>
  statistics?: { elapsed?: number; rows_read?: number; bytes_read?: number }
}

const queues = new WeakMap<ClickHouseClient, Promise<unknown>>()

/** Runs `job` after every earlier job on `client` settled; drains the session when it fails. */
async function exclusive<T>(client: ClickHouseClient, job: () => Promise<T>): Promise<T> {
  const before = queues.get(client) ?? Promise.resolve()
  const run = before.then(job, job)
  const settled = run.catch(async () => {
    await client.query({ query: 'SELECT 1', format: 'JSONEachRow' }).then((rs) => rs.text()).catch(() => undefined)
  })
  queues.set(client, settled)
  return run
}

/** Vets and runs one query, one at a time per client; see the module doc. */
export function runSql(client: ClickHouseClient, request: SqlRequest, policy: SqlPolicy, limits: SqlLimits): Promise<SqlResult> {
  return exclusive(client, () => vetAndRun(client, request, policy, limits))
}

async function vetAndRun(client: ClickHouseClient, request: SqlRequest, policy: SqlPolicy, limits: SqlLimits): Promise<SqlResult> {
  const maxRows = Math.min(request.maxRows ?? limits.maxResultRows, limits.maxResultRows)
  const { canonical, tables } = await vetSql(client, request, policy, limits)
  let answer: JsonAnswer
  try {
    // One row more than asked: its presence is how a cut result is told from an exact fit.
    const rs = await client.query({ query: `${canonical} SETTINGS ${limitSettings(limits, maxRows + 1)}`, query_params: request.params ?? {}, format: 'JSON' })
    answer = await rs.json<JsonAnswer>()
  } catch (err) {
    throw mapError(err, limits, 'run')
  }
  const data = answer.data ?? []
  const truncated = data.length > maxRows
  const rows = truncated ? data.slice(0, maxRows) : data
  const stats = answer.statistics ?? {}
  return {
    columns: (answer.meta ?? []).map((m) => ({ name: m.name, type: m.type })),
    rows,
    rowCount: rows.length,
    truncated,
    tables,
    statistics: { elapsedMs: Math.round((stats.elapsed ?? 0) * 1000 * 1000) / 1000, rowsRead: Number(stats.rows_read ?? 0), bytesRead: Number(stats.bytes_read ?? 0) },
  }
}

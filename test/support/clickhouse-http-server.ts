/**
 * A TEST STAND-IN for a ClickHouse server: the ClickHouse HTTP interface, served by the real
 * ClickHouse engine (chdb, embedded in this one process, on one data folder). It exists because
 * embedded ClickHouse locks its folder to one process, while the fault suites need several
 * `diffwatch transform` processes writing to one ClickHouse, and a ClickHouse that can be stopped
 * and restarted under them; no ClickHouse server of a usable version installs from the package
 * registries this project reaches (Debian ships 18.16, which has no insert_deduplication_token).
 * With CLICKHOUSE_URL=http://127.0.0.1:PORT every diffwatch process is a plain server-mode client.
 *
 * What it serves (the subset @clickhouse/client 1.x sends):
 * - `GET|HEAD /ping` and `GET /` without a query: `Ok.`
 * - `POST|GET /?query=...`: the SQL from the `query` URL parameter, the request body, or both
 *   (URL query + body = an INSERT with its data, exactly as the server concatenates them); gzip
 *   request bodies (Content-Encoding: gzip); `database`, `default_format`, `query_id`,
 *   `param_<name>` (bound server-side as `{name:Type}`), and every other URL parameter as a
 *   query-level setting; gzip answers when `enable_http_compression=1` and the client accepts it.
 * - Answers: 200 with the result bytes, `X-ClickHouse-Query-Id`, `X-ClickHouse-Format`,
 *   `X-ClickHouse-Summary` (read/written rows and bytes); on failure 500 (404 for unknown
 *   tables/databases) with `X-ClickHouse-Exception-Code` and the engine's exception text, which
 *   the client parses into a ClickHouseError with the real code and type.
 *
 * Guarantees: statements run one at a time in arrival order; settings of one request never leak
 * into the next (each request re-SETs what it sends and resets to DEFAULT what an earlier one SET);
 * closing (SIGTERM/SIGINT) answers nothing more, closes the engine and releases the folder lock.
 *
 * Limits (it is not a server): no users, passwords, quotas or sessions (credentials are ignored,
 * `session_id` is ignored); no HTTPS, no native TCP protocol, no response streaming (results are
 * materialised, then sent), no progress headers, no cancellation of a running query (a client
 * that gives up does not stop it), no concurrency (one statement at a time), no `ON CLUSTER`.
 *
 * Run: `tsx test/support/clickhouse-http-server.ts --port 19340 --data ./folder` (prints
 * `listening on http://127.0.0.1:PORT` once it answers), or startClickHouseHttpServer() in-process.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { gunzipSync, gzipSync } from 'node:zlib'
import { Session } from 'chdb'

/** URL parameters that steer the HTTP layer and are never settings of the query. */
const HTTP_ONLY = new Set([
  'query', 'database', 'default_format', 'query_id', 'session_id', 'session_timeout', 'session_check', 'role',
  'user', 'password', 'quota_key', 'enable_http_compression', 'http_zlib_compression_level', 'wait_end_of_query',
  'buffer_size', 'compress', 'decompress', 'send_progress_in_http_headers', 'http_headers_progress_interval_ms',
  'http_wait_end_of_query', 'http_response_buffer_size', 'cancel_http_readonly_queries_on_client_close',
])
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/
/** ClickHouse answers these with 404, as the real server's HTTP handler does. */
const NOT_FOUND_CODES = new Set(['60', '81'])

export type ClickHouseHttpServer = {
  readonly url: string
  readonly port: number
  /** Statements answered (ok and failed), for tests. */
  readonly served: { ok: number; failed: number }
  close(): Promise<void>
}

export async function startClickHouseHttpServer(o: { dataPath: string; port?: number; host?: string }): Promise<ClickHouseHttpServer> {
  const session = new Session(o.dataPath)
  const engine = new SerialEngine(session)
  const served = { ok: 0, failed: 0 }
  const server = http.createServer((req, res) => {
    void handle(engine, req, res).then((ok) => (ok ? served.ok++ : served.failed++))
  })
  server.keepAliveTimeout = 5_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => resolve())
  })
  const port = (server.address() as AddressInfo).port
  let closed = false
  return {
    url: `http://${o.host ?? '127.0.0.1'}:${port}`,
    port,
    served,
    async close() {
      if (closed) return
      closed = true
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await engine.idle()
      session.close()
    },
  }
}

type Request = { sql: string; database: string; settings: [string, string][]; params: Record<string, string>; format: string }

/** Runs one statement at a time on the session, resetting settings an earlier request SET. */
class SerialEngine {
  #tail: Promise<unknown> = Promise.resolve()
  readonly #everSet = new Set<string>()
  constructor(private readonly session: Session) {}

  run(r: Request): Promise<{ bytes: Uint8Array; rowsRead: number; bytesRead: number; elapsed: number }> {
    const next = this.#tail.then(() => this.#exec(r))
    this.#tail = next.catch(() => undefined)
    return next
  }

  idle(): Promise<unknown> {
    return this.#tail
  }

  async #exec(r: Request) {
    // Query parameters go in as `SET param_x = '<text as sent>'`: the engine then parses the
    // text per placeholder type exactly as the server parses a `param_x` URL value (escaped
    // text format), which chdb's own binder does not (it re-escapes the text).
    const assignments: [string, string][] = [...r.settings.map(([k, v]) => [k, settingLiteral(v)] as [string, string]),
      ...Object.entries(r.params).map(([k, v]) => [`param_${k}`, quoted(v)] as [string, string])]
    const sent = new Set(assignments.map(([k]) => k))
    const reset = [...this.#everSet].filter((k) => !sent.has(k)).map((k) => `SET ${k} = DEFAULT; `)
    for (const k of sent) this.#everSet.add(k)
    const set = assignments.map(([k, v]) => `SET ${k} = ${v}; `)
    const sql = `USE \`${r.database}\`; ${reset.join('')}${set.join('')}${r.sql}`
    const result = await this.session.queryAsync(sql, { format: r.format })
    return { bytes: result.bytes(), rowsRead: result.rowsRead, bytesRead: result.bytesRead, elapsed: result.elapsed }
  }
}

/** Numbers and booleans as they are; anything else as a quoted string (the engine converts). */
function settingLiteral(v: string): string {
  return /^-?\d+(\.\d+)?$/.test(v) ? v : quoted(v)
}

function quoted(v: string): string {
  return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  const raw = Buffer.concat(chunks)
  return (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8')
}

/** Parses the HTTP request into a statement; throws a ClickHouse-shaped message on bad input. */
function parseRequest(url: URL, body: string): Request {
  const p = url.searchParams
  const database = p.get('database') ?? 'default'
  if (!IDENTIFIER.test(database)) throw new Error(`Code: 81. DB::Exception: Database ${database} does not exist. (UNKNOWN_DATABASE)`)
  const inUrl = p.get('query') ?? ''
  const sql = inUrl && body ? `${inUrl}\n${body}` : inUrl || body
  if (sql.trim() === '') throw new Error('Code: 62. DB::Exception: Empty query. (SYNTAX_ERROR)')
  const settings: [string, string][] = []
  const params: Record<string, string> = {}
  for (const [k, v] of p) {
    if (k.startsWith('param_')) {
      const name = k.slice('param_'.length)
      if (!IDENTIFIER.test(name)) throw new Error(`Code: 456. DB::Exception: Bad query parameter name '${name}'. (BAD_QUERY_PARAMETER)`)
      params[name] = v
    } else if (!HTTP_ONLY.has(k)) {
      if (!IDENTIFIER.test(k)) throw new Error(`Code: 115. DB::Exception: Unknown setting '${k}'. (UNKNOWN_SETTING)`)
      settings.push([k, v])
    }
  }
  return { sql, database, settings, params, format: p.get('default_format') ?? 'TabSeparated' }
}

/** Answers one HTTP request; resolves true when the statement succeeded. */
async function handle(engine: SerialEngine, req: http.IncomingMessage, res: http.ServerResponse): Promise<boolean> {
  const url = new URL(req.url ?? '/', 'http://localhost')
  const queryId = url.searchParams.get('query_id') ?? crypto.randomUUID()
  try {
    const body = await readBody(req)
    if (url.pathname === '/ping' || (url.pathname === '/' && !url.searchParams.has('query') && body === '')) {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=UTF-8' }).end('Ok.\n')
      return true
    }
    const r = parseRequest(url, body)
    const out = await engine.run(r)
    const summary = {
      read_rows: String(out.rowsRead), read_bytes: String(out.bytesRead), written_rows: String(out.rowsRead),
      written_bytes: String(out.bytesRead), total_rows_to_read: String(out.rowsRead), result_rows: '0', result_bytes: String(out.bytes.length),
      elapsed_ns: String(Math.round(out.elapsed * 1e9)),
    }
    const gzip = url.searchParams.get('enable_http_compression') === '1' && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))
    const payload = gzip ? gzipSync(out.bytes) : Buffer.from(out.bytes)
    res.writeHead(200, {
      'Content-Type': 'text/plain; charset=UTF-8',
      'X-ClickHouse-Query-Id': queryId,
      'X-ClickHouse-Format': r.format,
      'X-ClickHouse-Summary': JSON.stringify(summary),
      ...(gzip ? { 'Content-Encoding': 'gzip' } : {}),
    })
    res.end(payload)
    return true
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err)
    const code = /Code: (\d+)/.exec(text)?.[1] ?? '1002'
    const message = text.includes('DB::Exception') ? text : `Code: ${code}. DB::Exception: ${text}. (UNKNOWN_EXCEPTION)`
    if (!res.headersSent) {
      res.writeHead(NOT_FOUND_CODES.has(code) ? 404 : 500, {
        'Content-Type': 'text/plain; charset=UTF-8',
        'X-ClickHouse-Query-Id': queryId,
        'X-ClickHouse-Exception-Code': code,
      })
    }
    res.end(message.endsWith('\n') ? message : `${message}\n`)
    return false
  }
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name)
  return i >= 0 ? process.argv[i + 1] : undefined
}

// Run as a process: the fault suites start, SIGKILL, SIGTERM and restart it like a server.
if (process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const dataPath = argValue('--data')
  if (!dataPath) {
    console.error('usage: tsx test/support/clickhouse-http-server.ts --data FOLDER [--port N] [--host ADDR]')
    process.exit(2)
  }
  const server = await startClickHouseHttpServer({ dataPath, port: Number(argValue('--port') ?? 0), host: argValue('--host') ?? '127.0.0.1' })
  console.log(`listening on ${server.url}`)
  const stop = () => void server.close().then(() => process.exit(0))
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
}

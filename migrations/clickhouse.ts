/**
 * The one way diffwatch opens ClickHouse, for every part of the pipeline.
 *
 * Guarantees:
 * - `createClickHouse` returns a plain `@clickhouse/client` ClickHouseClient whose unqualified table
 *   names resolve to `database`, in both modes: a server over HTTP when `url` is set, otherwise
 *   the embedded engine (chdb) on `dataPath`.
 * - 64-bit integers come back as JSON numbers in both modes, and inserts are synchronous (never
 *   async_insert), so `insert_deduplication_token` dedup means the same thing everywhere.
 * - Embedded mode behaves like a server session: per-query `clickhouse_settings` do not leak
 *   into later queries (see EmbeddedConnection).
 * - `toDiffwatchError` maps any ClickHouse failure to a DiffwatchError whose `retryable` flag is
 *   decided from error codes only, never from message text.
 *
 * Why a wrapper in embedded mode: the chdb connection ignores the client's `database` option
 * (it is an HTTP URL parameter) and runs per-query settings as `SET x = v; <query>` on a session
 * that keeps them. Measured on chdb 3.4: a `SET insert_deduplication_token` left over from one
 * insert made the next, different insert vanish as a duplicate. So each embedded call is sent as
 * `USE db; SET <leftover> = DEFAULT; <query>`; the server path needs none of it.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { createClient, type ClickHouseClient, type ClickHouseClientConfigOptions, type ClickHouseSettings } from '@clickhouse/client'
import { createChdbConnection } from 'chdb/connection'
import { DiffwatchError, isDiffwatchError } from '../schemas/errors.ts'

export type ClickHouseOptions = {
  /** CLICKHOUSE_URL. When set, a ClickHouse server over HTTP(S); otherwise embedded chdb. */
  url?: string | undefined
  /** Data folder of the embedded engine (created if missing). Default `./data/clickhouse`. */
  dataPath?: string | undefined
  /** Database every unqualified table name resolves to. Default `diffwatch`. */
  database?: string | undefined
  username?: string | undefined
  password?: string | undefined
  /** HTTP request timeout (server mode). Default 60 000 ms. */
  requestTimeoutMs?: number | undefined
}

export const CLICKHOUSE_DEFAULTS = Object.freeze({
  dataPath: './data/clickhouse',
  database: 'diffwatch',
  requestTimeoutMs: 60_000,
})

/** Settings every diffwatch client sends, so both modes answer alike. */
const CLIENT_SETTINGS: ClickHouseSettings = {
  // UInt64/Int64 as JSON numbers: chdb does so already, a server quotes them by default.
  output_format_json_quote_64bit_integers: 0,
  // Exactly-once relies on our own insert blocks deduplicated by token. Async inserts regroup
  // rows server-side and honour tokens only with async_insert_deduplicate; chdb 26.7 reports
  // async_insert = 1 by default, so turn it off explicitly.
  async_insert: 0,
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/

/** Validates a database/table name before it is spliced into SQL (identifiers never come from users). */
export function assertIdentifier(name: string, what = 'identifier'): string {
  if (!IDENTIFIER.test(name)) {
    throw new DiffwatchError('MIG_BAD_IDENTIFIER', `invalid ${what} ${JSON.stringify(name)}: use letters, digits and _ only, not starting with a digit`)
  }
  return name
}

type Connection = NonNullable<ClickHouseClientConfigOptions['connection']>
type BaseParams = Parameters<Connection['query']>[0]

/** Opens a client with `database` selected (`null`: the engine's default, for bootstrapping). */
function openClient(options: ClickHouseOptions, database: string | null): ClickHouseClient {
  if (options.url !== undefined && options.url !== '') {
    return createClient({
      url: options.url,
      username: options.username ?? 'default',
      password: options.password ?? '',
      database: database ?? 'default',
      request_timeout: options.requestTimeoutMs ?? CLICKHOUSE_DEFAULTS.requestTimeoutMs,
      clickhouse_settings: CLIENT_SETTINGS,
    })
  }
  return createClient({
    connection: openEmbedded(options.dataPath ?? CLICKHOUSE_DEFAULTS.dataPath, database),
    clickhouse_settings: CLIENT_SETTINGS,
  })
}

/** A client for `options.database`. The database must exist: see ensureDatabase / openClickHouse. */
export function createClickHouse(options: ClickHouseOptions = {}): ClickHouseClient {
  return openClient(options, assertIdentifier(options.database ?? CLICKHOUSE_DEFAULTS.database, 'database name'))
}

/**
 * CREATE DATABASE IF NOT EXISTS, through a short-lived client on the default database (a server
 * refuses every request naming a database that does not exist yet, CREATE DATABASE included).
 */
export async function ensureDatabase(options: ClickHouseOptions = {}): Promise<void> {
  const database = assertIdentifier(options.database ?? CLICKHOUSE_DEFAULTS.database, 'database name')
  const bootstrap = openClient(options, null)
  try {
    await bootstrap.command({ query: `CREATE DATABASE IF NOT EXISTS \`${database}\`` })
  } catch (err) {
    throw toDiffwatchError(err, `create database ${database}`)
  } finally {
    await bootstrap.close()
  }
}

/** ensureDatabase + createClickHouse: what a service calls at start-up. */
export async function openClickHouse(options: ClickHouseOptions = {}): Promise<ClickHouseClient> {
  // Client first: in embedded mode it keeps the engine open while the bootstrap client comes and goes.
  const client = createClickHouse(options)
  try {
    await ensureDatabase(options)
  } catch (err) {
    await client.close()
    throw err
  }
  return client
}

// ---------------------------------------------------------------------------------------------
// Error mapping

/** Node socket errors: ClickHouse could not be reached or dropped the connection. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH',
  'ENETDOWN', 'EAI_AGAIN', 'ENOTFOUND', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT',
])

/** ClickHouse errors that say "not now" rather than "never": name → numeric code (checked in a test). */
export const TRANSIENT_CLICKHOUSE_ERRORS: Readonly<Record<string, number>> = Object.freeze({
  TIMEOUT_EXCEEDED: 159,
  TOO_MANY_SIMULTANEOUS_QUERIES: 202,
  NO_FREE_CONNECTION: 203,
  SOCKET_TIMEOUT: 209,
  NETWORK_ERROR: 210,
  NO_ZOOKEEPER: 225,
  ABORTED: 236,
  MEMORY_LIMIT_EXCEEDED: 241,
  TABLE_IS_READ_ONLY: 242,
  TOO_MANY_PARTS: 252,
  ALL_CONNECTION_TRIES_FAILED: 279,
  TOO_FEW_LIVE_REPLICAS: 285,
  UNKNOWN_STATUS_OF_INSERT: 319,
  QUERY_WAS_CANCELLED: 394,
  KEEPER_EXCEPTION: 999,
})
const TRANSIENT_CODES = new Set(Object.values(TRANSIENT_CLICKHOUSE_ERRORS).map(String))

/**
 * An error ClickHouse itself reported. Duck-typed on purpose: chdb builds its errors with its own
 * copy of client-common, so `instanceof ClickHouseError` is false for them.
 */
export function clickHouseErrorOf(err: unknown): { code: string; type: string | undefined } | undefined {
  if (!(err instanceof Error)) return undefined
  const { code, type } = err as { code?: unknown; type?: unknown }
  if (typeof code !== 'string' || !/^\d+$/.test(code)) return undefined
  return { code, type: typeof type === 'string' ? type : undefined }
}

function nodeErrorCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code
  }
  return undefined
}

/**
 * True when retrying the same request later may succeed. A request that got no ClickHouse verdict
 * at all (a plain transport Error such as the HTTP client's request timeout, which carries no
 * code) counts as retryable: diffwatch's writes are idempotent, so resending is safe, while
 * giving up would lose data. Embedded mode never produces such errors (see EmbeddedConnection).
 */
export function isRetryableClickHouseError(err: unknown): boolean {
  if (isDiffwatchError(err)) return err.retryable
  const ch = clickHouseErrorOf(err)
  if (ch) return (ch.type !== undefined && Object.hasOwn(TRANSIENT_CLICKHOUSE_ERRORS, ch.type)) || TRANSIENT_CODES.has(ch.code)
  if (nodeErrorCode(err) !== undefined) return true
  return err instanceof Error && err.constructor === Error && (err as { code?: unknown }).code === undefined
}

/** Wraps any ClickHouse failure into a DiffwatchError (a DiffwatchError passes through unchanged). */
export function toDiffwatchError(err: unknown, doing: string): DiffwatchError {
  if (isDiffwatchError(err)) return err
  const ch = clickHouseErrorOf(err)
  const retryable = isRetryableClickHouseError(err)
  const why = ch ? `${ch.type ?? 'code ' + ch.code}: ${firstLine(err)}` : (nodeErrorCode(err) ?? firstLine(err))
  return retryable
    ? new DiffwatchError('MIG_CH_UNAVAILABLE', `ClickHouse unavailable during ${doing} (${why}); retryable`, { retryable: true, cause: err })
    : new DiffwatchError('MIG_CH_QUERY_FAILED', `ClickHouse refused ${doing} (${why})`, { cause: err })
}

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err)
  return (msg.split('\n')[0] ?? '').slice(0, 300)
}

// ---------------------------------------------------------------------------------------------
// Embedded mode

/** libchdb binds one data folder per process; several clients on that folder share it. */
let embeddedPath: { path: string; refs: number } | undefined

function openEmbedded(dataPath: string, database: string | null): Connection {
  const path = resolve(dataPath)
  if (embeddedPath && embeddedPath.path !== path) {
    throw new DiffwatchError(
      'MIG_CH_ONE_DATA_PATH',
      `embedded ClickHouse is already open on ${embeddedPath.path} in this process and cannot also open ${path}: ` +
        'one process can use one data folder; point every component at the same CLICKHOUSE_DATA_PATH',
    )
  }
  mkdirSync(path, { recursive: true })
  let inner: Connection
  try {
    inner = createChdbConnection({ path }) as unknown as Connection
  } catch (err) {
    throw embeddedOpenError(path, err)
  }
  embeddedPath = { path, refs: (embeddedPath?.refs ?? 0) + 1 }
  return new EmbeddedConnection(inner, database, () => {
    if (embeddedPath && --embeddedPath.refs <= 0) embeddedPath = undefined
  })
}

/**
 * chdb reports a held folder lock only as CHDB_CONNECTION ("Cannot lock file" goes to stderr), so
 * the lock is recognised from the engine's own `status` file: the PID written there by the holder
 * is still alive and is not us.
 */
export function embeddedOpenError(path: string, cause: unknown): DiffwatchError {
  const holder = lockHolderPid(path)
  if (holder !== undefined) {
    return new DiffwatchError(
      'MIG_CH_DATA_LOCKED',
      `the embedded ClickHouse data folder ${path} is in use by another diffwatch process (pid ${holder}). ` +
        'Embedded ClickHouse allows one process per folder: stop that process, run everything in one process ' +
        '(`diffwatch run`), or run a ClickHouse server and set CLICKHOUSE_URL so several processes can share it.',
      { cause },
    )
  }
  return new DiffwatchError('MIG_CH_EMBEDDED_FAILED', `cannot open embedded ClickHouse at ${path}: ${firstLine(cause)}`, { cause })
}

function lockHolderPid(path: string): number | undefined {
  const statusFile = join(path, 'status')
  if (!existsSync(statusFile)) return undefined
  const match = /^PID:\s*(\d+)/m.exec(readFileSync(statusFile, 'utf8'))
  const pid = match?.[1] === undefined ? NaN : Number(match[1])
  if (!Number.isInteger(pid) || pid === process.pid) return undefined
  try {
    process.kill(pid, 0)
    return pid
  } catch (err) {
    return (err as { code?: unknown }).code === 'EPERM' ? pid : undefined
  }
}

/**
 * Delegates to the chdb connection, making each call behave as a fresh server request: the
 * database is selected with USE, and session settings a previous call SET but this one does not
 * send are reset to DEFAULT. Errors chdb raises without a ClickHouse code (closed connection,
 * engine failure) become permanent DiffwatchErrors, so nothing mistakes them for a timeout.
 */
class EmbeddedConnection implements Connection {
  readonly #inner: Connection
  readonly #use: string
  readonly #release: () => void
  readonly #setInSession = new Set<string>()
  #engineSettings: Promise<Set<string>> | undefined
  #closed = false

  constructor(inner: Connection, database: string | null, release: () => void) {
    this.#inner = inner
    this.#use = database === null ? '' : `USE \`${database}\`; `
    this.#release = release
  }

  async #prepare<P extends BaseParams>(params: P): Promise<P> {
    const engineSettings = await this.#knownSettings()
    const sent = Object.entries(params.clickhouse_settings ?? {})
      .filter(([name, value]) => value !== undefined && engineSettings.has(name))
      .map(([name]) => name)
    // Reset every name this session has ever SET, not only the last call's: concurrent calls may
    // reach the engine in another order than they were prepared in.
    const stale = [...this.#setInSession].filter((name) => !sent.includes(name))
    for (const name of sent) this.#setInSession.add(name)
    const reset = stale.map((name) => `SET ${name} = DEFAULT; `).join('')
    return { ...params, query: `${this.#use}${reset}${params.query}` }
  }

  /** Names the engine accepts in SET (the chdb connection silently drops HTTP-only ones). */
  #knownSettings(): Promise<Set<string>> {
    if (this.#engineSettings === undefined) {
      const lookup = this.#inner
        .query({ query: 'SELECT name FROM system.settings FORMAT TabSeparated' })
        .then(async (res) => {
          let text = ''
          for await (const chunk of res.stream) text += String(chunk)
          return new Set(text.split('\n').filter((n) => IDENTIFIER.test(n)))
        })
      // A failed lookup is not cached: the next call asks again.
      lookup.catch(() => {
        if (this.#engineSettings === lookup) this.#engineSettings = undefined
      })
      this.#engineSettings = lookup
    }
    return this.#engineSettings
  }

  async #call<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run()
    } catch (err) {
      // chdb 3.4 keeps the partial output of a query stopped by an error (e.g. a timeout) in the
      // session and prepends it to the next answer: read one throwaway answer before going on.
      // The SQL route also serializes its own client (query-api/sql-guard-engine.ts); here a
      // query running concurrently with the failed one may still see the leftover (rare).
      await this.#inner.query({ query: `${this.#use}SELECT 1 FORMAT TabSeparated` }).then(async (res) => {
        for await (const _ of res.stream) void _
      }).catch(() => undefined)
      if (clickHouseErrorOf(err) || isDiffwatchError(err)) throw err
      throw new DiffwatchError('MIG_CH_EMBEDDED_FAILED', `embedded ClickHouse failed: ${firstLine(err)}`, { cause: err })
    }
  }

  ping(params: Parameters<Connection['ping']>[0]) {
    return this.#inner.ping(params)
  }
  query(params: BaseParams) {
    return this.#call(async () => this.#inner.query(await this.#prepare(params)))
  }
  insert(params: Parameters<Connection['insert']>[0]) {
    return this.#call(async () => this.#inner.insert(await this.#prepare(params)))
  }
  command(params: Parameters<Connection['command']>[0]) {
    return this.#call(async () => this.#inner.command(await this.#prepare(params)))
  }
  exec(params: Parameters<Connection['exec']>[0]) {
    return this.#call(async () => this.#inner.exec(await this.#prepare(params)))
  }
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    try {
      await this.#inner.close()
    } finally {
      this.#release()
    }
  }
}

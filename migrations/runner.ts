/**
 * Applies the numbered SQL files of migrations/sql/ to a ClickHouse database, in order, once.
 *
 * Guarantees:
 * - Files are `NNNN_snake_name.sql`, numbered 1, 2, 3 ... without gaps or duplicates
 *   (MIG_BAD_SEQUENCE otherwise), applied in that order, each split into statements that are
 *   sent one by one (a server takes one statement per request).
 * - A file is recorded in `schema_migrations` (version, name, sha256 checksum, applied_at) only
 *   after all of its statements succeeded; recorded files are skipped, so running twice is safe.
 * - A recorded file whose content changed is refused (MIG_CHECKSUM_MISMATCH) before anything is
 *   applied: released migrations are immutable, a change is a new file. Line endings are
 *   normalised before hashing so a CRLF checkout is not a change.
 * - Statements are written idempotently (IF NOT EXISTS): a file that failed half way, and was
 *   therefore not recorded, can simply be applied again.
 * - Nothing here creates the database; see ensureDatabase in clickhouse.ts.
 */
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ClickHouseClient } from '@clickhouse/client'
import { DiffwatchError } from '../schemas/errors.ts'
import { assertIdentifier, isRetryableClickHouseError, toDiffwatchError } from './clickhouse.ts'
import { TABLES } from './tables.ts'

export const DEFAULT_MIGRATIONS_DIR = fileURLToPath(new URL('./sql/', import.meta.url))

export type MigrationLog = { info(msg: string, fields?: Record<string, unknown>): void }

export type MigrateOptions = {
  /** The database the client points at; checked against currentDatabase() before anything runs. */
  database: string
  dir?: string
  log?: MigrationLog
}

export type MigrationFile = { version: number; name: string; file: string; checksum: string; statements: string[] }
export type AppliedRecord = { version: number; name: string; checksum: string; applied_at: string }
export type AppliedMigration = { version: number; name: string; file: string; checksum: string; statements: number; durationMs: number }
export type MigrationStatus = {
  applied: AppliedRecord[]
  pending: Array<Pick<MigrationFile, 'version' | 'name' | 'file'>>
  /** Recorded files whose content is no longer what was applied. */
  changed: Array<Pick<MigrationFile, 'version' | 'name' | 'file'>>
  /** Recorded versions with no file here: the database was migrated by a newer diffwatch. */
  unknown: AppliedRecord[]
}

const FILE_NAME = /^(\d+)_([a-z0-9_]+)\.sql$/

/** Reads and validates the migration files of `dir`, in version order. */
export function readMigrations(dir: string = DEFAULT_MIGRATIONS_DIR): MigrationFile[] {
  const files = readdirSync(dir).filter((f) => f.endsWith('.sql')).sort()
  const migrations = files.map((file): MigrationFile => {
    const match = FILE_NAME.exec(file)
    if (!match?.[1] || !match[2]) {
      throw new DiffwatchError('MIG_BAD_SEQUENCE', `migration file ${file} is misnamed: use NNNN_lower_snake_name.sql, e.g. 0005_add_cost_table.sql`)
    }
    const sql = readFileSync(join(dir, file), 'utf8').replace(/\r\n/g, '\n')
    return {
      version: Number(match[1]),
      name: match[2],
      file,
      checksum: createHash('sha256').update(sql).digest('hex'),
      statements: splitStatements(sql, file),
    }
  })
  migrations.sort((a, b) => a.version - b.version)
  migrations.forEach((m, i) => {
    if (m.version === i + 1) return
    const clash = migrations.find((o) => o !== m && o.version === m.version)
    throw new DiffwatchError(
      'MIG_BAD_SEQUENCE',
      clash
        ? `migrations ${clash.file} and ${m.file} share number ${m.version}: renumber the newer one to ${migrations.length}`
        : `migration ${m.file} should be number ${i + 1}: migration numbers start at 1 and have no gaps`,
    )
  })
  return migrations
}

/** Applies every pending migration; returns what it applied (empty when up to date). */
export async function migrate(client: ClickHouseClient, options: MigrateOptions): Promise<AppliedMigration[]> {
  const log = options.log ?? { info() {} }
  const files = readMigrations(options.dir)
  const table = await prepareBookkeeping(client, options.database)
  const status = compare(files, await readApplied(client, table))
  const changed = status.changed[0]
  if (changed) {
    throw new DiffwatchError(
      'MIG_CHECKSUM_MISMATCH',
      `migration ${changed.file} was edited after it was applied to database ${options.database}. ` +
        'Applied migrations are immutable: restore the file and put the change in a new migration file.',
    )
  }
  const unknown = status.unknown[0]
  if (unknown) {
    throw new DiffwatchError(
      'MIG_UNKNOWN_VERSION',
      `database ${options.database} has migration ${unknown.version} (${unknown.name}) that this diffwatch does not have: it was migrated by a newer version; upgrade diffwatch`,
    )
  }
  const pendingVersions = new Set(status.pending.map((p) => p.version))
  const applied: AppliedMigration[] = []
  for (const m of files.filter((f) => pendingVersions.has(f.version))) {
    log.info('applying migration', { version: m.version, file: m.file, statements: m.statements.length })
    const started = performance.now()
    for (const [i, statement] of m.statements.entries()) {
      try {
        await client.command({ query: statement })
      } catch (err) {
        throw new DiffwatchError(
          isRetryableClickHouseError(err) ? 'MIG_CH_UNAVAILABLE' : 'MIG_STATEMENT_FAILED',
          `migration ${m.file}, statement ${i + 1} of ${m.statements.length} failed: ${toDiffwatchError(err, 'the migration').message}`,
          { retryable: isRetryableClickHouseError(err), cause: err },
        )
      }
    }
    await record(client, table, m)
    const durationMs = Math.round(performance.now() - started)
    log.info('applied migration', { version: m.version, file: m.file, durationMs })
    applied.push({ version: m.version, name: m.name, file: m.file, checksum: m.checksum, statements: m.statements.length, durationMs })
  }
  if (applied.length === 0) log.info('migrations up to date', { database: options.database, version: files.length })
  return applied
}

/** What is applied, pending, changed or unknown; changes nothing but the bookkeeping table. */
export async function migrationStatus(client: ClickHouseClient, options: Omit<MigrateOptions, 'log'>): Promise<MigrationStatus> {
  const files = readMigrations(options.dir)
  const table = await prepareBookkeeping(client, options.database)
  return compare(files, await readApplied(client, table))
}

function compare(files: MigrationFile[], applied: AppliedRecord[]): MigrationStatus {
  const byVersion = new Map(applied.map((a) => [a.version, a]))
  const brief = (m: MigrationFile) => ({ version: m.version, name: m.name, file: m.file })
  return {
    applied,
    pending: files.filter((m) => !byVersion.has(m.version)).map(brief),
    changed: files.filter((m) => (byVersion.get(m.version)?.checksum ?? m.checksum) !== m.checksum).map(brief),
    unknown: applied.filter((a) => !files.some((m) => m.version === a.version)),
  }
}

/** Checks the client's database and creates the bookkeeping table; returns its qualified name. */
async function prepareBookkeeping(client: ClickHouseClient, database: string): Promise<string> {
  const table = `\`${assertIdentifier(database, 'database name')}\`.${TABLES.schemaMigrations}`
  try {
    const rows = await (await client.query({ query: 'SELECT currentDatabase() AS db', format: 'JSONEachRow' })).json<{ db: string }>()
    if (rows[0]?.db !== database) {
      throw new DiffwatchError('MIG_WRONG_DATABASE', `the ClickHouse client points at database ${rows[0]?.db ?? '?'}, not ${database}: create it with createClickHouse({ database })`)
    }
    await client.command({
      query: `CREATE TABLE IF NOT EXISTS ${table}
        (version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3))
        ENGINE = MergeTree ORDER BY version
        COMMENT 'Migrations applied by diffwatch migrate (one row per file). ORDER BY version: read whole, in order; tiny, no partitions.'`,
    })
  } catch (err) {
    throw toDiffwatchError(err, 'preparing schema_migrations')
  }
  return table
}

async function readApplied(client: ClickHouseClient, table: string): Promise<AppliedRecord[]> {
  try {
    const rs = await client.query({
      query: `SELECT version, name, checksum, toString(applied_at) AS applied_at FROM ${table} ORDER BY version, applied_at`,
      format: 'JSONEachRow',
    })
    const rows = await rs.json<AppliedRecord>()
    // Two concurrent runs may record one file twice; the first record is the one that counts.
    return rows.filter((r, i) => rows.findIndex((o) => o.version === r.version) === i)
  } catch (err) {
    throw toDiffwatchError(err, 'reading schema_migrations')
  }
}

async function record(client: ClickHouseClient, table: string, m: MigrationFile): Promise<void> {
  try {
    await client.insert({ table, values: [{ version: m.version, name: m.name, checksum: m.checksum }], format: 'JSONEachRow' })
  } catch (err) {
    throw toDiffwatchError(err, `recording migration ${m.file}`)
  }
}

/**
 * Splits a SQL script into statements on top-level semicolons. Semicolons inside '...', "...",
 * `...` (with doubled-quote or backslash escapes), $tag$ heredocs, -- and # line comments and
 * /* block comments *\/ do not split. Comment-only pieces are dropped; statement text is kept
 * as written (comments included), trimmed.
 */
export function splitStatements(sql: string, source = 'SQL'): string[] {
  const statements: string[] = []
  let start = 0
  let hasCode = false
  let i = 0
  const cut = (end: number) => {
    const text = sql.slice(start, end).trim()
    if (hasCode && text !== '') statements.push(text)
    start = end + 1
    hasCode = false
  }
  const unterminated = (what: string, at: number): never => {
    const line = sql.slice(0, at).split('\n').length
    throw new DiffwatchError('MIG_BAD_SQL', `${source}: unterminated ${what} starting on line ${line}`)
  }
  while (i < sql.length) {
    const c = sql[i]
    const next = sql[i + 1]
    if ((c === '-' && next === '-') || (c === '#' && (next === ' ' || next === '!'))) {
      const end = sql.indexOf('\n', i)
      i = end === -1 ? sql.length : end + 1
    } else if (c === '/' && next === '*') {
      const end = sql.indexOf('*/', i + 2)
      if (end === -1) unterminated('block comment', i)
      i = end + 2
    } else if (c === "'" || c === '"' || c === '`') {
      i = endOfQuoted(sql, i) ?? unterminated(`${c}-quoted text`, i)
      hasCode = true
    } else if (c === '$' && /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.test(sql.slice(i, i + 64))) {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 64))?.[0] ?? '$$'
      const end = sql.indexOf(tag, i + tag.length)
      if (end === -1) unterminated(`${tag} heredoc`, i)
      i = end + tag.length
      hasCode = true
    } else if (c === ';') {
      cut(i)
      i++
    } else {
      if (c !== undefined && !/\s/.test(c)) hasCode = true
      i++
    }
  }
  cut(sql.length)
  return statements
}

/** Index just past the closing quote of the quoted text opening at `open`, or undefined. */
function endOfQuoted(sql: string, open: number): number | undefined {
  const quote = sql[open]
  for (let i = open + 1; i < sql.length; i++) {
    const c = sql[i]
    if (c === '\\') i++
    else if (c === quote) {
      if (sql[i + 1] === quote) i++
      else return i + 1
    }
  }
  return undefined
}

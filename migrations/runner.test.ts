import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ClickHouseClient } from '@clickhouse/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isDiffwatchError } from '../schemas/errors.ts'
import { openClickHouse } from './clickhouse.ts'
import { DEFAULT_MIGRATIONS_DIR, migrate, migrationStatus, readMigrations, splitStatements } from './runner.ts'

// One embedded engine per test file (chdb binds one data folder per process); one database per test.
const root = mkdtempSync(join(tmpdir(), 'dw-runner-test-'))
const dataPath = join(root, 'clickhouse')
const clients: ClickHouseClient[] = []
let dbCounter = 0

async function freshDatabase(): Promise<{ client: ClickHouseClient; database: string }> {
  const database = `runner_test_${++dbCounter}`
  const client = await openClickHouse({ dataPath, database })
  clients.push(client)
  return { client, database }
}

function migrationsDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(root, 'sql-'))
  for (const [name, sql] of Object.entries(files)) writeFileSync(join(dir, name), sql)
  return dir
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    return isDiffwatchError(err) ? err.code : 'not a DiffwatchError'
  }
  return undefined
}

async function asyncCodeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p
  } catch (err) {
    return isDiffwatchError(err) ? err.code : 'not a DiffwatchError'
  }
  return undefined
}

/** A statement without its `--` / `#` line comments and block comments, whitespace collapsed. */
function withoutComments(sql: string): string {
  return sql.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/^\s*(--|#).*$/gm, ' ').replace(/\s+/g, ' ').trim()
}

beforeAll(() => mkdirSync(dataPath, { recursive: true }))
afterAll(async () => {
  for (const c of clients) await c.close()
  rmSync(root, { recursive: true, force: true })
})

describe('splitStatements', () => {
  it('splits on top-level semicolons and drops empty and comment-only pieces', () => {
    expect(splitStatements('SELECT 1; ;\n SELECT 2;\n-- trailing comment\n')).toEqual(['SELECT 1', 'SELECT 2'])
  })

  it('does not split inside quotes, comments or heredocs', () => {
    const sql = [
      "SELECT 'a;b', 'it''s;', 'back\\';slash' AS x;",
      'SELECT "col;name", `weird;ident` FROM t; -- a comment; with semicolons',
      '/* block; comment */ SELECT 3 /* inner ; */;',
      '# hash comment; here',
      'SELECT $$ heredoc ; text $$, $tag$ more ; $$ text $tag$',
    ].join('\n')
    expect(splitStatements(sql)).toEqual([
      "SELECT 'a;b', 'it''s;', 'back\\';slash' AS x",
      'SELECT "col;name", `weird;ident` FROM t',
      '-- a comment; with semicolons\n/* block; comment */ SELECT 3 /* inner ; */',
      '# hash comment; here\nSELECT $$ heredoc ; text $$, $tag$ more ; $$ text $tag$',
    ])
  })

  it('keeps a last statement without a semicolon and returns nothing for comments only', () => {
    expect(splitStatements('SELECT 1')).toEqual(['SELECT 1'])
    expect(splitStatements('-- only\n/* comments */\n')).toEqual([])
  })

  it('refuses unterminated strings and comments, naming the line', () => {
    expect(() => splitStatements("SELECT 1;\nSELECT 'open", 'x.sql')).toThrow(/x\.sql: unterminated '-quoted text starting on line 2/)
    expect(codeOf(() => splitStatements('SELECT 1 /* open'))).toBe('MIG_BAD_SQL')
  })
})

describe('readMigrations', () => {
  it('reads the real migrations as a gap-free sequence of re-runnable statements; ALTERs touch earlier tables', () => {
    const files = readMigrations()
    expect(files.map((f) => f.version)).toEqual(files.map((_, i) => i + 1))
    expect(files.length).toBeGreaterThanOrEqual(6)
    const created = new Set<string>()
    const altered: string[] = []
    for (const f of files) {
      expect(f.statements.length).toBeGreaterThan(0)
      for (const statement of f.statements) {
        const sql = withoutComments(statement)
        const create = /^CREATE (TABLE|MATERIALIZED VIEW) IF NOT EXISTS (\w+)\b/.exec(sql)
        const alter = /^ALTER TABLE (\w+)\s+(ADD COLUMN IF NOT EXISTS \w+ [^,]+,\s*)*ADD COLUMN IF NOT EXISTS \w+ [^,]+$/.exec(sql)
        if (create?.[2] !== undefined) {
          created.add(create[2])
        } else if (alter?.[1] !== undefined) {
          // An ALTER only adds columns (IF NOT EXISTS, so a rerun is harmless) to a table an earlier file created.
          expect(created.has(alter[1]), `${f.file} alters ${alter[1]} before it exists`).toBe(true)
          altered.push(`${f.file}:${alter[1]}`)
        } else {
          throw new Error(`${f.file}: not a re-runnable CREATE ... IF NOT EXISTS or ALTER TABLE ... ADD COLUMN IF NOT EXISTS: ${sql.slice(0, 80)}`)
        }
      }
    }
    expect(altered).toContain('0006_request_events_v2.sql:request_events')
  })

  it('refuses gaps, duplicates and misnamed files with MIG_BAD_SEQUENCE', () => {
    expect(codeOf(() => readMigrations(migrationsDir({ '0001_a.sql': 'SELECT 1', '0003_c.sql': 'SELECT 1' })))).toBe('MIG_BAD_SEQUENCE')
    expect(codeOf(() => readMigrations(migrationsDir({ '0001_a.sql': 'SELECT 1', '0001_b.sql': 'SELECT 1' })))).toBe('MIG_BAD_SEQUENCE')
    expect(codeOf(() => readMigrations(migrationsDir({ '0001_a.sql': 'SELECT 1', 'fix-later.sql': 'SELECT 1' })))).toBe('MIG_BAD_SEQUENCE')
    expect(codeOf(() => readMigrations(migrationsDir({ '0002_b.sql': 'SELECT 1' })))).toBe('MIG_BAD_SEQUENCE')
  })

  it('hashes content independently of line endings', () => {
    const lf = readMigrations(migrationsDir({ '0001_a.sql': 'SELECT 1;\nSELECT 2;\n' }))[0]
    const crlf = readMigrations(migrationsDir({ '0001_a.sql': 'SELECT 1;\r\nSELECT 2;\r\n' }))[0]
    expect(crlf?.checksum).toBe(lf?.checksum)
  })
})

describe('migrate', () => {
  it('applies every migration in order, then nothing on a second run', async () => {
    const { client, database } = await freshDatabase()
    const logged: string[] = []
    const first = await migrate(client, { database, log: { info: (msg, f) => logged.push(`${msg} ${String(f?.['file'] ?? '')}`) } })
    const files = readdirSync(DEFAULT_MIGRATIONS_DIR).filter((f) => f.endsWith('.sql')).sort()
    expect(first.map((m) => m.version)).toEqual(files.map((_, i) => i + 1))
    expect(logged.filter((l) => l.startsWith('applied migration'))).toEqual(files.map((f) => `applied migration ${f}`))

    expect(await migrate(client, { database })).toEqual([])
    const status = await migrationStatus(client, { database })
    expect(status.pending).toEqual([])
    expect(status.applied.map((a) => a.version)).toEqual(first.map((m) => m.version))
    expect(status.applied.map((a) => a.checksum)).toEqual(first.map((m) => m.checksum))
  })

  it('applies only the new file when one is added later', async () => {
    const { client, database } = await freshDatabase()
    const dir = mkdtempSync(join(root, 'sql-'))
    cpSync(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true })
    await migrate(client, { database, dir })
    const next = readdirSync(dir).length + 1
    writeFileSync(join(dir, `${String(next).padStart(4, '0')}_extra.sql`), 'CREATE TABLE IF NOT EXISTS extra (x UInt8) ENGINE = MergeTree ORDER BY x;')
    expect((await migrationStatus(client, { database, dir })).pending.map((p) => p.version)).toEqual([next])
    expect((await migrate(client, { database, dir })).map((m) => m.name)).toEqual(['extra'])
  })

  it('refuses an applied file that was edited, naming it, and applies nothing', async () => {
    const { client, database } = await freshDatabase()
    const dir = migrationsDir({ '0001_one.sql': 'CREATE TABLE IF NOT EXISTS one (x UInt8) ENGINE = MergeTree ORDER BY x;' })
    await migrate(client, { database, dir })
    writeFileSync(join(dir, '0001_one.sql'), 'CREATE TABLE IF NOT EXISTS one (x UInt16) ENGINE = MergeTree ORDER BY x;')
    writeFileSync(join(dir, '0002_two.sql'), 'CREATE TABLE IF NOT EXISTS two (x UInt8) ENGINE = MergeTree ORDER BY x;')
    const err = await migrate(client, { database, dir }).catch((e: unknown) => e)
    expect(isDiffwatchError(err, 'MIG_CHECKSUM_MISMATCH')).toBe(true)
    expect((err as Error).message).toMatch(/0001_one\.sql.*new migration/)
    expect((await migrationStatus(client, { database, dir })).changed.map((c) => c.file)).toEqual(['0001_one.sql'])
    const tables = await (await client.query({ query: "SELECT name FROM system.tables WHERE database = currentDatabase() AND name = 'two'", format: 'JSONEachRow' })).json()
    expect(tables).toEqual([])
  })

  it('records nothing for a failing file, so fixing it and rerunning applies it', async () => {
    const { client, database } = await freshDatabase()
    const dir = migrationsDir({
      '0001_ok.sql': 'CREATE TABLE IF NOT EXISTS ok (x UInt8) ENGINE = MergeTree ORDER BY x;',
      '0002_bad.sql': 'CREATE TABLE IF NOT EXISTS half (x UInt8) ENGINE = MergeTree ORDER BY x;\nCREATE TABLE broken (x NoSuchType) ENGINE = MergeTree ORDER BY x;',
    })
    const err = await migrate(client, { database, dir }).catch((e: unknown) => e)
    expect(isDiffwatchError(err, 'MIG_STATEMENT_FAILED')).toBe(true)
    expect((err as Error).message).toMatch(/0002_bad\.sql, statement 2 of 2/)
    expect((await migrationStatus(client, { database, dir })).pending.map((p) => p.file)).toEqual(['0002_bad.sql'])
    writeFileSync(join(dir, '0002_bad.sql'), 'CREATE TABLE IF NOT EXISTS half (x UInt8) ENGINE = MergeTree ORDER BY x;\nCREATE TABLE IF NOT EXISTS fixed (x UInt8) ENGINE = MergeTree ORDER BY x;')
    expect((await migrate(client, { database, dir })).map((m) => m.file)).toEqual(['0002_bad.sql'])
  })

  it('refuses a database migrated by a newer version (unknown applied migration)', async () => {
    const { client, database } = await freshDatabase()
    const dir = migrationsDir({
      '0001_a.sql': 'CREATE TABLE IF NOT EXISTS a (x UInt8) ENGINE = MergeTree ORDER BY x;',
      '0002_b.sql': 'CREATE TABLE IF NOT EXISTS b (x UInt8) ENGINE = MergeTree ORDER BY x;',
    })
    await migrate(client, { database, dir })
    rmSync(join(dir, '0002_b.sql'))
    expect(await asyncCodeOf(migrate(client, { database, dir }))).toBe('MIG_UNKNOWN_VERSION')
  })

  it('refuses to run when the client points at another database', async () => {
    const { client } = await freshDatabase()
    expect(await asyncCodeOf(migrate(client, { database: 'some_other_db' }))).toBe('MIG_WRONG_DATABASE')
    expect(await asyncCodeOf(migrate(client, { database: 'bad-name' }))).toBe('MIG_BAD_IDENTIFIER')
  })
})

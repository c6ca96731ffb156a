/**
 * The embedded-ClickHouse fast path of the RowSink: each table write is encoded to RowBinary
 * straight from the row values into a temp file, and the engine loads it with
 * `INSERT INTO t (cols) SELECT * FROM file(path, 'RowBinary', structure)`, with the same
 * insert_deduplication_token and dependent-view dedup as the JSON sink, so the flush protocol's
 * exactly-once argument holds unchanged (a replayed chunk produces the same bytes, the same
 * blocks and the same token).
 *
 * Embedded mode only: with a server, file() reads the server's disk, not ours. Column types are
 * read once per table from system.columns (the database the client points at) and compiled into
 * an encoder; a type without an encoder fails the first insert with TRF_ROW_TYPE. The temp file
 * is removed after every attempt, acknowledged or not.
 *
 * While the disk refuses writes (TRF_DISK_FULL), the engine's background merges are stopped
 * (SYSTEM STOP MERGES) until an insert succeeds again: chdb committed merged parts whose data
 * file was cut at the file-size limit, and detached them as broken on the next start, taking rows
 * stored long before with them (the chaos suite's 60 s disk-full run: 8,190 stored events lost).
 */
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ClickHouseClient } from '@clickhouse/client'
import { assertIdentifier, toDiffwatchError } from '../migrations/clickhouse.ts'
import { DiffwatchError } from '../schemas/errors.ts'
import type { ChunkWrite } from './flush-protocol.ts'
import type { RowSink } from './row-sink.ts'
import { RowBinaryWriter, compileRowEncoder } from './row-sink-rowbinary.ts'

export type FileRowSinkOptions = {
  /** Where the temp files go; default /dev/shm when present (no disk write), else the OS temp dir. */
  dir?: string
  /** Writes a temp file (a test seam: a full disk cannot be made on demand). */
  writeFile?: (path: string, data: Uint8Array) => Promise<void>
}

type TablePlan = { sql: string; encode: ReturnType<typeof compileRowEncoder> }

const SAFE_PATH = /^[\w./-]+$/

function sqlString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
}

export function defaultSinkDir(): string {
  return existsSync('/dev/shm') ? '/dev/shm' : tmpdir()
}

export function createFileRowSink(client: ClickHouseClient, options: FileRowSinkOptions = {}): RowSink {
  const dir = options.dir ?? defaultSinkDir()
  const prefix = join(dir, `diffwatch-sink-${process.pid}-${randomBytes(4).toString('hex')}`)
  if (!SAFE_PATH.test(prefix)) {
    throw new DiffwatchError('TRF_SINK_PATH', `temp dir ${dir} has characters the file() path cannot carry; choose another dir`)
  }
  const plans = new Map<string, Promise<TablePlan>>()
  const writeTemp = options.writeFile ?? ((path: string, data: Uint8Array) => writeFile(path, data))
  let seq = 0
  let mergesStopped = false

  /** Stops or restarts background merges; a failure only leaves them as they were. */
  async function setMerges(run: boolean): Promise<void> {
    if (mergesStopped === !run) return
    try {
      await client.command({ query: run ? 'SYSTEM START MERGES' : 'SYSTEM STOP MERGES' })
      mergesStopped = !run
    } catch {
      // ClickHouse unreachable: tried again on the next failure or success
    }
  }

  async function columnTypes(table: string): Promise<Map<string, string>> {
    const rs = await client.query({
      query: 'SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = {table:String}',
      query_params: { table },
      format: 'JSONEachRow',
    })
    const rows = await rs.json<{ name: string; type: string }>()
    return new Map(rows.map((r) => [r.name, r.type]))
  }

  async function plan(write: ChunkWrite): Promise<TablePlan> {
    const table = assertIdentifier(write.table, 'table name')
    const types = await columnTypes(table)
    if (types.size === 0) throw new DiffwatchError('TRF_SINK_TABLE', `table ${table} does not exist in the current database`)
    const columns = write.columns.map((c) => assertIdentifier(c, 'column name'))
    const typeList = columns.map((c) => {
      const t = types.get(c)
      if (t === undefined) throw new DiffwatchError('TRF_SINK_TABLE', `table ${table} has no column ${c}`)
      return t
    })
    const structure = columns.map((c, i) => `${c} ${typeList[i]}`).join(', ')
    const cols = columns.map((c) => `\`${c}\``).join(', ')
    return {
      sql: `INSERT INTO \`${table}\` (${cols}) SELECT * FROM file(%PATH%, 'RowBinary', ${sqlString(structure)})`,
      encode: compileRowEncoder(columns, typeList),
    }
  }

  function planFor(write: ChunkWrite): Promise<TablePlan> {
    // Keyed by table and column list: a plan is only valid for the columns it was compiled for.
    const key = `${write.table}\u0000${write.columns.join(',')}`
    let p = plans.get(key)
    if (!p) {
      p = plan(write)
      plans.set(key, p)
      // A failed look-up (ClickHouse down) must not be cached for good.
      p.catch(() => plans.delete(key))
    }
    return p
  }

  return {
    async insert(write, dedupToken) {
      let p: TablePlan
      try {
        p = await planFor(write)
      } catch (err) {
        throw err instanceof DiffwatchError ? err : toDiffwatchError(err, `describe ${write.table}`)
      }
      // One writer per insert: flushes of different partitions may overlap.
      const writer = new RowBinaryWriter(Math.max(4096, write.rows.length * 64))
      p.encode(writer, write.rows)
      const path = `${prefix}-${seq++}.bin`
      try {
        await writeTemp(path, writer.bytes())
        await client.command({
          query: p.sql.replace('%PATH%', sqlString(path)),
          clickhouse_settings: {
            insert_deduplication_token: dedupToken,
            deduplicate_blocks_in_dependent_materialized_views: 1,
          },
        })
        await setMerges(true)
      } catch (err) {
        if (err instanceof DiffwatchError) throw err
        const full = diskFullError(err, path)
        if (full) {
          await setMerges(false)
          throw full
        }
        throw toDiffwatchError(err, `insert into ${write.table}`)
      } finally {
        await unlink(path).catch(() => undefined)
      }
    },
  }
}

/**
 * Out of space is a transient infrastructure failure: the flush retries with backoff until space
 * returns, it never turns into a permanent error (which made kafkajs re-deliver and, measured in
 * the chaos suite's clickhouse-disk-full, lose events). Node's fs codes only, never message text.
 */
const DISK_FULL_CODES = new Set(['ENOSPC', 'EFBIG', 'EDQUOT', 'EROFS'])

function diskFullError(err: unknown, path: string): DiffwatchError | undefined {
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code !== 'string' || !DISK_FULL_CODES.has(code)) return undefined
  return new DiffwatchError('TRF_DISK_FULL', `cannot write the insert file ${path} (${code}): the disk is full, over quota or read-only; retrying until it is writable`, { retryable: true, cause: err })
}

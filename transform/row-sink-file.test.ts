import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ClickHouseClient } from '@clickhouse/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openClickHouse } from '../migrations/clickhouse.ts'
import { migrate } from '../migrations/runner.ts'
import { INSERT_COLUMNS, TABLES } from '../migrations/tables.ts'
import { createFileRowSink } from './row-sink-file.ts'
import { createRowSink } from './row-sink.ts'
import type { ChunkWrite } from './flush-protocol.ts'

// One embedded engine per file (chdb binds one data folder per process).
const root = mkdtempSync(join(tmpdir(), 'dw-row-sink-file-'))
const sinkDir = join(root, 'sink')
const database = 'row_sink_file_test'
let client: ClickHouseClient

// Every column type diffwatch tables use (see migrations/sql), in one table.
const COLUMNS: [string, string][] = [
  ['id', 'UInt32'],
  ['s', 'String'],
  ['lc', 'LowCardinality(String)'],
  ['lc_null', 'LowCardinality(Nullable(String))'],
  ['s_null', 'Nullable(String)'],
  ['i32', 'Int32'],
  ['i64', 'Int64'],
  ['u16', 'UInt16'],
  ['u64', 'UInt64'],
  ['f32', 'Float32'],
  ['f64', 'Float64'],
  ['nf32', 'Nullable(Float32)'],
  ['nf64', 'Nullable(Float64)'],
  ['ni32', 'Nullable(Int32)'],
  ['ni64', 'Nullable(Int64)'],
  ['b', 'Bool'],
  ['ts', "DateTime64(3, 'UTC')"],
  ['nts', "Nullable(DateTime64(3, 'UTC'))"],
  ['dt', "DateTime('UTC')"],
  ['arr', 'Array(String)'],
  ['arr_lc', 'Array(LowCardinality(String))'],
  ['agg_sum', 'SimpleAggregateFunction(sum, UInt64)'],
  ['agg_max', 'SimpleAggregateFunction(max, Float64)'],
]
const NAMES = COLUMNS.map(([n]) => n)

// Recent times: tables in this project have TTLs, and the values should look like real ones.
const nowMs = Math.floor(Date.now() / 1000) * 1000 + 123
const long = 'ü'.repeat(100) // 200 bytes: a two-byte length prefix
const huge = 'x'.repeat(20_000) // three-byte length prefix
const ROWS: unknown[][] = [
  [1, 'plain', 'sdxl', null, null, 0, 0, 0, 0, 0, 0, null, null, null, null, false, nowMs, null, Math.floor(nowMs / 1000), [], [], 0, 0],
  [2, long, 'flux', 'oom', 'a message', -2147483648, -9007199254740991, 65535, 9007199254740991, 7.1, 0.1, 3.3, -1e-300, 2147483647, -1, true, nowMs + 1, nowMs - 5000, 1_700_000_000, ['a', 'b'], ['lora-x'], 42, 99.5],
  [3, huge, '雪', '', '', 12, 4294967296, 1, 1, -1.5, Number.MAX_VALUE, 0, 0, 0, 0, true, 1, 0, 0, [long, ''], ['x', 'y', 'z'], 18446744073709, -3.25],
]

async function json(query: string): Promise<unknown[][]> {
  const rs = await client.query({ query, format: 'JSONCompactEachRow' })
  return rs.json<unknown[]>()
}

async function createTable(name: string): Promise<void> {
  await client.command({
    query: `CREATE TABLE ${name} (${COLUMNS.map(([n, t]) => `${n} ${t}`).join(', ')})
            ENGINE = MergeTree ORDER BY id SETTINGS non_replicated_deduplication_window = 100`,
  })
}

const write = (table: string, rows = ROWS): ChunkWrite => ({ table, columns: NAMES, rows })

beforeAll(async () => {
  client = await openClickHouse({ dataPath: join(root, 'clickhouse'), database })
  rmSync(sinkDir, { recursive: true, force: true })
  mkdirSync(sinkDir)
  for (const t of ['via_json', 'via_file', 'dedup', 'dedup_big', 'disk_full']) await createTable(t)
})
afterAll(async () => {
  await client.close()
  rmSync(root, { recursive: true, force: true })
})

describe('file row sink', () => {
  it('stores every column type exactly as the JSON sink does, and as the values say', async () => {
    await createRowSink(client).insert(write('via_json'), 'json-1')
    await createFileRowSink(client, { dir: sinkDir }).insert(write('via_file'), 'file-1')
    const viaJson = await json('SELECT * FROM via_json ORDER BY id')
    const viaFile = await json('SELECT * FROM via_file ORDER BY id')
    expect(viaFile).toEqual(viaJson)
    expect(viaFile).toHaveLength(ROWS.length)

    // Independently of the JSON path: what each value must read back as.
    const typed = await json(
      `SELECT id, s, lc_null, i64, u64, f32 = toFloat32(7.1), f64, b, toUnixTimestamp64Milli(ts),
              toUnixTimestamp64Milli(nts), toUnixTimestamp(dt), arr, arr_lc, agg_sum FROM via_file ORDER BY id`,
    )
    expect(typed[1]).toEqual([2, long, 'oom', -9007199254740991, 9007199254740991, 1, 0.1, true, nowMs + 1, nowMs - 5000, 1_700_000_000, ['a', 'b'], ['lora-x'], 42])
    expect(typed[2]!.slice(0, 3)).toEqual([3, huge, ''])
    expect(typed[2]![3]).toBe(4294967296)
    expect(typed[2]![8]).toBe(1)
    expect(typed[0]![9]).toBeNull()
    expect(typed[2]![11]).toEqual([long, ''])
    expect(typed[2]![13]).toBe(18446744073709)
    // the temp files are gone once the insert is acknowledged
    expect(readdirSync(sinkDir)).toEqual([])
  })

  it('drops a replayed insert with the same token and keeps one with another token', async () => {
    const sink = createFileRowSink(client, { dir: sinkDir })
    await sink.insert(write('dedup'), 'chunk-a')
    await sink.insert(write('dedup'), 'chunk-a')
    expect(await json('SELECT count() FROM dedup')).toEqual([[ROWS.length]])
    await sink.insert(write('dedup'), 'chunk-b')
    expect(await json('SELECT count() FROM dedup')).toEqual([[2 * ROWS.length]])
  })

  it('deduplicates a chunk larger than one read block (several blocks per insert)', async () => {
    const n = 150_000 // over max_block_size (65,409): the file is read as several blocks
    const template = ROWS[0]!
    const rows = Array.from({ length: n }, (_, i) => [i, `s${i}`, ...template.slice(2)])
    const sink = createFileRowSink(client, { dir: sinkDir })
    await sink.insert(write('dedup_big', rows), 'big-a')
    await sink.insert(write('dedup_big', rows), 'big-a')
    expect(await json('SELECT count(), uniqExact(id) FROM dedup_big')).toEqual([[n, n]])
    await sink.insert(write('dedup_big', rows), 'big-b')
    expect(await json('SELECT count(), uniqExact(id) FROM dedup_big')).toEqual([[2 * n, n]])
  })

  it('refuses a value of the wrong type without retrying, and leaves no file behind', async () => {
    const sink = createFileRowSink(client, { dir: sinkDir })
    const bad = [[...ROWS[0]!.slice(0, 5), 'not a number', ...ROWS[0]!.slice(6)]]
    await expect(sink.insert(write('via_file', bad), 'bad-1')).rejects.toMatchObject({ code: 'TRF_ROW_VALUE', retryable: false })
    const nullInNonNullable = [[null, ...ROWS[0]!.slice(1)]]
    await expect(sink.insert(write('via_file', nullInNonNullable), 'bad-2')).rejects.toMatchObject({ code: 'TRF_ROW_VALUE' })
    expect(readdirSync(sinkDir)).toEqual([])
  })

  it('stops background merges while the disk refuses writes, and restarts them after the first insert that succeeds', async () => {
    const commands: string[] = []
    const recording = new Proxy(client, {
      get(target, key) {
        if (key === 'command') return (p: Parameters<ClickHouseClient['command']>[0]) => { commands.push(p.query.startsWith('SYSTEM') ? p.query : 'INSERT'); return target.command(p) }
        const v = Reflect.get(target, key) as unknown
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
      },
    })
    let full = true
    const efbig = Object.assign(new Error('EFBIG: file too large'), { code: 'EFBIG' })
    const sink = createFileRowSink(recording, {
      dir: sinkDir,
      writeFile: async (path, data) => { if (full) throw efbig; await writeFile(path, data) },
    })
    await expect(sink.insert(write('disk_full'), 'full-1')).rejects.toMatchObject({ code: 'TRF_DISK_FULL', retryable: true })
    await expect(sink.insert(write('disk_full'), 'full-1')).rejects.toMatchObject({ code: 'TRF_DISK_FULL' })
    expect(commands).toEqual(['SYSTEM STOP MERGES']) // once, not per failure
    full = false
    await sink.insert(write('disk_full'), 'full-1')
    await sink.insert(write('disk_full', ROWS.slice(0, 1).map((r) => [10, ...r.slice(1)])), 'full-2')
    // START was sent once, so the engine accepted both commands (a refused one is sent again)
    expect(commands).toEqual(['SYSTEM STOP MERGES', 'INSERT', 'SYSTEM START MERGES', 'INSERT'])
    expect(await json('SELECT id FROM disk_full ORDER BY id')).toEqual([[1], [2], [3], [10]])
    expect(readdirSync(sinkDir)).toEqual([])
  })

  it('names an unsupported column type on the first insert', async () => {
    await client.command({ query: 'CREATE TABLE odd (id UInt32, d Decimal(10, 2)) ENGINE = MergeTree ORDER BY id' })
    const sink = createFileRowSink(client, { dir: sinkDir })
    await expect(sink.insert({ table: 'odd', columns: ['id', 'd'], rows: [[1, 2]] }, 't')).rejects.toMatchObject({ code: 'TRF_ROW_TYPE' })
    await expect(sink.insert({ table: 'missing_table', columns: ['id'], rows: [[1]] }, 't')).rejects.toMatchObject({ code: 'TRF_SINK_TABLE' })
  })

  it('drops a replayed request_events chunk in the raw table and in the rollups its views feed', async () => {
    const migratedDb = 'row_sink_file_migrated'
    const migrated = await openClickHouse({ dataPath: join(root, 'clickhouse'), database: migratedDb })
    try {
      await migrate(migrated, { database: migratedDb })
      const cols = INSERT_COLUMNS.requestEvents
      const n = 250
      const rows = Array.from({ length: n }, (_, i) => {
        const completed = nowMs - i * 1000
        const v: Record<string, unknown> = {
          event_id: `ev-${i}`, request_id: `rq-${i}`, trace_id: null, tenant: 'acme', region: 'eu', deployment: 'prod',
          worker_id: 'w-1', host: 'h-1', gpu_uuid: 'GPU-1', gpu_type: 'H100', model: i % 2 ? 'sdxl' : 'flux', model_version: 'v1',
          pipeline: 'txt2img', sampler: 'euler', steps: 30, guidance_scale: 7.5, width: 1024, height: 1024, images: 1, batch_size: 1,
          prompt_hash: null, cold_start: false, model_load_ms: null, received_at: completed - 900, dequeued_at: completed - 800,
          inference_start_at: completed - 800, inference_end_at: completed - 50, completed_at: completed, text_encode_ms: 10,
          denoise_ms: 600, vae_decode_ms: 80, safety_ms: 10, upload_ms: 20, status: 'ok', error_type: null, error_message: null,
          http_status: 200, peak_gpu_mem_mb: 20_000, lora_adapters: [], seed: i, precision: 'fp16', queue_depth: 0,
          _topic: 'requests', _partition: 0, _offset: i,
        }
        return cols.map((c) => v[c])
      })
      const sink = createFileRowSink(migrated, { dir: sinkDir })
      const chunk = { table: TABLES.requestEvents, columns: cols, rows }
      await sink.insert(chunk, 'v1:request_events:t:0:0-249')
      await sink.insert(chunk, 'v1:request_events:t:0:0-249')
      const counts = async () => (await migrated.query({
        query: `SELECT (SELECT count() FROM ${TABLES.requestEvents}) AS raw, (SELECT sum(n_e2e) FROM ${TABLES.latencyRollup1m}) AS rollup`,
        format: 'JSONCompactEachRow',
      })).json<unknown[]>()
      expect(await counts()).toEqual([[n, n]])
      await sink.insert(chunk, 'v1:request_events:t:0:250-499')
      expect(await counts()).toEqual([[2 * n, 2 * n]])
    } finally {
      await migrated.close()
    }
  })
})

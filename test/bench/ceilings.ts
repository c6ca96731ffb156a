/**
 * The two ceilings an ingest figure is bounded by, measured on the same data in the same run:
 * Kafka's own consumer performance tool on the benchmark topics (delivery ceiling) and the
 * embedded engine loading the same rows pre-serialized as RowBinary from a file (storage
 * ceiling, materialized views included, as in the pipeline).
 */
import { execFileSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import type { ClickHouseClient } from '@clickhouse/client'
import { INSERT_COLUMNS, TABLES } from '../../migrations/tables.ts'
import { defaultSinkDir } from '../../transform/row-sink-file.ts'
import { uniqueName } from '../support/kafka.ts'
import type { BenchContext } from './context.ts'

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** Messages/s of org.apache.kafka.tools.ConsumerPerformance over both event topics. */
export function kafkaConsumerCeiling(ctx: BenchContext, topics: string[], messages: number): { msgPerSec: number; fetchMsgPerSec: number; raw: string } {
  const out = execFileSync(
    'java',
    [
      '-Xmx512m', '-cp', `${ctx.kafkaLibs}/*`, 'org.apache.kafka.tools.ConsumerPerformance',
      '--bootstrap-server', ctx.brokers.join(','),
      '--include', `^(${topics.map(escapeRegex).join('|')})$`,
      '--num-records', String(messages),
      '--group', uniqueName('bench-perf'),
      '--timeout', '60000',
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  )
  // Header: start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec,
  // rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
  const lines = out.trim().split('\n')
  const header = lines.find((l) => l.includes('nMsg.sec'))?.split(',').map((s) => s.trim()) ?? []
  const values = lines[lines.length - 1]!.split(',').map((s) => s.trim())
  const col = (name: string) => Number(values[header.indexOf(name)])
  if (col('data.consumed.in.nMsg') < messages) throw new Error(`ConsumerPerformance read ${col('data.consumed.in.nMsg')} of ${messages} messages`)
  return { msgPerSec: col('nMsg.sec'), fetchMsgPerSec: col('fetch.nMsg.sec'), raw: out.trim() }
}

/**
 * Rows/s of `INSERT ... SELECT * FROM file(RowBinary)` into a fresh database for the raw rows
 * `source` holds (both raw tables), timed from the first insert to the last acknowledgement.
 */
export async function storageCeiling(ctx: BenchContext, source: { client: ClickHouseClient; database: string }): Promise<{ rowsPerSec: number; rows: number; seconds: number }> {
  const target = await ctx.database('ceiling')
  const tables = [
    { table: TABLES.requestEvents, columns: INSERT_COLUMNS.requestEvents },
    { table: TABLES.gpuSamples, columns: INSERT_COLUMNS.gpuSamples },
  ]
  const files: { table: string; cols: string; path: string; structure: string }[] = []
  let rows = 0
  for (const { table, columns } of tables) {
    const path = join(defaultSinkDir(), `${uniqueName('dw-bench-ceiling')}-${table}.bin`)
    const cols = columns.map((c) => `\`${c}\``).join(', ')
    await source.client.command({ query: `INSERT INTO FUNCTION file('${path}', 'RowBinary') SELECT ${cols} FROM ${source.database}.${table}` })
    const types = await (
      await source.client.query({
        query: 'SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {t:String}',
        query_params: { db: source.database, t: table },
        format: 'JSONEachRow',
      })
    ).json<{ name: string; type: string }>()
    const byName = new Map(types.map((t) => [t.name, t.type]))
    const structure = columns.map((c) => `${c} ${byName.get(c)}`).join(', ').replace(/'/g, "\\'")
    const [count] = await (await source.client.query({ query: `SELECT count() AS n FROM ${source.database}.${table}`, format: 'JSONEachRow' })).json<{ n: number }>()
    rows += Number(count?.n ?? 0)
    files.push({ table, cols, path, structure })
  }
  const t0 = performance.now()
  for (const f of files) {
    await target.client.command({ query: `INSERT INTO ${target.database}.${f.table} (${f.cols}) SELECT * FROM file('${f.path}', 'RowBinary', '${f.structure}')` })
  }
  const seconds = (performance.now() - t0) / 1000
  for (const f of files) rmSync(f.path, { force: true })
  let loaded = 0
  for (const f of files) {
    const [c] = await (await target.client.query({ query: `SELECT count() AS n FROM ${target.database}.${f.table}`, format: 'JSONEachRow' })).json<{ n: number }>()
    loaded += Number(c?.n ?? 0)
  }
  if (loaded !== rows) throw new Error(`storage ceiling loaded ${loaded} rows of ${rows}`)
  return { rowsPerSec: rows / seconds, rows, seconds }
}

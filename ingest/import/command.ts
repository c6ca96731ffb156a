/**
 * `diffwatch import FILE`: backfills RequestEvents from a JSON / NDJSON log (gzip or not).
 * Flags map onto the IMPORT_* variables, validated together with the environment in one pass.
 * Progress is one updating line on a terminal (plain lines otherwise); the report follows.
 * Exit codes: 0 done (rejected records do not fail an import), 1 Kafka failure or a file that
 * broke off, 2 usage or configuration error, 130 interrupted.
 */
import { homedir } from 'node:os'
import { basename, join } from 'node:path'
import { parseArgs } from 'node:util'
import { Type, type Static } from '@sinclair/typebox'
import { loadConfig } from '../../schemas/config.ts'
import { DiffwatchError, isDiffwatchError } from '../../schemas/errors.ts'
import { topicSet } from '../../schemas/topics.ts'
import { connectKafkaSink } from '../simulator/kafka-sink.ts'
import { runImport, type ImportProgress, type ImportReport } from './importer.ts'
import { inspectLogFile } from './record-stream.ts'

export const ImportConfigSchema = Type.Object({
  KAFKA_BROKERS: Type.String({ default: '127.0.0.1:19092', description: 'Comma-separated bootstrap brokers.' }),
  KAFKA_CLIENT_ID: Type.String({ default: 'diffwatch-import' }),
  TOPIC_PREFIX: Type.String({ default: '', description: 'Prefix of the diffwatch topics (isolated test runs).' }),
  IMPORT_BATCH_SIZE: Type.Integer({ default: 2000, minimum: 1, maximum: 100_000, description: 'Records per Kafka produce call.' }),
  IMPORT_MAX_IN_FLIGHT: Type.Integer({ default: 2, minimum: 1, maximum: 16, description: 'Produce calls awaiting acks at once.' }),
  IMPORT_COMPRESSION: Type.Union([Type.Literal('none'), Type.Literal('gzip')], { default: 'gzip', description: 'Kafka batch compression.' }),
  IMPORT_STATE_DIR: Type.String({ default: '', description: 'Folder of the import ledger; empty: $XDG_STATE_HOME/diffwatch/imports or ~/.local/state/diffwatch/imports.' }),
  IMPORT_REJECTS: Type.String({ default: '', description: 'File for rejected records (NDJSON); empty: ./<file name>.rejects.ndjson.' }),
  IMPORT_CREATE_TOPICS_PARTITIONS: Type.Integer({ default: 0, minimum: 0, maximum: 1000, description: 'Creates missing topics with this many partitions; 0: topics must exist.' }),
})
export type ImportConfig = Static<typeof ImportConfigSchema>

const USAGE = `usage: diffwatch import [flags] FILE

Backfills request events from a JSON array or NDJSON log (gzip or not) into Kafka.
Field names are mapped as docs/import.md lists; records that cannot be mapped are written to
the rejects file with a reason. Running the same import again produces nothing twice.

  --rejects FILE       rejected records (NDJSON)                     (IMPORT_REJECTS, ./FILE.rejects.ndjson)
  --state-dir DIR      import ledger folder                          (IMPORT_STATE_DIR)
  --no-ledger          produce every record, even if imported before
  --batch-size N       records per produce call                      (IMPORT_BATCH_SIZE, 2000)
  --brokers LIST       host:port[,host:port]                         (KAFKA_BROKERS)
  --topic-prefix P     prefix of the topic names                     (TOPIC_PREFIX)
`

const FLAG_ENV: Readonly<Record<string, keyof ImportConfig>> = {
  rejects: 'IMPORT_REJECTS',
  'state-dir': 'IMPORT_STATE_DIR',
  'batch-size': 'IMPORT_BATCH_SIZE',
  brokers: 'KAFKA_BROKERS',
  'topic-prefix': 'TOPIC_PREFIX',
}

export interface CommandIo {
  readonly stdout: { write(text: string): unknown; isTTY?: boolean }
  readonly stderr: { write(text: string): unknown; isTTY?: boolean }
}

type Parsed = { config: Readonly<ImportConfig>; file: string; ledger: boolean; help: boolean }

export function parseImportArgs(argv: string[], env: Record<string, string | undefined>): Parsed {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: { ...Object.fromEntries(Object.keys(FLAG_ENV).map((k) => [k, { type: 'string' as const }])), 'no-ledger': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    })
  } catch (err) {
    throw new DiffwatchError('CFG_INVALID', (err as Error).message, { cause: err })
  }
  const values = parsed.values as Record<string, string | boolean | undefined>
  if (values.help === true) return { config: loadConfig(ImportConfigSchema, {}), file: '', ledger: true, help: true }
  if (parsed.positionals.length !== 1) throw new DiffwatchError('CFG_INVALID', `give exactly one FILE to import (got ${parsed.positionals.length})`)
  const merged: Record<string, string | undefined> = { ...env }
  for (const [flag, name] of Object.entries(FLAG_ENV)) if (typeof values[flag] === 'string') merged[name] = values[flag] as string
  const config = loadConfig(ImportConfigSchema, merged, [
    (c) => (c.KAFKA_BROKERS.split(',').every((b) => /^[^\s:]+:\d+$/.test(b.trim())) ? [] : [`KAFKA_BROKERS must be host:port[,host:port...], got ${JSON.stringify(c.KAFKA_BROKERS)}`]),
  ])
  return { config, file: parsed.positionals[0] as string, ledger: values['no-ledger'] !== true, help: false }
}

export function defaultStateDir(env: Record<string, string | undefined>): string {
  return join(env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'diffwatch', 'imports')
}

export async function importCommand(argv: string[], env: Record<string, string | undefined> = process.env, io: CommandIo = process): Promise<number> {
  let p: Parsed
  try {
    p = parseImportArgs(argv, env)
  } catch (err) {
    io.stderr.write(`diffwatch import: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`)
    return 2
  }
  if (p.help) {
    io.stdout.write(USAGE)
    return 0
  }
  const c = p.config
  const topics = topicSet(c.TOPIC_PREFIX)
  const abort = new AbortController()
  const onSigint = (): void => abort.abort()
  process.once('SIGINT', onSigint)
  const line = progressLine(io.stderr)
  try {
    // A wrong path or format is the user's mistake: say so before waiting on Kafka.
    await inspectLogFile(p.file)
    const sink = await connectKafkaSink({
      brokers: c.KAFKA_BROKERS.split(',').map((b) => b.trim()),
      clientId: c.KAFKA_CLIENT_ID,
      compression: c.IMPORT_COMPRESSION,
      ...(c.IMPORT_CREATE_TOPICS_PARTITIONS > 0 ? { createTopics: { topics, partitions: c.IMPORT_CREATE_TOPICS_PARTITIONS } } : {}),
    })
    let report: ImportReport
    try {
      report = await runImport({
        file: p.file,
        topic: topics.requests,
        sink,
        batchSize: c.IMPORT_BATCH_SIZE,
        maxInFlight: c.IMPORT_MAX_IN_FLIGHT,
        rejectsFile: c.IMPORT_REJECTS || `${basename(p.file)}.rejects.ndjson`,
        stateDir: p.ledger ? c.IMPORT_STATE_DIR || defaultStateDir(env) : null,
        onProgress: line.update,
        signal: abort.signal,
      })
    } finally {
      line.done()
      await sink.close().catch(() => undefined)
    }
    io.stdout.write(formatReport(report))
    if (report.fatal !== null) return 1
    return abort.signal.aborted ? 130 : 0
  } catch (err) {
    line.done()
    if (isDiffwatchError(err)) {
      io.stderr.write(`diffwatch import: error ${err.code}: ${err.message}\n`)
      return err.code.startsWith('ING_IMPORT_') ? 2 : 1
    }
    throw err
  } finally {
    process.removeListener('SIGINT', onSigint)
  }
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US')

function progressLine(out: CommandIo['stderr']): { update(p: ImportProgress): void; done(): void } {
  let open = false
  return {
    update(p) {
      const pct = p.totalBytes > 0 ? ((100 * p.bytesRead) / p.totalBytes).toFixed(1) : '100.0'
      const eta = p.etaSec === null ? '?' : `${Math.ceil(p.etaSec)} s`
      const text = `import: ${pct}% ${int(p.read)} read, ${int(p.produced)} produced, ${int(p.rejected)} rejected, ${int(p.recordsPerSec)} records/s, ETA ${eta}`
      if (out.isTTY === true) {
        out.write(`\r\x1b[2K${text}`)
        open = true
      } else out.write(`${text}\n`)
    },
    done() {
      if (open) out.write('\n')
      open = false
    },
  }
}

export function formatReport(r: ImportReport): string {
  const lines = [
    `${r.fatal === null ? 'done' : 'stopped'}: ${r.file} (${r.format}${r.gzip ? ', gzip' : ''}, ${(r.bytes / 1e6).toFixed(1)} MB) in ${(r.elapsedMs / 1000).toFixed(1)} s, ${int(r.recordsPerSec)} records/s`,
    `  read ${int(r.read)}, produced ${int(r.produced)}, rejected ${int(r.rejected)}, already imported ${int(r.skipped)}`,
  ]
  for (const [reason, n] of Object.entries(r.rejectedByReason).sort(([, a], [, b]) => b - a)) lines.push(`  rejected ${reason}: ${int(n)}`)
  if (r.rejected > 0 && r.rejectsFile !== null) lines.push(`  rejected records: ${r.rejectsFile}`)
  if (r.olderThanRetention > 0) {
    lines.push(`  warning: ${int(r.olderThanRetention)} records completed more than 30 days ago: the raw table's TTL drops them at insert (they still count in the windowed aggregates)`)
  }
  if (r.fatal !== null) lines.push(`  error ${r.fatal.code}: ${r.fatal.message}`)
  return `${lines.join('\n')}\n`
}

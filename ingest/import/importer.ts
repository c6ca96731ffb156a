/**
 * `runImport`: JSON log file → RequestEvents → Kafka, in batches, with a report.
 *
 * Guarantees:
 * - every record read ends up counted exactly once in the report: produced, rejected (by reason,
 *   each appended to the rejects file with its index and the reason), or skipped because an
 *   earlier run already produced it (import-ledger.ts);
 * - `produced` counts only records Kafka acknowledged (acks = all); batches are keyed by worker id;
 * - at most `maxInFlight` batches await acknowledgement, so a multi-GB file is read no faster
 *   than Kafka takes it and memory stays flat;
 * - records whose completion time is older than the raw table's retention are produced (they
 *   still count in the windowed aggregates) and counted in `olderThanRetention`, because the
 *   raw table drops them at insert.
 */
import { createWriteStream, type WriteStream } from 'node:fs'
import { once } from 'node:events'
import { createCodec } from '../../schemas/codec.ts'
import { errorMessage } from '../../schemas/errors.ts'
import type { EventSink, OutgoingMessage } from '../simulator/kafka-sink.ts'
import { MAX_RECORD_DEPTH, deeperThan } from '../json-depth.ts'
import { openLedger, type ImportLedger } from './import-ledger.ts'
import { mapRecord } from './record-mapping.ts'
import { openRecordStream, type LogFormat, type StreamedRecord } from './record-stream.ts'

/** Retention of the raw request_events table (migrations/sql/0001_request_events.sql). */
export const RAW_RETENTION_MS = 30 * 86_400_000
/** Records completed further in the future than this are rejected (transformer's default tolerance). */
export const FUTURE_TOLERANCE_MS = 300_000

export interface ImportProgress {
  readonly read: number
  readonly produced: number
  readonly rejected: number
  readonly bytesRead: number
  readonly totalBytes: number
  readonly recordsPerSec: number
  /** Seconds left, from the bytes still to read at the current byte rate; null at first. */
  readonly etaSec: number | null
}

export interface ImportReport {
  readonly file: string
  readonly format: LogFormat
  readonly gzip: boolean
  readonly read: number
  readonly produced: number
  readonly skipped: number
  readonly rejected: number
  readonly rejectedByReason: Readonly<Record<string, number>>
  readonly olderThanRetention: number
  readonly bytes: number
  readonly elapsedMs: number
  readonly recordsPerSec: number
  /** Set when the file broke off (a malformed JSON array): records before the break were imported. */
  readonly fatal: { readonly code: string; readonly message: string } | null
  readonly rejectsFile: string | null
}

export interface ImportOptions {
  readonly file: string
  readonly topic: string
  readonly sink: EventSink
  readonly batchSize?: number
  readonly maxInFlight?: number
  /** Where rejected records go (NDJSON); null: not written. */
  readonly rejectsFile?: string | null
  /** Folder of the import ledger; null: no ledger (every run produces every record). */
  readonly stateDir?: string | null
  readonly onProgress?: (p: ImportProgress) => void
  readonly progressIntervalMs?: number
  readonly now?: () => number
  readonly signal?: AbortSignal
}

type Pending = { promise: Promise<void>; endIndex: number; count: number }

export async function runImport(o: ImportOptions): Promise<ImportReport> {
  const started = Date.now()
  const now = o.now ?? Date.now
  const stream = await openRecordStream(o.file)
  const ledger: ImportLedger | null = o.stateDir ? await openLedger(o.stateDir, o.file, o.topic) : null
  // Opened on the first rejection and appended to: a re-run (whose earlier records the ledger
  // skips) must not wipe the rejections of the run before.
  let rejects: WriteStream | null = null
  const codec = createCodec()
  const batchSize = o.batchSize ?? 2000
  const maxInFlight = o.maxInFlight ?? 2
  const byReason: Record<string, number> = {}
  const c = { read: 0, produced: 0, skipped: 0, rejected: 0, old: 0 }
  const inFlight: Pending[] = []
  let batch: OutgoingMessage[] = []
  let fatal: ImportReport['fatal'] = null
  const retentionCutoff = now() - RAW_RETENTION_MS
  const futureCutoff = now() + FUTURE_TOLERANCE_MS
  const progress = startProgress(o, stream, c, started)

  const reject = async (index: number, reason: string, detail: string, record: unknown): Promise<void> => {
    c.rejected += 1
    byReason[reason] = (byReason[reason] ?? 0) + 1
    if (o.rejectsFile) rejects ??= createWriteStream(o.rejectsFile, { flags: 'a' })
    if (rejects !== null && !rejects.write(`${rejectLine(index, reason, detail, record)}\n`)) await once(rejects, 'drain')
  }
  const settleOldest = async (): Promise<void> => {
    const p = inFlight.shift() as Pending
    await p.promise
    c.produced += p.count
    await ledger?.advance(p.endIndex)
  }
  const flush = async (endIndex: number): Promise<void> => {
    if (batch.length === 0 && inFlight.length === 0) {
      await ledger?.advance(endIndex)
      return
    }
    const messages = batch
    batch = []
    const promise = messages.length > 0 ? o.sink.send([{ topic: o.topic, messages }]) : Promise.resolve()
    // A failed send is awaited (and rethrown) in order by settleOldest; keep it from being unhandled meanwhile.
    promise.catch(() => undefined)
    inFlight.push({ promise, endIndex, count: messages.length })
    while (inFlight.length >= maxInFlight) await settleOldest()
  }

  const take = async (item: StreamedRecord): Promise<void> => {
    if ('error' in item) return reject(item.index, item.reason ?? 'invalid_json', item.error, item.raw)
    if (deeperThan(item.value, MAX_RECORD_DEPTH)) return reject(item.index, 'too_deep', `the record is nested deeper than ${MAX_RECORD_DEPTH} levels`, null)
    const mapped = mapRecord(item.value)
    if (!mapped.ok) return reject(item.index, mapped.reason, mapped.detail, item.value)
    if (mapped.event.completed_at > futureCutoff) {
      // The transformer dead-letters events stamped this far after their Kafka timestamp.
      return reject(item.index, 'in_future', `completed_at ${new Date(mapped.event.completed_at).toISOString()} is more than 5 min ahead of this host's clock`, item.value)
    }
    if (mapped.event.completed_at < retentionCutoff) c.old += 1
    batch.push({ key: mapped.event.worker_id, value: codec.encodeRequestEvent(mapped.event) })
  }

  let nextIndex = ledger?.startIndex ?? 0
  // Whatever fails (Kafka included), the progress timer stops and the rejects file is closed.
  try {
    try {
      for await (const item of stream.records) {
        if (o.signal?.aborted === true) break
        c.read += 1
        nextIndex = item.index + 1
        if (item.index < (ledger?.startIndex ?? 0)) c.skipped += 1
        else await take(item)
        if (batch.length >= batchSize) await flush(nextIndex)
      }
    } catch (err) {
      const e = err as { code?: string; message?: string }
      if (e.code !== 'ING_IMPORT_MALFORMED') throw err
      fatal = { code: e.code, message: e.message ?? String(err) }
    } finally {
      stream.close()
    }
    await flush(nextIndex)
    while (inFlight.length > 0) await settleOldest()
  } finally {
    progress.stop()
    if (rejects !== null) await closeStream(rejects)
  }
  const elapsedMs = Date.now() - started
  return {
    file: o.file,
    format: stream.format,
    gzip: stream.gzip,
    read: c.read,
    produced: c.produced,
    skipped: c.skipped,
    rejected: c.rejected,
    rejectedByReason: byReason,
    olderThanRetention: c.old,
    bytes: stream.totalBytes,
    elapsedMs,
    recordsPerSec: elapsedMs > 0 ? (c.read * 1000) / elapsedMs : 0,
    fatal,
    rejectsFile: o.rejectsFile ?? null,
  }
}

/**
 * One line of the rejects file. A record nested too deep for JSON.stringify (100k levels parse
 * fine but overflow the stack when written back; found by test/chaos bad-input-import, where it
 * ended the whole import) is written without its body.
 */
function rejectLine(index: number, reason: string, detail: string, record: unknown): string {
  try {
    return JSON.stringify({ index, reason, detail, record })
  } catch (err) {
    return JSON.stringify({ index, reason, detail, record: null, recordOmitted: errorMessage(err) })
  }
}

async function closeStream(ws: WriteStream): Promise<void> {
  ws.end()
  await once(ws, 'finish')
}

function startProgress(o: ImportOptions, stream: { bytesRead(): number; totalBytes: number }, c: { read: number; produced: number; rejected: number }, started: number): { stop(): void } {
  if (o.onProgress === undefined) return { stop: () => undefined }
  const report = (): void => {
    const elapsed = Math.max(1, Date.now() - started)
    const bytes = stream.bytesRead()
    const byteRate = bytes / elapsed
    const etaSec = bytes > 0 ? Math.max(0, (stream.totalBytes - bytes) / byteRate / 1000) : null
    o.onProgress?.({ read: c.read, produced: c.produced, rejected: c.rejected, bytesRead: bytes, totalBytes: stream.totalBytes, recordsPerSec: (c.read * 1000) / elapsed, etaSec })
  }
  const timer = setInterval(report, o.progressIntervalMs ?? 1000)
  return {
    stop() {
      clearInterval(timer)
      report()
    },
  }
}

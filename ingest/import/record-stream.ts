/**
 * Streams the records of a JSON log file, whatever its shape: one JSON array of records or
 * NDJSON (one record per line), gzip-compressed or not. Compression is told by the gzip magic
 * bytes (1f 8b), the shape by the first non-blank character after decompression (`[`: array).
 *
 * Guarantees:
 * - memory stays flat: records are parsed by stream-json one at a time and the file is read only
 *   as fast as the consumer pulls records (back-pressure through the async iterator);
 * - every record gets an `index`: its position among the array's elements or the file's
 *   non-blank lines, stable from run to run;
 * - an NDJSON line that is not JSON comes out as `{ index, error, raw }` and reading goes on;
 *   a broken JSON array cannot be resynchronised, so it ends the stream with ING_IMPORT_MALFORMED
 *   after the records that end before the 64 KiB block holding the break (of an uncompressed
 *   file; the parser rejects a block as a whole);
 * - `bytesRead()` counts bytes of the file as stored (compressed bytes for gzip), for progress.
 * - NDJSON lines are cut from the bytes here, never held beyond MAX_LINE_BYTES: a longer line
 *   (a gzip bomb of one endless line) is skipped as it streams by and comes out as an error item
 *   with reason `too_long`; a line that is not valid UTF-8 comes out with reason `invalid_utf8`
 *   instead of being decoded into U+FFFD (both found by test/chaos bad-input-import: stream-json's
 *   line parser buffered a 512 MiB line whole, and altered the invalid bytes silently).
 */
import { isUtf8 } from 'node:buffer'
import { open, stat } from 'node:fs/promises'
import { createReadStream } from 'node:fs'
import { PassThrough, type Readable } from 'node:stream'
import { createGunzip } from 'node:zlib'
import { streamArray } from 'stream-json/streamers/stream-array.js'
import { DiffwatchError, errorMessage } from '../../schemas/errors.ts'

export type LogFormat = 'array' | 'ndjson'

export type LineErrorReason = 'invalid_json' | 'invalid_utf8' | 'too_long'

export type StreamedRecord =
  | { readonly index: number; readonly value: unknown }
  | { readonly index: number; readonly error: string; readonly raw: string; readonly reason?: LineErrorReason }

/** Longest NDJSON line read; anything longer is rejected as `too_long` without being held. */
export const MAX_LINE_BYTES = 16 * 1024 * 1024

export interface RecordStream {
  readonly format: LogFormat
  readonly gzip: boolean
  /** Size of the file as stored (bytes). */
  readonly totalBytes: number
  bytesRead(): number
  readonly records: AsyncIterable<StreamedRecord>
  close(): void
}

export const BLOCK_BYTES = 64 * 1024
const BAD_LINE = Symbol('bad-line')
type BadLine = { [BAD_LINE]: true; error: string; raw: string }

async function readHead(path: string, bytes: number): Promise<Buffer> {
  const fh = await open(path, 'r')
  try {
    const buf = Buffer.alloc(bytes)
    const { bytesRead } = await fh.read(buf, 0, bytes, 0)
    return buf.subarray(0, bytesRead)
  } finally {
    await fh.close()
  }
}

/** First non-blank character of the (decompressed) content, reading no more than needed. */
async function firstChar(path: string, gzip: boolean): Promise<string | null> {
  const raw = createReadStream(path, { highWaterMark: 64 * 1024 })
  const source: Readable = gzip ? raw.pipe(createGunzip()) : raw
  try {
    for await (const chunk of source) {
      const text = (chunk as Buffer).toString('utf8').replace(/^\uFEFF/, '')
      const m = /\S/.exec(text)
      if (m) return m[0]
    }
    return null
  } catch (err) {
    throw new DiffwatchError('ING_IMPORT_UNREADABLE', `${path}: ${gzip ? 'not a valid gzip file' : 'cannot be read'}: ${errorMessage(err)}`, { cause: err })
  } finally {
    raw.destroy()
  }
}

/** Size, compression and shape of a log file; throws ING_IMPORT_NO_FILE / _UNREADABLE / _FORMAT. */
export async function inspectLogFile(path: string): Promise<{ totalBytes: number; gzip: boolean; format: LogFormat }> {
  let totalBytes: number
  try {
    totalBytes = (await stat(path)).size
  } catch (err) {
    throw new DiffwatchError('ING_IMPORT_NO_FILE', `cannot read ${path}: ${errorMessage(err)}`, { cause: err })
  }
  const head = await readHead(path, 2)
  const gzip = head[0] === 0x1f && head[1] === 0x8b
  const first = await firstChar(path, gzip)
  if (first !== null && first !== '[' && first !== '{') {
    throw new DiffwatchError('ING_IMPORT_FORMAT', `${path} is neither a JSON array nor NDJSON: it starts with ${JSON.stringify(first)}, expected "[" or "{"`)
  }
  return { totalBytes, gzip, format: first === '[' ? 'array' : 'ndjson' }
}

export async function openRecordStream(path: string): Promise<RecordStream> {
  const { totalBytes, gzip, format } = await inspectLogFile(path)
  let read = 0
  // 64 KiB blocks: a broken JSON array loses at most the block holding the break (the parser
  // rejects a block as a whole), and blocks are aligned on multiples of 64 KiB of the file.
  const file = createReadStream(path, { highWaterMark: BLOCK_BYTES })
  file.on('data', (chunk) => {
    read += chunk.length
  })
  const text: Readable = gzip ? file.pipe(createGunzip()) : file
  // NDJSON goes through a PassThrough: the byte counter's 'data' listener sets the file flowing,
  // and bytes must wait in a buffer (with back-pressure) until the records are pulled.
  const parser: Readable = text.pipe(format === 'array' ? streamArray.withParserAsStream() : new PassThrough())
  // pipe() does not forward errors: a gzip or read error must end the parser's iteration too.
  const fail = (err: unknown): void => {
    parser.destroy(err instanceof Error ? err : new Error(String(err)))
  }
  file.on('error', fail)
  if (text !== file) text.on('error', fail)
  return {
    format,
    gzip,
    totalBytes,
    bytesRead: () => read,
    records: format === 'array' ? iterate(parser, format, path) : ndjsonRecords(parser, path),
    close() {
      parser.destroy()
      file.destroy()
    },
  }
}

async function* iterate(parser: Readable, format: LogFormat, path: string): AsyncGenerator<StreamedRecord> {
  let last = -1
  try {
    for await (const item of parser) {
      const { key, value } = item as { key: number; value: unknown }
      last = key
      if (value !== null && typeof value === 'object' && BAD_LINE in value) {
        const bad = value as BadLine
        yield { index: key, error: bad.error, raw: bad.raw.length > 2000 ? `${bad.raw.slice(0, 2000)}...` : bad.raw }
      } else yield { index: key, value }
    }
  } catch (err) {
    const where = format === 'array' ? `after array element ${last}` : `after line record ${last}`
    throw new DiffwatchError('ING_IMPORT_MALFORMED', `${path}: the ${format === 'array' ? 'JSON array' : 'file'} is malformed ${where}: ${errorMessage(err)}`, { cause: err })
  }
}

/** One record per non-empty line (a lone CR counts as empty), cut from the bytes as they stream. */
async function* ndjsonRecords(source: Readable, path: string): AsyncGenerator<StreamedRecord> {
  let parts: Buffer[] = []
  let size = 0
  let index = 0
  const take = (): StreamedRecord | null => {
    const long = size > MAX_LINE_BYTES
    let line = long ? Buffer.concat(parts.slice(0, 1)).subarray(0, 200) : Buffer.concat(parts, size)
    const seen = size
    parts = []
    size = 0
    if (!long && line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1)
    if (seen === 0 || (!long && line.length === 0)) return null
    const at = index++
    if (long) return { index: at, error: `line is longer than ${MAX_LINE_BYTES} bytes (${seen} bytes)`, raw: `${line.toString('utf8')}...`, reason: 'too_long' }
    if (!isUtf8(line)) return { index: at, error: 'line is not valid UTF-8', raw: clip(line.toString('utf8')), reason: 'invalid_utf8' }
    const text = line.toString('utf8')
    try {
      return { index: at, value: JSON.parse(text) as unknown }
    } catch (err) {
      return { index: at, error: errorMessage(err), raw: clip(text), reason: 'invalid_json' }
    }
  }
  try {
    for await (const chunk of source) {
      const buf = chunk as Buffer
      for (let start = 0; start < buf.length; ) {
        const nl = buf.indexOf(0x0a, start)
        const end = nl < 0 ? buf.length : nl
        // Past the cap only the count grows (the first piece is kept for the report).
        if (size + (end - start) <= MAX_LINE_BYTES || parts.length === 0) parts.push(buf.subarray(start, end))
        else if (size <= MAX_LINE_BYTES) parts = parts.slice(0, 1)
        size += end - start
        if (nl < 0) break
        const rec = take()
        if (rec !== null) yield rec
        start = nl + 1
      }
    }
    const last = take()
    if (last !== null) yield last
  } catch (err) {
    throw new DiffwatchError('ING_IMPORT_MALFORMED', `${path}: the file cannot be read after line record ${index - 1}: ${errorMessage(err)}`, { cause: err })
  }
}

function clip(text: string): string {
  return text.length > 2000 ? `${text.slice(0, 2000)}...` : text
}

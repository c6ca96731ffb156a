/**
 * Turns a POST /v1/events body into records, each validated and encoded on its own.
 *
 * Guarantees: gzip bodies are inflated with a hard cap on the inflated size (a zip bomb costs at
 * most the cap); JSON bodies may be one object, an array, or NDJSON (one object per line); Avro
 * bodies (`application/avro`) are one single-object-framed event, accepted only when our codec
 * decodes it, and forwarded byte for byte so the writer version is kept. A record that fails
 * yields `{index, code, reason}` and never affects its neighbours. Whole-body problems (bad
 * gzip, over a cap, unparseable JSON array) throw a GatewayError with an HTTP status.
 */
import { isUtf8 } from 'node:buffer'
import { gunzipSync } from 'node:zlib'
import type { Codec } from '../../schemas/codec.ts'
import { SchemaValueError } from '../../schemas/encoder.ts'
import { errorMessage } from '../../schemas/errors.ts'
import type { SchemaKind } from '../../schemas/catalog.ts'
import { MAX_RECORD_DEPTH, deeperThan } from '../json-depth.ts'
import { GatewayError } from './gateway-error.ts'

export interface EncodedRecord {
  readonly index: number
  readonly kind: SchemaKind
  readonly key: string
  readonly value: Buffer
}

export interface RejectedRecord {
  readonly index: number
  readonly code: string
  readonly reason: string
  readonly fields?: readonly string[]
}

export interface BodyLimits {
  readonly maxDecompressedBytes: number
  readonly maxRecords: number
}

export function inflate(body: Buffer, encoding: string | undefined, limits: BodyLimits): Buffer {
  const enc = (encoding ?? 'identity').trim().toLowerCase()
  if (enc === 'identity' || enc === '') return body
  if (enc !== 'gzip') throw new GatewayError(415, 'ING_GW_UNSUPPORTED_ENCODING', `Content-Encoding ${enc} is not supported: send gzip or nothing`)
  try {
    return gunzipSync(body, { maxOutputLength: limits.maxDecompressedBytes })
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new GatewayError(413, 'ING_GW_TOO_LARGE', `the gzip body inflates to more than ${limits.maxDecompressedBytes} bytes: send fewer records per request`)
    }
    throw new GatewayError(400, 'ING_GW_BAD_GZIP', `the body is not valid gzip: ${errorMessage(err)}`)
  }
}

type RawRecord = { value: unknown } | { error: string; code?: string }

/**
 * Splits a JSON / NDJSON body into raw records; a line that is not JSON becomes a rejection.
 * JSON must be UTF-8: decoding invalid bytes would silently turn them into U+FFFD and store
 * altered values (found by test/chaos bad-input-gateway), so an NDJSON line with invalid UTF-8
 * is rejected on its own (ING_GW_BAD_UTF8) and a single JSON document with it is refused.
 */
export function jsonRecords(body: Buffer | string, ndjson: boolean): RawRecord[] {
  if (typeof body !== 'string') {
    if (isUtf8(body)) return jsonRecords(body.toString('utf8'), ndjson)
    const looksNdjson = ndjson || body.includes(0x0a)
    if (!looksNdjson) throw new GatewayError(400, 'ING_GW_BAD_UTF8', 'the body is not valid UTF-8: JSON must be sent as UTF-8')
    return splitLines(body).flatMap((line): RawRecord[] =>
      isUtf8(line) ? jsonRecords(line.toString('utf8'), true) : [{ error: 'line is not valid UTF-8', code: 'ING_GW_BAD_UTF8' }],
    )
  }
  const text = body
  const trimmed = text.trim()
  if (!ndjson) {
    let parsed: unknown
    try {
      parsed = JSON.parse(trimmed)
    } catch (err) {
      // Not one JSON document: it may still be NDJSON sent as application/json.
      if (trimmed.includes('\n')) return jsonRecords(text, true)
      throw new GatewayError(400, 'ING_GW_BAD_JSON', `the body is not JSON: ${errorMessage(err)}`)
    }
    return (Array.isArray(parsed) ? parsed : [parsed]).map((value) => ({ value }))
  }
  return trimmed
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      try {
        return { value: JSON.parse(line) as unknown }
      } catch (err) {
        return { error: `line is not JSON: ${errorMessage(err)}` }
      }
    })
}

/** Non-blank lines of an NDJSON body, as byte slices (no decoding). */
function splitLines(body: Buffer): Buffer[] {
  const lines: Buffer[] = []
  for (let start = 0; start < body.length; ) {
    const nl = body.indexOf(0x0a, start)
    const end = nl < 0 ? body.length : nl
    const line = body.subarray(start, end)
    if (line.toString('latin1').trim() !== '') lines.push(line)
    start = end + 1
  }
  return lines
}

export function encodeJsonRecords(raw: readonly RawRecord[], kind: SchemaKind, codec: Codec, limits: BodyLimits) {
  if (raw.length > limits.maxRecords) {
    throw new GatewayError(413, 'ING_GW_TOO_MANY_RECORDS', `${raw.length} records in one request; at most ${limits.maxRecords} are accepted`)
  }
  const accepted: EncodedRecord[] = []
  const rejected: RejectedRecord[] = []
  raw.forEach((item, index) => {
    if ('error' in item) return rejected.push({ index, code: item.code ?? 'ING_GW_BAD_JSON', reason: item.error })
    const value = item.value
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return rejected.push({ index, code: 'ING_GW_NOT_AN_OBJECT', reason: 'each record must be a JSON object' })
    }
    if (deeperThan(value, MAX_RECORD_DEPTH)) {
      return rejected.push({ index, code: 'ING_GW_INVALID', reason: `the record is nested deeper than ${MAX_RECORD_DEPTH} levels; no event field is` })
    }
    try {
      const bytes = codec.encode(kind, value as never)
      accepted.push({ index, kind, key: keyOf(kind, value as Record<string, unknown>), value: bytes })
    } catch (err) {
      if (err instanceof SchemaValueError) rejected.push({ index, code: err.code, reason: err.message, fields: err.fieldPaths })
      else rejected.push({ index, code: 'ING_GW_INVALID', reason: errorMessage(err) })
    }
  })
  return { accepted, rejected }
}

export function avroRecord(body: Buffer, codec: Codec): { accepted: EncodedRecord[]; rejected: RejectedRecord[] } {
  const decoded = codec.decode(body)
  if (!decoded.ok) return { accepted: [], rejected: [{ index: 0, code: decoded.code, reason: decoded.reason }] }
  const value = decoded.value as unknown as Record<string, unknown>
  return { accepted: [{ index: 0, kind: decoded.kind, key: keyOf(decoded.kind, value), value: body }], rejected: [] }
}

/** The Kafka key of the contract: worker for requests (per-worker order), GPU for samples. */
function keyOf(kind: SchemaKind, value: Record<string, unknown>): string {
  return String(kind === 'request-event' ? value['worker_id'] : value['gpu_uuid'])
}

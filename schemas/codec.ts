/**
 * The Avro codec of diffwatch: event values ⇄ framed bytes.
 *
 * - Encoders write the reader (newest) schema of a kind with single-object framing and throw
 *   SCH_INVALID_VALUE (a SchemaValueError naming the bad fields) on an invalid value.
 * - `decode` never throws. It accepts single-object framing and, when a SchemaIdResolver is given,
 *   the Confluent framing; it resolves the writer schema to the reader schema of its kind and
 *   returns plain values (`["null", X]` as X or null, enums as strings, long as JS number).
 *   Failures come back as `{ ok: false, code, reason }` for the dead-letter topic:
 *     SCH_EMPTY                zero bytes
 *     SCH_BAD_MAGIC            neither `C3 01` nor `00` at the start
 *     SCH_TRUNCATED            shorter than the framing's header (10 or 5 bytes)
 *     SCH_UNKNOWN_FINGERPRINT  fingerprint or schema id of no known writer schema
 *     SCH_UNDECODABLE          datum does not decode, is cut short, or has trailing bytes
 *     SCH_WRONG_KIND           (decodeAs only) a valid event of another kind than expected
 * - Precision: Avro `float` fields (guidance_scale, GPU utilisation, temperature, power) are
 *   float32, so a decoded value is the nearest float32 (7.3 reads back as 7.300000190734863);
 *   `long` decodes as a JS number, exact below 2^53 (epoch ms and µs are).
 *
 * Hot path: one avsc `decode` on the original buffer at the datum offset (no copy), a fingerprint
 * lookup that allocates nothing (writer-table.ts) and one result object.
 */
import type { CatalogOptions, SchemaKind } from './catalog.ts'
import { SchemaCatalog } from './catalog.ts'
import { lastGuardFailure } from './datum-guard.ts'
import { createEncoder, type Encoder } from './encoder.ts'
import { errorMessage } from './errors.ts'
import {
  CONFLUENT_HEADER_LENGTH,
  SINGLE_OBJECT_FINGERPRINT_OFFSET,
  SINGLE_OBJECT_HEADER_LENGTH,
  detectFraming,
  headerLength,
  type SchemaIdResolver,
} from './framing.ts'
import type { EventByKind, EventInputByKind, GpuSampleInput, RequestEventInput } from './generated/types.ts'
import { WriterTable, type WriterSlot } from './writer-table.ts'

export type DecodeErrorCode =
  | 'SCH_EMPTY'
  | 'SCH_BAD_MAGIC'
  | 'SCH_TRUNCATED'
  | 'SCH_UNKNOWN_FINGERPRINT'
  | 'SCH_UNDECODABLE'
  | 'SCH_WRONG_KIND'

/** A decoded event; `version` is the writer's catalog version (0: registry schema unknown locally). */
export type DecodedEvent<K extends SchemaKind = SchemaKind> = K extends SchemaKind
  ? { readonly ok: true; readonly kind: K; readonly version: number; readonly value: EventByKind[K] }
  : never

export interface DecodeFailure {
  readonly ok: false
  readonly code: DecodeErrorCode
  readonly reason: string
}

export type DecodeResult<K extends SchemaKind = SchemaKind> = DecodedEvent<K> | DecodeFailure

export interface CodecOptions extends CatalogOptions {
  /** A catalog to share between codecs; the catalog options above are ignored when given. */
  readonly catalog?: SchemaCatalog
  /** Schema ids for the Confluent framing; without it, Confluent-framed messages are unknown. */
  readonly schemaIds?: SchemaIdResolver
}

export interface Codec {
  readonly catalog: SchemaCatalog
  encodeRequestEvent(event: RequestEventInput): Buffer
  encodeGpuSample(sample: GpuSampleInput): Buffer
  encode<K extends SchemaKind>(kind: K, value: EventInputByKind[K]): Buffer
  /** Never throws. */
  decode(bytes: Buffer): DecodeResult
  /** Like decode, and fails with SCH_WRONG_KIND (before decoding the datum) for another kind. */
  decodeAs<K extends SchemaKind>(kind: K, bytes: Buffer): DecodeResult<K>
}

export function createCodec(options: CodecOptions = {}): Codec {
  const catalog = options.catalog ?? new SchemaCatalog(options)
  const writers = new WriterTable(catalog, options.schemaIds)
  const encoders = new Map<SchemaKind, Encoder>()
  const encoderFor = (kind: SchemaKind): Encoder => {
    let encoder = encoders.get(kind)
    if (encoder === undefined) {
      encoder = createEncoder(catalog.reader(kind))
      encoders.set(kind, encoder)
    }
    return encoder
  }
  const encodeRequest = encoderFor('request-event')
  const encodeSample = encoderFor('gpu-sample')

  function decodeFramed(bytes: Buffer, expected: SchemaKind | undefined): DecodeResult {
    let slot: WriterSlot | undefined
    let start: number
    try {
      const framing = detectFraming(bytes)
      if (framing === 'single-object') {
        const low = bytes.readUInt32LE(SINGLE_OBJECT_FINGERPRINT_OFFSET)
        const high = bytes.readUInt32LE(SINGLE_OBJECT_FINGERPRINT_OFFSET + 4)
        slot = writers.byFingerprint(low, high)
        if (slot === undefined) return unknownFingerprint(bytes)
        start = SINGLE_OBJECT_HEADER_LENGTH
      } else if (framing === 'confluent') {
        const found = writers.bySchemaId(bytes.readUInt32BE(1))
        if (!('kind' in found)) return failure(found.code, found.reason)
        slot = found
        start = CONFLUENT_HEADER_LENGTH
      } else {
        return framingFailure(framing, bytes)
      }
    } catch (err) {
      // Only a non-Buffer input can get here (readUInt32LE missing); keep the never-throw promise.
      return failure('SCH_UNDECODABLE', `not a byte buffer: ${errorMessage(err)}`)
    }
    if (expected !== undefined && slot.kind !== expected) {
      return failure('SCH_WRONG_KIND', `expected a ${expected} event, got ${slot.label}`)
    }
    return decodeDatum(slot, bytes, start)
  }

  return {
    catalog,
    encodeRequestEvent: (event) => encodeRequest(event),
    encodeGpuSample: (sample) => encodeSample(sample),
    encode: (kind, value) => encoderFor(kind)(value),
    decode: (bytes) => decodeFramed(bytes, undefined),
    decodeAs: <K extends SchemaKind>(kind: K, bytes: Buffer) => decodeFramed(bytes, kind) as DecodeResult<K>,
  }
}

function decodeDatum(slot: WriterSlot, bytes: Buffer, start: number): DecodeResult {
  if (slot.guard !== undefined && slot.guard(bytes, start) < 0) {
    return failure('SCH_UNDECODABLE', `${slot.label} datum rejected before decoding: ${lastGuardFailure()}`)
  }
  let decoded: { value: unknown; offset: number }
  try {
    decoded = slot.readerType.decode(bytes, start, slot.resolver)
  } catch (err) {
    return failure('SCH_UNDECODABLE', `${slot.label} datum does not decode: ${errorMessage(err)}`)
  }
  if (decoded.offset !== bytes.length) {
    return decoded.offset < 0
      ? failure('SCH_UNDECODABLE', `${slot.label} datum is truncated: its ${bytes.length - start} bytes end mid-value`)
      : failure('SCH_UNDECODABLE', `${bytes.length - decoded.offset} trailing bytes after the ${slot.label} datum`)
  }
  return { ok: true, kind: slot.kind, version: slot.version, value: decoded.value } as DecodedEvent
}

function failure(code: DecodeErrorCode, reason: string): DecodeFailure {
  return { ok: false, code, reason }
}

function unknownFingerprint(bytes: Buffer): DecodeFailure {
  const hex = bytes.toString('hex', SINGLE_OBJECT_FINGERPRINT_OFFSET, SINGLE_OBJECT_HEADER_LENGTH)
  return failure('SCH_UNKNOWN_FINGERPRINT', `unknown writer schema fingerprint ${hex} (CRC-64-AVRO, little-endian as on the wire); no schema file of this build has it`)
}

function framingFailure(framing: 'empty' | 'bad-magic' | 'truncated', bytes: Buffer): DecodeFailure {
  if (framing === 'empty') return failure('SCH_EMPTY', 'empty message (0 bytes)')
  const head = bytes.toString('hex', 0, Math.min(bytes.length, 4))
  if (framing === 'bad-magic') {
    return failure('SCH_BAD_MAGIC', `message starts with ${head}, neither Avro single-object (c301) nor Confluent (00) framing`)
  }
  const kind = bytes[0] === 0 ? 'Confluent' : 'single-object'
  return failure('SCH_TRUNCATED', `${bytes.length}-byte message is shorter than the ${headerLength(bytes)}-byte ${kind} header`)
}

/**
 * Wire framings of diffwatch events.
 *
 * - Avro single-object encoding (the default, needs no registry):
 *   `C3 01` + CRC-64-AVRO fingerprint of the writer schema (8 bytes, little-endian) + datum.
 * - Confluent wire format (accepted when a schema registry is configured):
 *   `00` + schema id (4 bytes, big-endian, unsigned) + datum.
 *
 * Guarantees: the frame helpers here allocate exactly one Buffer per call; header inspection
 * (`detectFraming`, the offset constants) allocates nothing, so the decoder can use it per message.
 */
import { fingerprintBytesLE } from './fingerprint.ts'

export const SINGLE_OBJECT_MAGIC_0 = 0xc3
export const SINGLE_OBJECT_MAGIC_1 = 0x01
/** Magic (2) + fingerprint (8); the datum starts here. */
export const SINGLE_OBJECT_HEADER_LENGTH = 10
/** Offset of the fingerprint's low 32 bits; the high 32 bits follow at +4. */
export const SINGLE_OBJECT_FINGERPRINT_OFFSET = 2

export const CONFLUENT_MAGIC = 0x00
/** Magic (1) + schema id (4); the datum starts here. */
export const CONFLUENT_HEADER_LENGTH = 5

/** What the first bytes of a message say, before any lookup. */
export type FramingCheck = 'single-object' | 'confluent' | 'empty' | 'bad-magic' | 'truncated'

export function detectFraming(bytes: Uint8Array): FramingCheck {
  const length = bytes.length
  if (length === 0) return 'empty'
  const first = bytes[0]
  if (first === SINGLE_OBJECT_MAGIC_0) {
    if (length === 1) return 'truncated'
    if (bytes[1] !== SINGLE_OBJECT_MAGIC_1) return 'bad-magic'
    return length < SINGLE_OBJECT_HEADER_LENGTH ? 'truncated' : 'single-object'
  }
  if (first === CONFLUENT_MAGIC) return length < CONFLUENT_HEADER_LENGTH ? 'truncated' : 'confluent'
  return 'bad-magic'
}

/** Header length a framing needs, for "truncated" reasons. */
export function headerLength(bytes: Uint8Array): number {
  return bytes[0] === CONFLUENT_MAGIC ? CONFLUENT_HEADER_LENGTH : SINGLE_OBJECT_HEADER_LENGTH
}

/** Frames an already encoded datum with single-object encoding. */
export function frameSingleObject(fingerprint: bigint, datum: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(SINGLE_OBJECT_HEADER_LENGTH + datum.length)
  out[0] = SINGLE_OBJECT_MAGIC_0
  out[1] = SINGLE_OBJECT_MAGIC_1
  fingerprintBytesLE(fingerprint).copy(out, SINGLE_OBJECT_FINGERPRINT_OFFSET)
  out.set(datum, SINGLE_OBJECT_HEADER_LENGTH)
  return out
}

/** Writes the 10-byte single-object header into `target` at offset 0. */
export function writeSingleObjectHeader(target: Buffer, fingerprint: bigint): void {
  target[0] = SINGLE_OBJECT_MAGIC_0
  target[1] = SINGLE_OBJECT_MAGIC_1
  target.writeBigUInt64LE(fingerprint, SINGLE_OBJECT_FINGERPRINT_OFFSET)
}

/** Frames an already encoded datum with the Confluent wire format. */
export function frameConfluent(schemaId: number, datum: Uint8Array): Buffer {
  if (!Number.isInteger(schemaId) || schemaId < 0 || schemaId > 0xffffffff) {
    throw new RangeError(`schema id must be an unsigned 32-bit integer, got ${schemaId}`)
  }
  const out = Buffer.allocUnsafe(CONFLUENT_HEADER_LENGTH + datum.length)
  out[0] = CONFLUENT_MAGIC
  out.writeUInt32BE(schemaId, 1)
  out.set(datum, CONFLUENT_HEADER_LENGTH)
  return out
}

/**
 * Schema-id → writer schema, for the Confluent framing. `lookup` is synchronous and reads a cache:
 * a registry client fills that cache asynchronously (on start-up, or when `lookup` reported a miss
 * via `onMiss`) and the decoder never waits on the network. Ids are immutable in a registry, so
 * the codec caches what `lookup` returns for an id; a miss (`undefined`) is not cached, so the id
 * decodes once the registry has filled it.
 */
export interface SchemaIdResolver {
  /** The writer schema registered under `id` (JSON text or parsed), or undefined when not cached. */
  lookup(id: number): string | object | undefined
  /** Called on a miss; a registry client may start fetching the id here. Must not throw. */
  onMiss?(id: number): void
}

/** A fixed id → schema map, for tests and for deployments that pin their registry ids. */
export function staticSchemaIds(
  schemas: ReadonlyMap<number, string | object> | Readonly<Record<number, string | object>>,
): SchemaIdResolver {
  const map = schemas instanceof Map ? new Map(schemas) : new Map(Object.entries(schemas).map(([id, s]) => [Number(id), s] as const))
  return { lookup: (id) => map.get(id) }
}

/**
 * CRC-64-AVRO, the Rabin fingerprint the Avro specification defines for schemas
 * ("Schema Fingerprints"), computed over a schema's Parsing Canonical Form (UTF-8).
 *
 * Guarantees: `fingerprint64` returns the unsigned 64-bit value; `fingerprintBytesLE` the
 * 8 bytes that Avro single-object encoding puts after `C3 01` (little-endian). The table is
 * built once per process. Speed does not matter here (a few schemas at start-up), so the
 * arithmetic is plain BigInt; the decode hot path never calls this module.
 */

/** The fingerprint of the empty byte string; the polynomial seed of the Avro spec. */
export const CRC64_AVRO_EMPTY = 0xc15d213aa4d7a795n

const MASK64 = 0xffffffffffffffffn

const TABLE: readonly bigint[] = (() => {
  const table: bigint[] = []
  for (let i = 0; i < 256; i++) {
    let fp = BigInt(i)
    for (let j = 0; j < 8; j++) {
      // fp >>> 1, xor the polynomial when the bit shifted out was 1.
      fp = (fp >> 1n) ^ ((fp & 1n) === 1n ? CRC64_AVRO_EMPTY : 0n)
    }
    table.push(fp)
  }
  return table
})()

/** CRC-64-AVRO of raw bytes, as an unsigned 64-bit bigint. */
export function fingerprint64(bytes: Uint8Array): bigint {
  let fp = CRC64_AVRO_EMPTY
  for (const byte of bytes) {
    // Index is always 0..255, so the table lookup cannot miss.
    fp = (fp >> 8n) ^ (TABLE[Number((fp ^ BigInt(byte)) & 0xffn)] as bigint)
  }
  return fp & MASK64
}

/** CRC-64-AVRO of a schema's canonical form string (hashed as UTF-8). */
export function schemaFingerprint(canonicalForm: string): bigint {
  return fingerprint64(Buffer.from(canonicalForm, 'utf8'))
}

/** The 8 bytes of a fingerprint in little-endian order, as single-object encoding writes them. */
export function fingerprintBytesLE(fingerprint: bigint): Buffer {
  const out = Buffer.allocUnsafe(8)
  out.writeBigUInt64LE(fingerprint & MASK64, 0)
  return out
}

/** Fingerprint as 16 lowercase hex digits of its little-endian bytes, the order seen on the wire. */
export function fingerprintHex(fingerprint: bigint): string {
  return fingerprintBytesLE(fingerprint).toString('hex')
}

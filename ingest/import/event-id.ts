/**
 * Stable event ids for imported records: a name-based UUID (RFC 9562 version 5: SHA-1 of a fixed
 * namespace and the name) whose name is the record's JSON text as parsed. The same record gives
 * the same id on every run, on every machine, whatever the file is called or where it sits, so
 * a re-import can be recognised downstream by `event_id`. Two byte-identical records in one log
 * get one id: they are one event logged twice.
 */
import { createHash } from 'node:crypto'

/** Namespace of diffwatch import ids (a random UUID fixed forever: changing it changes every id). */
export const IMPORT_NAMESPACE = '6f1c2f7e-7a0b-4d39-9f5e-3c1d8a2b4e61'

const NAMESPACE_BYTES = Buffer.from(IMPORT_NAMESPACE.replace(/-/g, ''), 'hex')
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export function isUuid(s: string): boolean {
  return UUID_RE.test(s)
}

/** UUIDv5(namespace, name). */
export function uuidV5(name: string, namespace: Buffer = NAMESPACE_BYTES): string {
  const h = createHash('sha1').update(namespace).update(name, 'utf8').digest()
  h[6] = ((h[6] as number) & 0x0f) | 0x50
  h[8] = ((h[8] as number) & 0x3f) | 0x80
  const hex = h.subarray(0, 16).toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

export function eventIdFor(record: Record<string, unknown>): string {
  return uuidV5(JSON.stringify(record))
}

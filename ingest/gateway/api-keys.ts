/**
 * API-key check of the gateway. Keys are configured as SHA-256 hashes (hex), never in clear; a
 * presented key is hashed and compared with every configured hash in constant time (no early
 * exit), so neither the comparison nor the position of a match leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { DiffwatchError } from '../../schemas/errors.ts'

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex')
}

export function parseKeyHashes(list: string): Buffer[] {
  const hashes = list.split(',').map((h) => h.trim().toLowerCase()).filter(Boolean)
  const bad = hashes.filter((h) => !/^[0-9a-f]{64}$/.test(h))
  if (bad.length > 0) throw new DiffwatchError('CFG_INVALID', `GATEWAY_API_KEY_SHA256 must list 64-hex-digit SHA-256 hashes; ${bad.length} entries are not`)
  return hashes.map((h) => Buffer.from(h, 'hex'))
}

/** The key from `Authorization: Bearer <key>` or `X-API-Key: <key>`; undefined when neither. */
export function presentedKey(headers: Record<string, string | string[] | undefined>): string | undefined {
  const auth = headers['authorization']
  if (typeof auth === 'string' && /^bearer\s+/i.test(auth)) return auth.replace(/^bearer\s+/i, '').trim()
  const key = headers['x-api-key']
  return typeof key === 'string' ? key.trim() : undefined
}

export function keyMatches(presented: string, hashes: readonly Buffer[]): boolean {
  const digest = createHash('sha256').update(presented, 'utf8').digest()
  let match = false
  for (const h of hashes) match = timingSafeEqual(digest, h) || match
  return match
}

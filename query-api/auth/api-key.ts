/**
 * The API key format and its hash. A key reads `dwk_<key_id>_<secret>`: `key_id` is 16 lowercase
 * hex characters (public: it names the key in logs and in `diffwatch keys list`), `secret` is 32
 * random bytes in base64url (43 characters). Only `hashSecret(id, secret)` is stored.
 *
 * Why sha256 and not scrypt: the secret has 256 bits of entropy, so there is nothing to guess
 * and a slow hash would only slow every cache miss down; the id is hashed with the secret so a
 * hash is bound to its own row. Comparisons are constant-time over the digests.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

export const SCOPES = ['read', 'sql', 'admin'] as const
export type Scope = (typeof SCOPES)[number]

const KEY_FORMAT = /^dwk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/

export type ParsedKey = { keyId: string; secret: string }

export function parseKey(presented: string): ParsedKey | undefined {
  const match = KEY_FORMAT.exec(presented.trim())
  return match?.[1] === undefined || match[2] === undefined ? undefined : { keyId: match[1], secret: match[2] }
}

export function hashSecret(keyId: string, secret: string): string {
  return createHash('sha256').update(`${keyId}.${secret}`).digest('hex')
}

/** Constant-time comparison of the presented secret's hash with the stored hash. */
export function secretMatches(keyId: string, secret: string, storedHash: string): boolean {
  const presented = Buffer.from(hashSecret(keyId, secret), 'hex')
  const stored = Buffer.from(storedHash, 'hex')
  // Both are sha256 digests (32 bytes); a malformed stored hash must not throw, only fail.
  return stored.length === presented.length && timingSafeEqual(presented, stored)
}

export function generateKey(): { keyId: string; secret: string; key: string; hash: string } {
  const keyId = randomBytes(8).toString('hex')
  const secret = randomBytes(32).toString('base64url')
  return { keyId, secret, key: `dwk_${keyId}_${secret}`, hash: hashSecret(keyId, secret) }
}

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value)
}

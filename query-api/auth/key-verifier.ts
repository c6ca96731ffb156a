/**
 * Checks presented API keys against the key store, with a short cache.
 *
 * Guarantees: a key is accepted only when its format parses, its id exists, the sha256 of id and
 * secret equals the stored hash (constant-time), and it is not revoked. Lookups, found or not,
 * are cached for `cacheSeconds`, so a revocation takes effect within that time in every API
 * process; the cache is bounded (oldest entries dropped first). Last use is written at most once
 * per key per `usageIntervalMs` per process, never on every request, and its failure never fails
 * a request.
 */
import { parseKey, secretMatches, type Scope } from './api-key.ts'
import type { KeyRecord, KeyStore } from './key-store.ts'

export type Principal = { keyId: string; name: string; scopes: readonly Scope[] }
export type Verdict = { ok: true; principal: Principal } | { ok: false; reason: 'malformed' | 'unknown' | 'mismatch' | 'revoked'; keyId?: string }

export type KeyVerifier = { verify(presented: string): Promise<Verdict>; forget(keyId: string): void }

export type VerifierOptions = {
  cacheSeconds: number
  maxEntries?: number
  usageIntervalMs?: number
  now?: () => number
  onUsageError?: (err: unknown) => void
}

export function createKeyVerifier(store: KeyStore, options: VerifierOptions): KeyVerifier {
  const now = options.now ?? Date.now
  const maxEntries = options.maxEntries ?? 10_000
  const usageIntervalMs = options.usageIntervalMs ?? 600_000
  const cache = new Map<string, { record: KeyRecord | undefined; expires: number }>()
  const lastMarked = new Map<string, number>()

  async function lookup(keyId: string): Promise<KeyRecord | undefined> {
    const hit = cache.get(keyId)
    if (hit && hit.expires > now()) return hit.record
    // Concurrent misses may each ask ClickHouse once; the answers are identical, so no lock.
    const record = await store.find(keyId)
    cache.delete(keyId)
    cache.set(keyId, { record, expires: now() + options.cacheSeconds * 1000 })
    while (cache.size > maxEntries) {
      const oldest = cache.keys().next().value
      if (oldest === undefined) break
      cache.delete(oldest)
    }
    return record
  }

  function markUsed(keyId: string): void {
    const at = now()
    if ((lastMarked.get(keyId) ?? -Infinity) + usageIntervalMs > at) return
    lastMarked.set(keyId, at)
    if (lastMarked.size > maxEntries) lastMarked.delete(lastMarked.keys().next().value ?? keyId)
    store.markUsed(keyId).catch((err: unknown) => options.onUsageError?.(err))
  }

  return {
    async verify(presented) {
      const parsed = parseKey(presented)
      if (!parsed) return { ok: false, reason: 'malformed' }
      const record = await lookup(parsed.keyId)
      if (!record) return { ok: false, reason: 'unknown', keyId: parsed.keyId }
      if (!secretMatches(parsed.keyId, parsed.secret, record.secretHash)) return { ok: false, reason: 'mismatch', keyId: parsed.keyId }
      if (record.revokedAt !== null) return { ok: false, reason: 'revoked', keyId: parsed.keyId }
      markUsed(parsed.keyId)
      return { ok: true, principal: { keyId: record.keyId, name: record.name, scopes: record.scopes } }
    },
    forget(keyId) {
      cache.delete(keyId)
    },
  }
}

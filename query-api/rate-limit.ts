/**
 * Token buckets per client (API key id, or IP address without a key), written here rather than
 * taken from a package so the policy is exactly what docs/api.md says.
 *
 * Guarantees: a client may make `burst` requests at once, then `perMinute` per minute; a refused
 * take says when the next token comes (Retry-After) and when the bucket is full again
 * (RateLimit-Reset). Memory is bounded by `maxClients`: buckets that have refilled completely
 * are indistinguishable from new ones and are dropped first; only when every bucket is still
 * refilling is the least recently used one dropped (that client gets a full bucket back: the
 * price of a bound).
 */
import type { RatePolicy } from './config.ts'

export type Take = {
  allowed: boolean
  limit: number
  /** Whole tokens left after this take. */
  remaining: number
  /** Seconds until the bucket is full again. */
  resetSeconds: number
  /** Seconds until one token is available (0 when allowed). */
  retryAfterSeconds: number
}

export type RateLimiter = { take(client: string): Take; size(): number }

export function createRateLimiter(policy: RatePolicy, maxClients: number, now: () => number = Date.now): RateLimiter {
  const perMs = policy.perMinute / 60_000
  const buckets = new Map<string, { tokens: number; at: number }>()
  let takesSinceSweep = 0

  const level = (b: { tokens: number; at: number }, t: number) => Math.min(policy.burst, b.tokens + (t - b.at) * perMs)

  /** Drops every bucket that has refilled (idle), then least recently used ones down to the bound. */
  function evict(t: number): void {
    for (const [client, b] of buckets) {
      if (level(b, t) >= policy.burst) buckets.delete(client)
    }
    // Map order is least recently used first (take re-inserts).
    while (buckets.size > maxClients) {
      const oldest = buckets.keys().next().value
      if (oldest === undefined) return
      buckets.delete(oldest)
    }
  }

  return {
    take(client) {
      const t = now()
      const existing = buckets.get(client)
      const tokens = existing ? level(existing, t) : policy.burst
      const allowed = tokens >= 1
      const left = allowed ? tokens - 1 : tokens
      buckets.delete(client)
      buckets.set(client, { tokens: left, at: t })
      if (buckets.size > maxClients || ++takesSinceSweep >= 1000) {
        takesSinceSweep = 0
        evict(t)
      }
      return {
        allowed,
        limit: policy.burst,
        remaining: Math.floor(left),
        resetSeconds: Math.ceil((policy.burst - left) / perMs / 1000),
        retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil((1 - left) / perMs / 1000)),
      }
    },
    size: () => buckets.size,
  }
}

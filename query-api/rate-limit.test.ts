import { describe, expect, it } from 'vitest'
import { createRateLimiter } from './rate-limit.ts'

describe('createRateLimiter', () => {
  it('allows the burst, then one request per refill interval, with exact headers', () => {
    let t = 0
    const limiter = createRateLimiter({ perMinute: 120, burst: 4 }, 100, () => t)
    const takes = Array.from({ length: 5 }, () => limiter.take('k'))
    expect(takes.map((x) => x.allowed)).toEqual([true, true, true, true, false])
    expect(takes.map((x) => x.remaining)).toEqual([3, 2, 1, 0, 0])
    // 120/min = one token per 500 ms: Retry-After rounds up to whole seconds; full again after 4 tokens = 2 s.
    expect(takes[4]).toMatchObject({ retryAfterSeconds: 1, resetSeconds: 2, limit: 4 })
    t += 499
    expect(limiter.take('k').allowed).toBe(false)
    t += 1
    // The refused take at 499 ms consumed nothing: 500 ms after the last grant there is exactly one token.
    expect(limiter.take('k').allowed).toBe(true)
    expect(limiter.take('k').allowed).toBe(false)
    t += 60_000
    expect(limiter.take('k').remaining).toBe(3) // refilled to the burst, never beyond
  })

  it('keeps clients apart', () => {
    const limiter = createRateLimiter({ perMinute: 1, burst: 1 }, 100, () => 0)
    expect([limiter.take('a').allowed, limiter.take('a').allowed, limiter.take('b').allowed]).toEqual([true, false, true])
  })

  it('bounds memory: idle (refilled) buckets go first, then the least recently used', () => {
    let t = 0
    const limiter = createRateLimiter({ perMinute: 60, burst: 2 }, 3, () => t)
    limiter.take('busy')
    limiter.take('busy')
    limiter.take('idle')
    t += 500
    limiter.take('c')
    limiter.take('c')
    t += 1_000 // at 1.5 s 'idle' is full again; 'busy' (1.5 tokens) and 'c' (1) are still refilling
    limiter.take('d') // 4 buckets > 3: the full one ('idle') is dropped, nothing else
    expect(limiter.size()).toBe(3)
    // 'busy' kept its state: one token refilled in 1.5 s, then empty.
    expect(limiter.take('busy').allowed).toBe(true)
    expect(limiter.take('busy').allowed).toBe(false)
    for (let i = 0; i < 50; i++) limiter.take(`flood-${i}`)
    expect(limiter.size()).toBeLessThanOrEqual(3)
  })
})

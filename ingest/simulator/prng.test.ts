import { describe, expect, it } from 'vitest'
import { Rng, weightedTable } from './prng.ts'

describe('Rng', () => {
  it('repeats its sequence for a seed and differs across seeds', () => {
    const a = new Rng(123)
    const b = new Rng(123)
    const c = new Rng(124)
    const seqA = Array.from({ length: 1000 }, () => a.u32())
    expect(Array.from({ length: 1000 }, () => b.u32())).toEqual(seqA)
    expect(Array.from({ length: 1000 }, () => c.u32())).not.toEqual(seqA)
  })

  it('is pinned: the first outputs of seed 1 never change (events of a seed stay the same across versions)', () => {
    const r = new Rng(1)
    expect(Array.from({ length: 4 }, () => r.u32())).toEqual([2442144158, 3238099751, 3819917871, 2104621829])
  })

  it('draws uniform numbers in [0, 1) with the right mean, and normals with mean 0 and sd 1', () => {
    const r = new Rng(5)
    const n = 200_000
    let sum = 0
    let min = 1
    let max = 0
    let nSum = 0
    let nSq = 0
    for (let i = 0; i < n; i++) {
      const u = r.next()
      sum += u
      min = Math.min(min, u)
      max = Math.max(max, u)
      const z = r.normal()
      nSum += z
      nSq += z * z
    }
    expect(min).toBeGreaterThanOrEqual(0)
    expect(max).toBeLessThan(1)
    expect(sum / n).toBeCloseTo(0.5, 2)
    expect(nSum / n).toBeCloseTo(0, 1)
    expect(Math.sqrt(nSq / n)).toBeCloseTo(1, 1)
  })

  it('gives log-normal factors with mean 1 and exponentials with the asked mean', () => {
    const r = new Rng(6)
    const n = 200_000
    let ln = 0
    let ex = 0
    for (let i = 0; i < n; i++) {
      ln += r.lognormal(0.3)
      ex += r.exponential(250)
    }
    expect(ln / n).toBeCloseTo(1, 1)
    expect(Math.abs(ex / n - 250)).toBeLessThan(5)
  })

  it('picks weighted items at their weights', () => {
    const r = new Rng(7)
    const table = weightedTable([['a', 1], ['b', 3], ['c', 6]] as const)
    const counts: Record<string, number> = { a: 0, b: 0, c: 0 }
    for (let i = 0; i < 100_000; i++) counts[r.weighted(table)]!++
    expect(counts.a! / 1e5).toBeCloseTo(0.1, 1)
    expect(counts.b! / 1e5).toBeCloseTo(0.3, 1)
    expect(counts.c! / 1e5).toBeCloseTo(0.6, 1)
  })

  it('formats version-4 UUIDs and hex strings', () => {
    const r = new Rng(8)
    for (let i = 0; i < 1000; i++) {
      expect(r.uuid()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      expect(r.hex(8)).toMatch(/^[0-9a-f]{16}$/)
    }
  })
})

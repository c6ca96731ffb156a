/**
 * Seeded pseudo-random numbers for the simulator: xoshiro128** (period 2^128 - 1) seeded through
 * splitmix32. The same seed gives the same sequence on every platform, because every step is
 * 32-bit integer arithmetic (Math.imul, >>>); nothing here reads Math.random or the clock.
 */

const TWO_POW_32 = 4294967296

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k))
}

const HEX_BYTE: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

/** A weighted choice prepared once: cumulative weights normalised to 1. */
export interface WeightedTable<T> {
  readonly items: readonly T[]
  readonly cumulative: Float64Array
}

export function weightedTable<T>(entries: readonly (readonly [T, number])[]): WeightedTable<T> {
  if (entries.length === 0) throw new Error('weightedTable needs at least one entry')
  const total = entries.reduce((sum, [, w]) => sum + w, 0)
  const cumulative = new Float64Array(entries.length)
  let acc = 0
  entries.forEach(([, w], i) => {
    acc += w / total
    cumulative[i] = acc
  })
  cumulative[entries.length - 1] = 1
  return { items: entries.map(([item]) => item), cumulative }
}

export class Rng {
  private a = 0
  private b = 0
  private c = 0
  private d = 0
  private spareNormal = Number.NaN

  constructor(seed: number) {
    let s = seed >>> 0
    const next = (): number => {
      s = (s + 0x9e3779b9) | 0
      let z = s
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
      return (z ^ (z >>> 16)) >>> 0
    }
    this.a = next()
    this.b = next()
    this.c = next()
    this.d = next()
    if ((this.a | this.b | this.c | this.d) === 0) this.d = 1
  }

  /** Uniform 32-bit unsigned integer. */
  u32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0
    const t = this.b << 9
    this.c ^= this.a
    this.d ^= this.b
    this.b ^= this.c
    this.a ^= this.d
    this.c ^= t
    this.d = rotl(this.d, 11)
    return result
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.u32() / TWO_POW_32
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next()
  }

  /** Integer uniform in [lo, hi] (both ends included). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1))
  }

  chance(p: number): boolean {
    return this.next() < p
  }

  /** Standard normal (Box-Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (!Number.isNaN(this.spareNormal)) {
      const v = this.spareNormal
      this.spareNormal = Number.NaN
      return v
    }
    const u = 1 - this.next() // (0, 1]: log stays finite
    const v = this.next()
    const r = Math.sqrt(-2 * Math.log(u))
    this.spareNormal = r * Math.sin(2 * Math.PI * v)
    return r * Math.cos(2 * Math.PI * v)
  }

  /** Log-normal multiplier with mean 1 and shape sigma. */
  lognormal(sigma: number): number {
    return Math.exp(sigma * this.normal() - (sigma * sigma) / 2)
  }

  /** Exponential with the given mean. */
  exponential(mean: number): number {
    return -mean * Math.log(1 - this.next())
  }

  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)]
    if (item === undefined) throw new Error('pick from an empty list')
    return item
  }

  weighted<T>(table: WeightedTable<T>): T {
    const u = this.next()
    const cum = table.cumulative
    let i = 0
    while (i < cum.length - 1 && (cum[i] as number) <= u) i++
    return table.items[i] as T
  }

  /** `bytes` random bytes as lowercase hex (2 characters per byte). */
  hex(bytes: number): string {
    let out = ''
    let word = 0
    for (let i = 0; i < bytes; i++) {
      if ((i & 3) === 0) word = this.u32()
      out += HEX_BYTE[word & 0xff] as string
      word >>>= 8
    }
    return out
  }

  /** Random (version 4) UUID. */
  uuid(): string {
    const w0 = this.u32()
    const w1 = this.u32()
    const w2 = this.u32()
    const w3 = this.u32()
    const h = HEX_BYTE
    return (
      (h[w0 >>> 24] as string) + (h[(w0 >>> 16) & 0xff] as string) + (h[(w0 >>> 8) & 0xff] as string) + (h[w0 & 0xff] as string) + '-' +
      (h[w1 >>> 24] as string) + (h[(w1 >>> 16) & 0xff] as string) + '-' +
      (h[0x40 | ((w1 >>> 8) & 0x0f)] as string) + (h[w1 & 0xff] as string) + '-' +
      (h[0x80 | ((w2 >>> 24) & 0x3f)] as string) + (h[(w2 >>> 16) & 0xff] as string) + '-' +
      (h[(w2 >>> 8) & 0xff] as string) + (h[w2 & 0xff] as string) +
      (h[w3 >>> 24] as string) + (h[(w3 >>> 16) & 0xff] as string) + (h[(w3 >>> 8) & 0xff] as string) + (h[w3 & 0xff] as string)
    )
  }
}

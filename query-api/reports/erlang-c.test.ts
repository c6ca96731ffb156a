import { describe, expect, it } from 'vitest'
import { erlangB, erlangC, maxLoadForWaitQuantile, meanWaitSeconds, serversForWaitQuantile, waitExceedsProbability } from './erlang-c.ts'

/** Erlang C from its textbook closed form, summed in log space so it holds for large c too. */
function erlangCClosedForm(c: number, a: number): number {
  const logTerms: number[] = []
  let logTerm = 0 // log(a^0 / 0!)
  for (let k = 0; k < c; k++) {
    logTerms.push(logTerm)
    logTerm += Math.log(a) - Math.log(k + 1)
  }
  const logLast = logTerm + Math.log(c / (c - a)) // log(a^c / c! · c / (c − a))
  const max = Math.max(logLast, ...logTerms)
  const sum = logTerms.reduce((s, t) => s + Math.exp(t - max), 0)
  const last = Math.exp(logLast - max)
  return last / (sum + last)
}

describe('Erlang B and C', () => {
  it('matches textbook values', () => {
    expect(erlangB(1, 1)).toBeCloseTo(0.5, 12)
    expect(erlangB(2, 1)).toBeCloseTo(0.2, 12)
    // Classic example: 2 Erlangs on 3 servers wait with probability 4/9.
    expect(erlangC(3, 2)).toBeCloseTo(4 / 9, 12)
    // M/M/1: the probability of waiting is the utilization.
    expect(erlangC(1, 0.7)).toBeCloseTo(0.7, 12)
    // Erlang B tables: 10 Erlangs on 10 lines block 21.46 %; 5 on 10 block 1.84 %.
    expect(erlangB(10, 10)).toBeCloseTo(0.21458, 5)
    expect(erlangB(10, 5)).toBeCloseTo(0.018385, 5)
  })

  it('agrees with the closed form from small to very large c without overflow', () => {
    for (const [c, a] of [[2, 1.5], [12, 10], [50, 45], [300, 290], [900, 880]] as const) {
      expect(erlangC(c, a)).toBeCloseTo(erlangCClosedForm(c, a), 10)
    }
    expect(Number.isFinite(erlangC(5000, 4900))).toBe(true)
  })

  it('answers 1 when the queue is unstable and 0 without load', () => {
    expect(erlangC(4, 4)).toBe(1)
    expect(erlangC(4, 0)).toBe(0)
    expect(meanWaitSeconds(2, { lambda: 3, serviceSeconds: 1 })).toBe(Infinity)
    // M/M/1 mean wait = ρ / (μ − λ).
    expect(meanWaitSeconds(1, { lambda: 0.5, serviceSeconds: 1 })).toBeCloseTo(0.5 / 0.5, 12)
  })
})

describe('sizing for a p95 queue wait', () => {
  it('finds the smallest c whose P(wait > t) is at most 5 %', () => {
    const q = { lambda: 40, serviceSeconds: 2 } // a = 80 Erlangs
    const c = serversForWaitQuantile(q, 0.5)
    expect(waitExceedsProbability(c, q, 0.5)).toBeLessThanOrEqual(0.05)
    expect(waitExceedsProbability(c - 1, q, 0.5)).toBeGreaterThan(0.05)
    expect(c).toBeGreaterThan(80)
    // Hundreds of servers: still finite and minimal.
    const big = { lambda: 300, serviceSeconds: 2 }
    const cb = serversForWaitQuantile(big, 0.2)
    expect(waitExceedsProbability(cb, big, 0.2)).toBeLessThanOrEqual(0.05)
    expect(waitExceedsProbability(cb - 1, big, 0.2)).toBeGreaterThan(0.05)
    expect(serversForWaitQuantile({ lambda: 0, serviceSeconds: 1 }, 1)).toBe(0)
  })

  it('inverts: the largest load c servers carry within the target needs exactly c servers', () => {
    const max = maxLoadForWaitQuantile(20, 1.5, 1)
    expect(serversForWaitQuantile({ lambda: max, serviceSeconds: 1.5 }, 1)).toBe(20)
    expect(serversForWaitQuantile({ lambda: max * 1.001, serviceSeconds: 1.5 }, 1)).toBe(21)
  })
})

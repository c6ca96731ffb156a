import { describe, expect, it } from 'vitest'
import { ewmaRegressions, forecastAt, leastSquares, tQuantile975, weeklyGrowthPct } from './trend-stats.ts'

describe('trend statistics', () => {
  it('t quantiles match the tables', () => {
    expect(tQuantile975(3)).toBeCloseTo(3.182, 3)
    expect(tQuantile975(12)).toBeCloseTo(2.179, 3)
    expect(tQuantile975(20)).toBeCloseTo(2.086, 3)
    expect(tQuantile975(30)).toBeCloseTo(2.042, 3)
    expect(tQuantile975(120)).toBeCloseTo(1.980, 3)
  })

  it('recovers a known exponential growth rate exactly when there is no noise', () => {
    const r = Math.log(1.2) / 7 // +20 % per week
    const xs = Array.from({ length: 28 }, (_, i) => i)
    const fit = leastSquares(xs, xs.map((x) => Math.log(100) + r * x))!
    expect(fit.slope).toBeCloseTo(r, 12)
    expect(weeklyGrowthPct(fit).pct).toBeCloseTo(20, 9)
    expect(weeklyGrowthPct(fit).se).toBeCloseTo(0, 9)
    expect(forecastAt(fit, 35).median).toBeCloseTo(100 * 1.2 ** 5, 6)
  })

  it('gives a standard error and a prediction interval that widens with the horizon', () => {
    // Alternating ±5 % noise around +10 %/week.
    const r = Math.log(1.1) / 7
    const xs = Array.from({ length: 21 }, (_, i) => i)
    const ys = xs.map((x) => Math.log(500) + r * x + (x % 2 === 0 ? 0.05 : -0.05))
    const fit = leastSquares(xs, ys)!
    // Independent check of se(b) = s / √Sxx.
    const rss = ys.reduce((s, y, i) => s + (y - fit.intercept - fit.slope * i) ** 2, 0)
    expect(fit.slopeSe).toBeCloseTo(Math.sqrt(rss / 19) / Math.sqrt(xs.reduce((s, x) => s + (x - 10) ** 2, 0)), 12)
    const g = weeklyGrowthPct(fit)
    expect(Math.abs(g.pct - 10)).toBeLessThan(3 * g.se)
    const near = forecastAt(fit, 21)
    const far = forecastAt(fit, 34)
    expect(near.low).toBeLessThan(near.median)
    expect(near.high).toBeGreaterThan(near.median)
    expect(far.high / far.low).toBeGreaterThan(near.high / near.low)
  })

  it('dates a step regression to the day it started and finds none in a steady series', () => {
    const steady = Array.from({ length: 40 }, (_, i) => 1000 + (i % 3) * 10)
    expect(ewmaRegressions(steady, 7, 10)).toEqual([])
    const stepped = steady.map((v, i) => (i >= 18 ? v * 1.3 : v))
    const found = ewmaRegressions(stepped, 7, 10)
    expect(found).toHaveLength(1)
    expect(found[0]).toMatchObject({ startIndex: 18, endIndex: null })
    expect(found[0]!.detectedIndex).toBeGreaterThanOrEqual(18)
    // A regression that ends: back to baseline after day 22.
    const bump = steady.map((v, i) => (i >= 18 && i < 22 ? v * 1.5 : v))
    const one = ewmaRegressions(bump, 7, 10)
    expect(one).toHaveLength(1)
    expect(one[0]!.startIndex).toBe(18)
    expect(one[0]!.endIndex).not.toBeNull()
  })
})

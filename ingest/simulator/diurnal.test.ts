import { describe, expect, it } from 'vitest'
import { cosineCurve, multiplierAt, normalizeCurve, parseDiurnal } from './diurnal.ts'
import { createFleetSimulator } from './event-generator.ts'

const HOUR = 3_600_000
const DAY0 = Date.UTC(2026, 10, 1)

describe('diurnal curves', () => {
  it('keep the daily mean rate: the integral of the multiplier over a day is 24 h', () => {
    for (const curve of [cosineCurve(0.7, 15), normalizeCurve([1, 1, 1, 1, 1, 1, 2, 4, 6, 8, 8, 8, 8, 8, 8, 8, 6, 4, 3, 2, 2, 1, 1, 1])]) {
      let integral = 0
      const step = 60_000
      for (let t = DAY0; t < DAY0 + 24 * HOUR; t += step) integral += ((multiplierAt(curve, t) + multiplierAt(curve, t + step)) / 2) * step
      expect(integral / HOUR).toBeCloseTo(24, 9)
    }
  })

  it('peak at the peak hour, trough twelve hours later, straight lines between hours', () => {
    const c = cosineCurve(0.5, 15)
    expect(multiplierAt(c, DAY0 + 15 * HOUR)).toBeCloseTo(1.5, 12)
    expect(multiplierAt(c, DAY0 + 3 * HOUR)).toBeCloseTo(0.5, 12)
    const mid = multiplierAt(c, DAY0 + 15.5 * HOUR)
    expect(mid).toBeCloseTo((1.5 + 1 + 0.5 * Math.cos((2 * Math.PI) / 24)) / 2, 12)
    expect(multiplierAt(c, DAY0 + 23.5 * HOUR)).toBeCloseTo((c[23]! + c[0]!) / 2, 12)
  })

  it('parses off, cosine and 24 weights, and refuses anything else', () => {
    expect(parseDiurnal('off')).toBeNull()
    expect(parseDiurnal('')).toBeNull()
    expect(parseDiurnal('cosine:0.4')).toEqual(cosineCurve(0.4, 15))
    expect(parseDiurnal('cosine:0.4:9')).toEqual(cosineCurve(0.4, 9))
    expect(parseDiurnal(Array(24).fill('3').join(','))).toEqual(Array(24).fill(1))
    expect(() => parseDiurnal('1,2,3')).toThrow('24 hourly values')
    expect(() => parseDiurnal('cosine:1.5')).toThrow('[0, 1)')
    expect(() => parseDiurnal('busy')).toThrow('SIM_DIURNAL')
  })
})

describe('simulator with a diurnal curve', () => {
  it('produces requests per hour as the curve says (within 5 standard deviations of Poisson counts)', () => {
    const rate = 0.4
    const curve = cosineCurve(0.8, 14)
    // samples once an hour only, so the day stays cheap to simulate
    const sim = createFleetSimulator({ seed: 7, hosts: 4, requestRate: rate, sampleIntervalMs: HOUR, diurnal: curve })
    expect(sim.offeredLoad).toBeLessThan(0.3) // no queueing: completion hour ≈ arrival hour
    const perHour = new Array<number>(24).fill(0)
    for (const ev of sim.generate({ startMs: DAY0, durationMs: 24 * HOUR })) {
      if (ev.kind === 'request-event') perHour[Math.floor((ev.value.completed_at - DAY0) / HOUR)]! += 1
    }
    for (let h = 0; h < 24; h++) {
      // expected arrivals in hour h: rate × ∫ multiplier (trapezoid of the straight line)
      const expected = rate * 3600 * ((curve[h]! + curve[(h + 1) % 24]!) / 2)
      expect(Math.abs(perHour[h]! - expected)).toBeLessThan(5 * Math.sqrt(expected) + 3)
    }
    const total = perHour.reduce((s, n) => s + n, 0)
    expect(Math.abs(total - rate * 86_400)).toBeLessThan(5 * Math.sqrt(rate * 86_400))
    // the shape is really there: the peak hour sees several times the trough hour
    expect(perHour[14]! / perHour[2]!).toBeGreaterThan(5)
  })

  it('changes nothing when off', () => {
    const window = { startMs: DAY0, durationMs: 120_000 }
    const flat = [...createFleetSimulator({ seed: 3 }).generate(window)]
    const off = [...createFleetSimulator({ seed: 3, diurnal: null }).generate(window)]
    expect(off).toEqual(flat)
    expect(flat.length).toBeGreaterThan(100)
  })
})

import { describe, expect, it } from 'vitest'
import { createFleetSimulator, type SimEvent } from './event-generator.ts'
import { eventTime, paceRealtime } from './realtime.ts'
import { T0 } from './test-helpers.ts'

/** A fake clock: sleeping moves it forward. */
function fakeClock(start: number) {
  let now = start
  return { now: () => now, sleep: async (ms: number) => void (now += ms) }
}

describe('paceRealtime', () => {
  const sim = createFleetSimulator({ seed: 3, requestRate: 2 })
  const events = [...sim.generate({ startMs: T0, durationMs: 60_000 })]

  it('hands out every event, in order, once the clock has reached its event time', async () => {
    const clock = fakeClock(T0)
    const released: { at: number; batch: SimEvent[] }[] = []
    for await (const batch of paceRealtime(events, { ...clock, tickMs: 20 })) released.push({ at: clock.now(), batch })
    expect(released.flatMap((r) => r.batch)).toEqual(events)
    for (const r of released) {
      for (const e of r.batch) {
        expect(eventTime(e)).toBeLessThanOrEqual(r.at)
        // Nothing is held back longer than one tick.
        expect(r.at - eventTime(e)).toBeLessThanOrEqual(20)
      }
    }
  })

  it('splits a burst into batches of at most maxBatch', async () => {
    const clock = fakeClock(T0 + 120_000)
    const sizes: number[] = []
    for await (const batch of paceRealtime(events, { ...clock, maxBatch: 100 })) sizes.push(batch.length)
    expect(Math.max(...sizes)).toBe(100)
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(events.length)
  })

  it('stops when the signal is aborted', async () => {
    const clock = fakeClock(T0)
    const abort = new AbortController()
    let n = 0
    for await (const batch of paceRealtime(events, { ...clock, signal: abort.signal })) {
      n += batch.length
      if (n > 50) abort.abort()
    }
    expect(n).toBeLessThan(events.length)
  })
})

import { isDeepStrictEqual } from 'node:util'
import { describe, expect, it } from 'vitest'
import { createCodec } from '../../schemas/codec.ts'
import { createFleetSimulator } from './event-generator.ts'
import { T0 } from './test-helpers.ts'

describe('simulated events and the Avro contract', () => {
  it('encode with the codec and decode back to the very same values (requests and samples, overload included)', () => {
    const codec = createCodec()
    const capacity = createFleetSimulator().fleet.capacity
    let requests = 0
    let samples = 0
    const mismatches: unknown[] = []
    for (const load of [0.3, 1.4]) {
      const sim = createFleetSimulator({ seed: 31, requestRate: capacity * load })
      for (const e of sim.generate({ startMs: T0, durationMs: 40 * 60_000 })) {
        const bytes = e.kind === 'request-event' ? codec.encodeRequestEvent(e.value) : codec.encodeGpuSample(e.value)
        const decoded = codec.decode(bytes)
        // Exact equality: float fields already carry float32 values, so nothing changes on the way.
        if (!decoded.ok || decoded.kind !== e.kind || !isDeepStrictEqual({ ...decoded.value }, e.value)) mismatches.push({ sent: e.value, got: decoded })
        if (e.kind === 'request-event') requests++
        else samples++
      }
    }
    expect(mismatches).toEqual([])
    expect(requests).toBeGreaterThan(5000)
    expect(samples).toBe(2 * 8 * 40 * 60)
  })
})

import { describe, expect, it } from 'vitest'
import { RANDOM_FAILURE_RATE } from './error-catalog.ts'
import { countBy, runAtLoad } from './test-helpers.ts'

/** Requests that reached a worker (not answered from the queue). */
const served = <T extends { error_type: string | null }>(rs: T[]) => rs.filter((r) => r.error_type !== 'queue_timeout')

describe('low load (0.2 of capacity, ~20k requests)', () => {
  const { requests, samples } = runAtLoad(0.2, 20_000, { seed: 21 })

  it('fails 3.5-6.5 % of requests: 3.75 % random errors plus OOMs and timeouts of heavy requests', () => {
    expect(RANDOM_FAILURE_RATE).toBeCloseTo(0.0375, 10)
    const share = requests.filter((r) => r.status === 'error').length / requests.length
    expect(share).toBeGreaterThan(0.035)
    expect(share).toBeLessThan(0.065)
  })

  it('spreads errors over the types at their rates (each within 5 sigma)', () => {
    const n = served(requests).length
    const counts = countBy(requests, (r) => r.error_type)
    for (const [type, rate] of [['invalid_input', 0.008], ['safety_blocked', 0.012], ['upstream', 0.006], ['cancelled', 0.005]] as const) {
      // Random failures other than invalid_input are drawn only for requests that did not OOM.
      const expected = n * rate
      expect(Math.abs((counts[type] ?? 0) - expected)).toBeLessThan(5 * Math.sqrt(expected) + 3)
    }
  })

  it('has no queue timeouts', () => {
    expect(requests.filter((r) => r.error_type === 'queue_timeout')).toHaveLength(0)
  })

  it('keeps GPU utilization near the offered load (mean 15-25 %)', () => {
    const mean = samples.reduce((s, x) => s + x.util_gpu_pct!, 0) / samples.length
    expect(mean).toBeGreaterThan(15)
    expect(mean).toBeLessThan(25)
  })
})

describe('overload (1.6 x capacity)', () => {
  const { requests, samples } = runAtLoad(1.6, 20_000, { seed: 22 })

  it('rejects at least the excess load with queue timeouts', () => {
    const timedOut = requests.filter((r) => r.error_type === 'queue_timeout').length
    // A saturated fleet serves at most its capacity: 1 - 1 / 1.6 = 37.5 % cannot be served.
    expect(timedOut / requests.length).toBeGreaterThan(0.3)
  })

  it('runs the GPUs near 100 % (mean utilization above 90 %)', () => {
    const mean = samples.reduce((s, x) => s + x.util_gpu_pct!, 0) / samples.length
    expect(mean).toBeGreaterThan(90)
  })
})

describe('GPU samples follow what the worker did', () => {
  const { requests, samples } = runAtLoad(0.5, 4000, { seed: 23 })
  const lastSample = Math.max(...samples.map((s) => s.sampled_at))

  it('report utilization from the inference time inside each interval (0 exactly when idle)', () => {
    const calls = new Map<string, [number, number][]>()
    for (const r of requests) {
      if (r.inference_start_at === null) continue
      calls.set(r.gpu_uuid, [...(calls.get(r.gpu_uuid) ?? []), [r.inference_start_at, r.inference_end_at!]])
    }
    let checked = 0
    for (const s of samples) {
      // Near the end, calls still in flight are not emitted; skip those samples.
      if (s.sampled_at > lastSample - 120_000) continue
      const from = s.sampled_at - 1000
      let busy = 0
      for (const [a, b] of calls.get(s.gpu_uuid) ?? []) busy += Math.max(0, Math.min(b, s.sampled_at) - Math.max(a, from))
      if (busy === 0) expect(s.util_gpu_pct).toBeLessThanOrEqual(3)
      else expect(Math.abs(s.util_gpu_pct! - (busy / 1000) * 97)).toBeLessThanOrEqual(9)
      checked++
    }
    expect(checked).toBeGreaterThan(10_000)
  })

  it('stay within the physical limits of the GPU', () => {
    const bad = samples.filter(
      (s) =>
        s.mem_used_mb! > s.mem_total_mb! ||
        s.mem_used_mb! <= 0 ||
        s.power_w! > s.power_limit_w! ||
        s.util_gpu_pct! < 0 ||
        s.util_gpu_pct! > 100 ||
        s.source !== 'simulated' ||
        s.host_mem_used_mb! >= s.host_mem_total_mb!,
    )
    expect(bad).toEqual([])
  })

  it('draw more power and run hotter when busy', () => {
    const idle = samples.filter((s) => s.util_gpu_pct === 0 && s.gpu_name === 'NVIDIA H100 80GB HBM3')
    const busy = samples.filter((s) => s.util_gpu_pct! > 90 && s.gpu_name === 'NVIDIA H100 80GB HBM3')
    const mean = (xs: typeof samples, f: (s: (typeof samples)[number]) => number) => xs.reduce((a, s) => a + f(s), 0) / xs.length
    expect(mean(busy, (s) => s.power_w!)).toBeGreaterThan(2 * mean(idle, (s) => s.power_w!))
    expect(mean(busy, (s) => s.temperature_c!)).toBeGreaterThan(mean(idle, (s) => s.temperature_c!))
    expect(idle.every((s) => s.throttle_reasons.includes('gpu_idle'))).toBe(true)
  })
})

/**
 * Expected answers of the query API computed in plain JS from the events a test produced, with
 * the definitions the routes document, and nothing read back from ClickHouse.
 */
import { ERROR_TYPES, type ErrorType, type GpuSample, type RequestEvent } from '../../schemas/generated/types.ts'
import { exactQuantile } from './fleet-data.ts'

const f32 = (x: number) => Math.fround(x)

export type ErrorTotals = { requests: number; errors: number; by_type: Record<ErrorType, number> }

export function expectedErrors(requests: readonly RequestEvent[], fromMs: number, toMs: number, windowMs = 10_000): ErrorTotals {
  const out: ErrorTotals = { requests: 0, errors: 0, by_type: Object.fromEntries(ERROR_TYPES.map((t) => [t, 0])) as Record<ErrorType, number> }
  for (const e of requests) {
    // A window belongs to the range containing its start.
    const w = Math.floor(e.completed_at / windowMs) * windowMs
    if (w < fromMs || w >= toMs) continue
    out.requests += 1
    if (e.status !== 'ok') out.errors += 1
    if (e.error_type !== null) out.by_type[e.error_type] += 1
  }
  return out
}

export function expectedAvailability(t: ErrorTotals): number | null {
  const eligible = t.requests - t.by_type.invalid_input - t.by_type.safety_blocked - t.by_type.cancelled
  return eligible > 0 ? (t.requests - t.errors) / eligible : null
}

export type GpuExpectation = { samples: number; util_mean: number; util_p95: number; busy: number; mem_headroom_min: number; temp_max: number; throttled_fraction: number; idle: boolean }

/** Per GPU uuid, over samples with sampled_at in [from, to) (a range aligned to the windows). */
export function expectedGpus(samples: readonly GpuSample[], fromMs: number, toMs: number): Map<string, GpuExpectation> {
  const by = new Map<string, GpuSample[]>()
  for (const s of samples) {
    if (s.sampled_at < fromMs || s.sampled_at >= toMs) continue
    by.set(s.gpu_uuid, [...(by.get(s.gpu_uuid) ?? []), s])
  }
  const out = new Map<string, GpuExpectation>()
  for (const [uuid, list] of by) {
    // Float32 columns: compare with what ClickHouse stored, not the float64 the simulator made.
    const util = list.map((s) => f32(s.util_gpu_pct ?? 0))
    const busy = util.filter((u) => u > 0).length
    const memUsedMax = Math.max(...list.map((s) => s.mem_used_mb ?? 0))
    const memTotal = Math.max(...list.map((s) => s.mem_total_mb ?? 0))
    out.set(uuid, {
      samples: list.length,
      util_mean: util.reduce((a, b) => a + b, 0) / list.length,
      util_p95: exactQuantile([...util].sort((a, b) => a - b), 0.95),
      busy,
      mem_headroom_min: memTotal - memUsedMax,
      temp_max: Math.max(...list.map((s) => f32(s.temperature_c ?? 0))),
      throttled_fraction: list.filter((s) => s.throttle_reasons.length > 0).length / list.length,
      idle: busy === 0,
    })
  }
  return out
}

export type OomKey = string
/** `${model}|${width}x${height}|${batch}` → { requests, ooms } over completed_at in [from, to). */
export function expectedOom(requests: readonly RequestEvent[], fromMs: number, toMs: number): Map<OomKey, { requests: number; ooms: number }> {
  const out = new Map<OomKey, { requests: number; ooms: number }>()
  for (const e of requests) {
    if (e.completed_at < fromMs || e.completed_at >= toMs) continue
    const key = `${e.model}|${e.width}x${e.height}|${e.batch_size}`
    const v = out.get(key) ?? { requests: 0, ooms: 0 }
    v.requests += 1
    if (e.error_type === 'oom') v.ooms += 1
    out.set(key, v)
  }
  return out
}

/**
 * Test data for the query API: simulator events written straight into a migrated database (the
 * materialized views fire as they would for the transformer's inserts), plus the independent
 * arithmetic tests compare answers with. Used by unit tests that need no Kafka; the
 * integration tests feed the same simulator through the real pipeline instead.
 */
import type { ClickHouseClient } from '@clickhouse/client'
import { createFleetSimulator } from '../../ingest/simulator/event-generator.ts'
import type { FleetConfig } from '../../ingest/simulator/fleet-model.ts'
import type { GpuSample, RequestEvent } from '../../schemas/generated/types.ts'

export type Fleet = { requests: RequestEvent[]; samples: GpuSample[] }

export function simulateFleet(config: Partial<FleetConfig>, startMs: number, durationMs: number): Fleet {
  const out: Fleet = { requests: [], samples: [] }
  for (const ev of createFleetSimulator(config).generate({ startMs, durationMs, warmupMs: 60_000 })) {
    if (ev.kind === 'request-event') out.requests.push(ev.value)
    else out.samples.push(ev.value)
  }
  return out
}

const chTime = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString().replace('T', ' ').replace('Z', ''))

/** Inserts the fleet's events as the transformer would (one block per 5 000 rows). */
export async function insertFleet(client: ClickHouseClient, database: string, fleet: Fleet): Promise<void> {
  const req = fleet.requests.map((e, i) => ({
    ...e, received_at: chTime(e.received_at), dequeued_at: chTime(e.dequeued_at), inference_start_at: chTime(e.inference_start_at),
    inference_end_at: chTime(e.inference_end_at), completed_at: chTime(e.completed_at), _topic: 'test', _partition: 0, _offset: i,
  }))
  const gpu = fleet.samples.map((s, i) => ({ ...s, sampled_at: chTime(s.sampled_at), _topic: 'test', _partition: 0, _offset: i }))
  for (let at = 0; at < req.length; at += 5000) {
    await client.insert({ table: `${database}.request_events`, values: req.slice(at, at + 5000), format: 'JSONEachRow' })
  }
  for (let at = 0; at < gpu.length; at += 5000) {
    await client.insert({ table: `${database}.gpu_samples`, values: gpu.slice(at, at + 5000), format: 'JSONEachRow' })
  }
}

/** Exact quantile with linear interpolation between closest ranks (type 7). */
export function exactQuantile(sorted: readonly number[], q: number): number {
  const h = (sorted.length - 1) * Math.min(1, Math.max(0, q))
  const lo = Math.floor(h)
  const a = sorted[lo] ?? NaN
  const b = sorted[Math.min(lo + 1, sorted.length - 1)] ?? NaN
  return a + (h - lo) * (b - a)
}

/**
 * [low, high] the t-digest answer for q must lie in: the exact quantiles at q ∓ 1 % of the rank
 * (at least one value), widened by Float32 rounding. See routes/latency.ts.
 */
export function digestBounds(sorted: readonly number[], q: number): [number, number] {
  const rankError = Math.max(0.01, 1 / Math.max(1, sorted.length - 1))
  return [exactQuantile(sorted, q - rankError) * (1 - 1e-6), exactQuantile(sorted, q + rankError) * (1 + 1e-6)]
}

/** The bucket definitions of query-api/dimensions.ts, written again in JS. */
export function stepsBucket(steps: number): string {
  return steps <= 10 ? '1-10' : steps <= 20 ? '11-20' : steps <= 30 ? '21-30' : steps <= 50 ? '31-50' : '51+'
}
export function resolutionBucket(width: number, height: number): string {
  const px = width * height
  if (px <= 512 * 512) return '<=512x512'
  if (px <= 768 * 768) return '<=768x768'
  if (px <= 1024 * 1024) return '<=1024x1024'
  if (px <= 1536 * 1536) return '<=1536x1536'
  return '>1536x1536'
}

/** The latency metrics of request_events, computed in JS from one event (null: no value). */
export function metricValue(e: RequestEvent, metric: 'e2e' | 'queue' | 'inference' | 'ms_per_step'): number | null {
  switch (metric) {
    case 'e2e':
      return e.completed_at - e.received_at
    case 'queue':
      return e.dequeued_at === null ? null : e.dequeued_at - e.received_at
    case 'inference':
      return e.inference_start_at === null || e.inference_end_at === null ? null : e.inference_end_at - e.inference_start_at
    case 'ms_per_step': {
      if (e.steps <= 0) return null
      const denoise = e.denoise_ms ?? (e.inference_start_at === null || e.inference_end_at === null ? null : e.inference_end_at - e.inference_start_at)
      return denoise === null ? null : denoise / e.steps
    }
  }
}

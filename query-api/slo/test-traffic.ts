/**
 * Test traffic with known bad fractions for the SLO tests, and the expected SLO numbers computed
 * in plain JS from those events with the documented definitions (never read back from
 * ClickHouse). Events are written as the transformer writes them (insertFleet), windows filled
 * by test-support/windows-fill.ts.
 */
import type { ErrorType, RequestEvent } from '../../schemas/generated/types.ts'
import { sampleRequestEvent } from '../../schemas/test-fixtures.ts'
import type { SloDefinition } from './config.ts'

export const MIN = 60_000
export const HOUR = 60 * MIN
/** A recent minute: rows older than a table's TTL vanish at insert. */
export const NOW = Math.floor(Date.now() / MIN) * MIN

type Shape = { model: string; at: number; error?: ErrorType; e2e: number; inference: number; steps: number; width: number; height: number }

let seq = 0
export function requestEvent(s: Shape): RequestEvent {
  const received = s.at - s.e2e
  const start = received + 12
  seq += 1
  return sampleRequestEvent({
    event_id: `slo-${seq}`, request_id: `r-${seq}`, model: s.model, worker_id: `w${seq % 3}`, steps: s.steps, width: s.width, height: s.height,
    received_at: received, dequeued_at: received + 7, inference_start_at: start, inference_end_at: start + s.inference, completed_at: s.at,
    text_encode_ms: null, denoise_ms: null, vae_decode_ms: null, safety_ms: null, upload_ms: null,
    status: s.error === undefined ? 'ok' : 'error', error_type: s.error ?? null, error_message: s.error ?? null, http_status: s.error === undefined ? 200 : 500,
  })
}

const SIZES = [[512, 512], [1024, 1024], [1024, 1536]] as const
const STEPS = [20, 30, 50] as const

/**
 * `count` requests evenly over [from, to); a share `serverErrors` of them (spread evenly) are
 * server errors (timeout), and every 37th of the others a client error (invalid_input).
 */
export function traffic(model: string, from: number, to: number, count: number, serverErrors: number): RequestEvent[] {
  const out: RequestEvent[] = []
  for (let i = 0; i < count; i++) {
    const [width, height] = SIZES[i % 3] ?? [512, 512]
    const steps = STEPS[(i * 7) % 3] ?? 30
    const e2e = 1500 + ((i * 7919) % 9000) // 1.5–10.5 s, not in time order
    const inference = Math.min(e2e - 40, 300 + ((i * 4973) % 7000))
    const server = Math.floor((i + 1) * serverErrors) > Math.floor(i * serverErrors)
    const error: ErrorType | undefined = server ? 'timeout' : i % 37 === 36 ? 'invalid_input' : undefined
    out.push(requestEvent({ model, at: from + Math.floor(((to - from) * i) / count) + 3, e2e, inference, steps, width, height, ...(error ? { error } : {}) }))
  }
  return out
}

export type Counts = { total: number; good: number; bad: number }

/** Availability over [from, to): a 10-second window counts when its start is inside. */
export function expectedAvailability(events: readonly RequestEvent[], slo: SloDefinition, from: number, to: number): Counts {
  const c = { total: 0, good: 0, bad: 0 }
  for (const e of events) {
    if (!matches(e, slo)) continue
    const w = Math.floor(e.completed_at / 10_000) * 10_000
    if (w < from || w >= to) continue
    if (e.error_type === 'invalid_input' || e.error_type === 'safety_blocked' || e.error_type === 'cancelled') continue
    c.total += 1
    if (e.status === 'ok') c.good += 1
    else c.bad += 1
  }
  return c
}

/** Latency over completed_at in [from, to): successful requests; normalized by steps × MP of one image. */
export function expectedLatency(events: readonly RequestEvent[], slo: SloDefinition, from: number, to: number): Counts {
  const c = { total: 0, good: 0, bad: 0 }
  const l = slo.latency
  if (l === null) throw new Error('not a latency SLO')
  for (const e of events) {
    if (!matches(e, slo) || e.status !== 'ok' || e.completed_at < from || e.completed_at >= to) continue
    const value = l.metric === 'e2e' ? e.completed_at - e.received_at
      : l.metric === 'queue' ? (e.dequeued_at ?? NaN) - e.received_at
      : (e.inference_end_at ?? NaN) - (e.inference_start_at ?? NaN)
    const mp = (e.width * e.height) / 1e6
    if (l.normalizedThresholdMs !== null && (e.steps <= 0 || mp <= 0)) continue
    const good = l.normalizedThresholdMs !== null ? value / (e.steps * mp) <= l.normalizedThresholdMs : value <= (l.thresholdMs ?? NaN)
    c.total += 1
    if (good) c.good += 1
    else c.bad += 1
  }
  return c
}

function matches(e: RequestEvent, slo: SloDefinition): boolean {
  return Object.entries(slo.filters).every(([dim, values]) => values === undefined || values.includes(String(e[dim as keyof RequestEvent])))
}

export const burn = (c: Counts, objective: number) => (c.total > 0 ? c.bad / c.total / (1 - objective) : null)

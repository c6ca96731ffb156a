/**
 * Known traffic for fault scenarios, offered through the real worker SDK at a steady wall-clock
 * pace: a deterministic simulated fleet's request events and GPU samples (stamped in the recent
 * past, within every table's TTL), fed to `createTelemetry` in small ticks. The ground truth is
 * the list of events offered, kept here, never read back from the pipeline.
 */
import { createFleetSimulator } from '../../../ingest/simulator/event-generator.ts'
import { createTelemetry, type Telemetry, type TelemetryOptions } from '../../../ingest/sdk/telemetry.ts'
import type { GpuSample, RequestEvent } from '../../../schemas/generated/types.ts'

export type Traffic = { requests: RequestEvent[]; samples: GpuSample[] }

/** About `count` events (requests and samples together) of a small fleet, from `seed`. */
export function recentTraffic(seed: number, count: number): Traffic {
  const out: Traffic = { requests: [], samples: [] }
  const startMs = Date.now() - 10 * 60_000
  const sim = createFleetSimulator({ seed, requestRate: 40, hosts: 2, gpusPerHost: 2 })
  for (const ev of sim.generate({ startMs, durationMs: 9 * 60_000 })) {
    if (ev.kind === 'request-event') out.requests.push(ev.value)
    else out.samples.push(ev.value)
    if (out.requests.length + out.samples.length >= count) break
  }
  return out
}

export type PacedProducer = {
  readonly telemetry: Telemetry
  /** Events offered so far, and the largest `buffered` seen. */
  readonly offered: { requests: number; samples: number; maxBuffered: number }
  /** Resolves once every event was offered. */
  readonly done: Promise<void>
}

/** Offers `traffic` through a new SDK client at `ratePerSec` (requests and samples interleaved). */
export function paceThroughSdk(traffic: Traffic, ratePerSec: number, options: TelemetryOptions): PacedProducer {
  const telemetry = createTelemetry(options)
  const events: Array<['r', RequestEvent] | ['s', GpuSample]> = []
  const n = Math.max(traffic.requests.length, traffic.samples.length)
  for (let i = 0; i < n; i++) {
    const r = traffic.requests[i]
    const s = traffic.samples[i]
    if (r) events.push(['r', r])
    if (s) events.push(['s', s])
  }
  const offered = { requests: 0, samples: 0, maxBuffered: 0 }
  const tickMs = 20
  const started = Date.now()
  const done = new Promise<void>((resolve) => {
    let at = 0
    const timer = setInterval(() => {
      const due = Math.min(events.length, Math.floor(((Date.now() - started) * ratePerSec) / 1000))
      for (; at < due; at++) {
        const ev = events[at]!
        if (ev[0] === 'r') {
          telemetry.recordRequest(ev[1])
          offered.requests++
        } else {
          telemetry.recordGpuSample(ev[1])
          offered.samples++
        }
      }
      offered.maxBuffered = Math.max(offered.maxBuffered, telemetry.counters().buffered)
      if (at >= events.length) {
        clearInterval(timer)
        resolve()
      }
    }, tickMs)
  })
  return { telemetry, offered, done }
}

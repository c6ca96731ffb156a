/** Running totals of a simulation run: events acknowledged, per kind, per model, per error type. */
import type { SimEvent } from './event-generator.ts'

export interface ModelTotals {
  requests: number
  errors: number
  /** Images of successful requests. */
  images: number
}

export interface FleetSummary {
  readonly hosts: number
  readonly gpus: number
  /** Request arrivals per second. */
  readonly requestRate: number
  /** requestRate / fleet capacity. */
  readonly offeredLoad: number
  /** Simulated window [startMs, endMs). */
  readonly startMs: number
  readonly endMs: number
}

export interface SimulationTotals {
  readonly events: number
  readonly requestEvents: number
  readonly gpuSamples: number
  /** Encoded bytes (message values) acknowledged. */
  readonly bytes: number
  readonly byModel: Readonly<Record<string, ModelTotals>>
  readonly byErrorType: Readonly<Record<string, number>>
  readonly fleet: FleetSummary
  readonly elapsedMs: number
  readonly eventsPerSec: number
  /** True when the run was stopped before the end of its window. */
  readonly aborted: boolean
}

export interface TotalsCounter {
  add(batch: readonly SimEvent[], bytes: number): void
  snapshot(): { events: number; requestEvents: number; gpuSamples: number }
  finish(aborted: boolean): SimulationTotals
}

export function createTotals(fleet: FleetSummary): TotalsCounter {
  const started = Date.now()
  let requestEvents = 0
  let gpuSamples = 0
  let bytes = 0
  const byModel: Record<string, ModelTotals> = {}
  const byErrorType: Record<string, number> = {}
  return {
    add(batch, batchBytes) {
      bytes += batchBytes
      for (const e of batch) {
        if (e.kind === 'gpu-sample') {
          gpuSamples++
          continue
        }
        requestEvents++
        const v = e.value
        const m = (byModel[v.model] ??= { requests: 0, errors: 0, images: 0 })
        m.requests++
        if (v.error_type === null) m.images += v.images
        else {
          m.errors++
          byErrorType[v.error_type] = (byErrorType[v.error_type] ?? 0) + 1
        }
      }
    },
    snapshot: () => ({ events: requestEvents + gpuSamples, requestEvents, gpuSamples }),
    finish(aborted) {
      const elapsedMs = Date.now() - started
      const events = requestEvents + gpuSamples
      return {
        events,
        requestEvents,
        gpuSamples,
        bytes,
        byModel,
        byErrorType,
        fleet,
        elapsedMs,
        eventsPerSec: elapsedMs > 0 ? (events * 1000) / elapsedMs : 0,
        aborted,
      }
    },
  }
}

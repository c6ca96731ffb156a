/** Helpers shared by the simulator's unit tests (no network). */
import type { GpuSample, RequestEvent } from '../../schemas/generated/types.ts'
import { createFleetSimulator, type FleetSimulator, type SimEvent } from './event-generator.ts'
import type { FleetConfig } from './fleet-model.ts'

export const T0 = Date.UTC(2025, 0, 6, 12, 0, 0)

export interface Collected {
  readonly events: SimEvent[]
  readonly requests: RequestEvent[]
  readonly samples: GpuSample[]
}

export function collect(events: Iterable<SimEvent>): Collected {
  const all: SimEvent[] = []
  const requests: RequestEvent[] = []
  const samples: GpuSample[] = []
  for (const e of events) {
    all.push(e)
    if (e.kind === 'request-event') requests.push(e.value)
    else samples.push(e.value)
  }
  return { events: all, requests, samples }
}

/** A default fleet at `load` times its capacity, run long enough for about `requests` requests. */
export function runAtLoad(load: number, requests: number, overrides: Partial<FleetConfig> = {}): Collected & { sim: FleetSimulator } {
  const capacity = createFleetSimulator(overrides).fleet.capacity
  const sim = createFleetSimulator({ ...overrides, requestRate: capacity * load })
  const durationMs = Math.round((requests / sim.config.requestRate) * 1000)
  return { sim, ...collect(sim.generate({ startMs: T0, durationMs })) }
}

export function countBy<T>(items: readonly T[], key: (item: T) => string | null): Record<string, number> {
  const out: Record<string, number> = {}
  for (const item of items) {
    const k = key(item)
    if (k !== null) out[k] = (out[k] ?? 0) + 1
  }
  return out
}

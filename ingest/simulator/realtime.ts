/**
 * Real-time release of simulated events: each event is handed out once the wall clock has
 * reached its event time, in groups of what became due since the last tick, so the output rate
 * follows the simulated rate and every event is fresh (event time <= now, by at most a tick plus
 * the consumer's own delay). Clock and sleep are injectable for tests.
 */
import type { SimEvent } from './event-generator.ts'

export function eventTime(event: SimEvent): number {
  return event.kind === 'request-event' ? event.value.completed_at : event.value.sampled_at
}

export interface PaceOptions {
  readonly now?: () => number
  readonly sleep?: (ms: number) => Promise<void>
  /** Longest pause between two releases (ms). */
  readonly tickMs?: number
  /** Most events in one release; the rest follow without waiting. */
  readonly maxBatch?: number
  readonly signal?: AbortSignal
}

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

export async function* paceRealtime(events: Iterable<SimEvent>, options: PaceOptions = {}): AsyncGenerator<SimEvent[]> {
  const now = options.now ?? Date.now
  const sleep = options.sleep ?? defaultSleep
  const tickMs = options.tickMs ?? 20
  const maxBatch = options.maxBatch ?? 10_000
  const it = events[Symbol.iterator]()
  let pending = it.next()
  while (!pending.done && options.signal?.aborted !== true) {
    const wait = eventTime(pending.value) - now()
    if (wait > 0) {
      await sleep(Math.min(wait, tickMs))
      continue
    }
    const batch: SimEvent[] = []
    const due = now()
    while (!pending.done && batch.length < maxBatch && eventTime(pending.value) <= due) {
      batch.push(pending.value)
      pending = it.next()
    }
    yield batch
  }
}

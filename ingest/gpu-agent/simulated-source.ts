/**
 * `--simulate`: GPU samples of one simulated host (ingest/simulator's fleet model: utilization,
 * memory, power and temperature follow a simulated request load), released in rounds at
 * wall-clock pace, so the agent can be tried and demonstrated on a machine without a GPU.
 */
import type { GpuSample } from '../../schemas/generated/types.ts'
import { createFleetSimulator } from '../simulator/event-generator.ts'

export interface SimulatedRoundsOptions {
  readonly gpus: number
  readonly intervalMs: number
  readonly seed: number
  readonly host: string
  readonly signal: AbortSignal
  /** Requests per second offered to the simulated host. */
  readonly requestRate?: number
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(done, ms)
    function done(): void {
      clearTimeout(t)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })

export async function* simulatedRounds(o: SimulatedRoundsOptions): AsyncGenerator<GpuSample[]> {
  const sim = createFleetSimulator({ seed: o.seed, hosts: 1, gpusPerHost: o.gpus, requestRate: o.requestRate ?? 0.5 * o.gpus, sampleIntervalMs: o.intervalMs })
  const startMs = Math.ceil(Date.now() / o.intervalMs) * o.intervalMs
  let round: GpuSample[] = []
  for (const ev of sim.generate({ startMs, durationMs: 30 * 86_400_000, warmupMs: 60_000 })) {
    if (o.signal.aborted) return
    if (ev.kind !== 'gpu-sample') continue
    if (round.length > 0 && ev.value.sampled_at !== round[0]!.sampled_at) {
      yield round
      round = []
    }
    const wait = ev.value.sampled_at - Date.now()
    if (round.length === 0 && wait > 0) await sleep(wait, o.signal)
    round.push({ ...ev.value, host: o.host })
  }
}

/**
 * The fleet simulator: a pure, deterministic generator of RequestEvents and GpuSamples.
 *
 * Guarantees:
 * - the same config (seed included) and window give the same events, field for field;
 * - events come out in event-time order (completed_at for requests, sampled_at for samples),
 *   ties in a fixed order;
 * - exactly the events whose event time lies in [startMs, startMs + durationMs) come out:
 *   requests still in flight at the end are not emitted; every GPU has one sample at
 *   startMs + k * sampleIntervalMs for each k >= 0 inside the window, covering the interval
 *   before it. Simulation starts `warmupMs` before the window, with idle workers whose models
 *   are loaded.
 *
 * Arrivals are one Poisson stream at `requestRate`, each sent to a worker with probability
 * proportional to the worker's capacity, so every worker sees the same offered load
 * (requestRate / fleet.capacity). With a diurnal curve the stream is thinned to the curve's rate
 * at each instant (diurnal.ts), its daily mean still `requestRate`; without one, the random
 * draws are exactly those of a flat rate. A sample at time T is computed once every arrival before T
 * has been served, because nothing that arrives later can make the GPU busy before T.
 */
import type { GpuSample, RequestEvent } from '../../schemas/generated/types.ts'
import { multiplierAt, peakMultiplier } from './diurnal.ts'
import { EventHeap } from './event-heap.ts'
import { buildFleet, DEFAULT_FLEET_CONFIG, type Fleet, type FleetConfig } from './fleet-model.ts'
import { createHostRuntime, sampleHost, type HostRuntime } from './gpu-sampler.ts'
import { Rng, weightedTable } from './prng.ts'
import { createWorkerRuntime, serveRequest, type RequestIds, type WorkerRuntime } from './worker-sim.ts'

export type SimEvent =
  | { readonly kind: 'request-event'; readonly value: RequestEvent; readonly key: string }
  | { readonly kind: 'gpu-sample'; readonly value: GpuSample; readonly key: string }

export interface GenerateWindow {
  /** Start of the window of emitted events (epoch ms, integer). */
  readonly startMs: number
  readonly durationMs: number
  /**
   * Simulated time before the window whose events are not emitted (default 0), so that the
   * window opens on a fleet in steady state: queues filled, requests in flight, GPUs warm.
   * Rounded up to a whole number of sample intervals.
   */
  readonly warmupMs?: number
}

export interface FleetSimulator {
  readonly config: FleetConfig
  readonly fleet: Fleet
  /** requestRate / fleet capacity: 1 means the fleet is exactly saturated. */
  readonly offeredLoad: number
  /** GPU samples per second the fleet emits. */
  readonly sampleRate: number
  /** Events in event-time order; each call starts from the same initial state. */
  generate(window: GenerateWindow): Iterable<SimEvent>
}

export function createFleetSimulator(overrides: Partial<FleetConfig> = {}): FleetSimulator {
  const config: FleetConfig = Object.freeze({ ...DEFAULT_FLEET_CONFIG, ...overrides })
  validateFleetConfig(config)
  const fleet = buildFleet(config)
  return {
    config,
    fleet,
    offeredLoad: config.requestRate / fleet.capacity,
    sampleRate: (fleet.workers.length * 1000) / config.sampleIntervalMs,
    generate: (window) => generateEvents(config, fleet, window),
  }
}

function validateFleetConfig(c: FleetConfig): void {
  const problems: string[] = []
  if (!Number.isInteger(c.hosts) || c.hosts < 1) problems.push(`hosts must be an integer >= 1 (got ${c.hosts})`)
  if (!Number.isInteger(c.gpusPerHost) || c.gpusPerHost < 1) problems.push(`gpusPerHost must be an integer >= 1 (got ${c.gpusPerHost})`)
  if (!(c.requestRate >= 0) || !Number.isFinite(c.requestRate)) problems.push(`requestRate must be >= 0 (got ${c.requestRate})`)
  if (!Number.isInteger(c.sampleIntervalMs) || c.sampleIntervalMs < 1) problems.push(`sampleIntervalMs must be an integer >= 1 (got ${c.sampleIntervalMs})`)
  if (c.gpuMix.length === 0) problems.push('gpuMix must name at least one GPU type')
  if (problems.length > 0) throw new Error(`invalid fleet config: ${problems.join('; ')}`)
}

function* generateEvents(config: FleetConfig, fleet: Fleet, window: GenerateWindow): Generator<SimEvent> {
  const startMs = Math.round(window.startMs)
  const endMs = startMs + Math.max(0, Math.round(window.durationMs))
  const warmupMs = Math.ceil(Math.max(0, window.warmupMs ?? 0) / config.sampleIntervalMs) * config.sampleIntervalMs
  const simStartMs = startMs - warmupMs
  const rng = new Rng(config.seed)
  const runtimes = new Map<string, WorkerRuntime>()
  const workers = fleet.workers.map((spec) => {
    const rt = createWorkerRuntime(spec, simStartMs, config.idleUnloadMs)
    runtimes.set(spec.id, rt)
    return rt
  })
  const hosts: HostRuntime[] = fleet.hosts.map((h) => createHostRuntime(h, h.workers.map((w) => runtimes.get(w.id) as WorkerRuntime)))
  const route = weightedTable(workers.map((w) => [w, w.spec.capacity] as const))
  const ids: RequestIds = { promptPool: Array.from({ length: 200 }, () => rng.hex(8)) }
  const heap = new EventHeap<SimEvent>()
  const curve = config.diurnal
  const peak = curve !== null ? peakMultiplier(curve) : 1
  // Candidates come at the peak rate; thinning keeps multiplier / peak of them.
  const meanGapMs = config.requestRate > 0 ? 1000 / (config.requestRate * peak) : Number.POSITIVE_INFINITY
  const pickWorker = workers.length <= 16 ? () => rng.weighted(route) : aliasPicker(rng, workers)

  let nextArrival = simStartMs + rng.exponential(meanGapMs)
  let nextTick = simStartMs
  for (;;) {
    const arrivalDue = nextArrival < endMs
    const tickDue = nextTick < endMs
    if (!arrivalDue && !tickDue) break
    if (tickDue && (!arrivalDue || nextTick <= nextArrival)) {
      const emit = nextTick >= startMs
      for (const host of hosts) {
        const samples = sampleHost(rng, host, nextTick, config.sampleIntervalMs)
        if (emit) for (const sample of samples) heap.push(nextTick, { kind: 'gpu-sample', value: sample, key: sample.gpu_uuid })
      }
      nextTick += config.sampleIntervalMs
    } else if (curve !== null && rng.next() * peak >= multiplierAt(curve, nextArrival)) {
      nextArrival += rng.exponential(meanGapMs)
    } else {
      const worker = pickWorker()
      const event = serveRequest(rng, config, worker, Math.round(nextArrival), ids)
      if (event.completed_at < endMs && event.completed_at >= startMs) heap.push(event.completed_at, { kind: 'request-event', value: event, key: event.worker_id })
      nextArrival += rng.exponential(meanGapMs)
    }
    // Everything created from now on has an event time >= floor(clock).
    const safeBefore = Math.floor(Math.min(nextArrival, nextTick))
    while (heap.peekTime() < safeBefore) yield heap.pop() as SimEvent
  }
  while (heap.size > 0) yield heap.pop() as SimEvent
}

/** O(1) weighted choice for large fleets (Vose's alias method). */
function aliasPicker(rng: Rng, workers: readonly WorkerRuntime[]): () => WorkerRuntime {
  const n = workers.length
  const total = workers.reduce((s, w) => s + w.spec.capacity, 0)
  const prob = new Float64Array(n)
  const alias = new Int32Array(n)
  const scaled = workers.map((w) => (w.spec.capacity * n) / total)
  const small: number[] = []
  const large: number[] = []
  scaled.forEach((p, i) => (p < 1 ? small : large).push(i))
  while (small.length > 0 && large.length > 0) {
    const s = small.pop() as number
    const l = large.pop() as number
    prob[s] = scaled[s] as number
    alias[s] = l
    scaled[l] = (scaled[l] as number) + (scaled[s] as number) - 1
    ;((scaled[l] as number) < 1 ? small : large).push(l)
  }
  for (const i of [...small, ...large]) prob[i] = 1
  return () => {
    const u = rng.next() * n
    const i = Math.floor(u)
    return workers[u - i < (prob[i] as number) ? i : (alias[i] as number)] as WorkerRuntime
  }
}

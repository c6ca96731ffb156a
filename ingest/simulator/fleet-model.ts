/**
 * The simulated fleet: hosts, one worker per GPU, the model each worker serves, and the
 * deterministic numbers the rest of the simulator (and its tests) rely on: the memory a request
 * needs (an OOM happens exactly when it exceeds the GPU), and each worker's capacity in
 * requests per second, from which the arrival rate is spread over workers so that every worker
 * sees the same offered load.
 */
import { CUDA_CONTEXT_MB, DEFAULT_GPU_MIX, GPU_TYPES, MODELS, REGIONS, type GpuType, type ModelProfile } from './catalog.ts'
import type { DiurnalCurve } from './diurnal.ts'
import { Rng } from './prng.ts'
import { drawRequestShape, serviceTimeMs } from './request-shape.ts'

export interface FleetConfig {
  readonly seed: number
  readonly hosts: number
  readonly gpusPerHost: number
  /** GPU type of each host, cycled over the hosts (a host has one GPU type). */
  readonly gpuMix: readonly string[]
  /** Request arrivals per second over the whole fleet (Poisson). */
  readonly requestRate: number
  readonly sampleIntervalMs: number
  /** A request still queued after this long is answered 503 queue_timeout. */
  readonly queueTimeoutMs: number
  /** The worker aborts a pipeline call that runs longer than this (504 timeout). */
  readonly inferenceTimeoutMs: number
  /** An idle worker unloads its model after this long; the next request is a cold start. */
  readonly idleUnloadMs: number
  /** Chance that a request finds its model evicted anyway (worker recycled). */
  readonly coldStartProbability: number
  /** Multiplier on the random error rates (0 turns them off; OOM and timeouts stay). */
  readonly errorScale: number
  /** Daily curve on the request rate (diurnal.ts; mean 1, so requestRate stays the day's mean); null: flat. */
  readonly diurnal: DiurnalCurve | null
}

export const DEFAULT_FLEET_CONFIG: FleetConfig = Object.freeze({
  seed: 1,
  hosts: 4,
  gpusPerHost: 2,
  gpuMix: DEFAULT_GPU_MIX,
  requestRate: 4,
  sampleIntervalMs: 1000,
  queueTimeoutMs: 60_000,
  inferenceTimeoutMs: 20_000,
  idleUnloadMs: 15 * 60_000,
  coldStartProbability: 0.002,
  errorScale: 1,
  diurnal: null,
})

export interface HostSpec {
  readonly name: string
  readonly region: string
  readonly gpu: GpuType
  readonly memTotalMb: number
  readonly workers: WorkerSpec[]
}

export interface WorkerSpec {
  readonly id: string
  readonly host: HostSpec
  readonly gpuIndex: number
  readonly gpuUuid: string
  readonly gpu: GpuType
  readonly model: ModelProfile
  readonly deployment: string
  /** Requests per second this worker completes when always busy (mean over the request mix). */
  readonly capacity: number
}

export interface Fleet {
  readonly hosts: readonly HostSpec[]
  readonly workers: readonly WorkerSpec[]
  /** Sum of worker capacities (requests/s): the arrival rate at which offered load is 1. */
  readonly capacity: number
}

function gpuType(name: string): GpuType {
  const gpu = GPU_TYPES[name]
  if (gpu === undefined) {
    throw new Error(`unknown GPU type "${name}" (known: ${Object.keys(GPU_TYPES).join(', ')})`)
  }
  return gpu
}

function modelProfile(name: string): ModelProfile {
  const model = MODELS[name]
  if (model === undefined) throw new Error(`unknown model "${name}"`)
  return model
}

/** GPU memory a request needs besides the CUDA context: weights plus activations (MiB). */
export function requiredMemMb(model: ModelProfile, width: number, height: number, batchSize: number): number {
  return model.weightsMb + 500 + model.activationMbPerMp * ((width * height) / 1e6) * batchSize
}

/** Memory a worker can allocate on this GPU (MiB); a request needing more fails with oom. */
export function usableMemMb(gpu: GpuType): number {
  return gpu.memTotalMb - CUDA_CONTEXT_MB
}

const capacityCache = new Map<string, number>()

/**
 * Mean occupancy of a worker per request, by Monte Carlo over the request mix with its own
 * fixed-seed generator, so it neither depends on nor disturbs the simulation's seed.
 */
export function workerCapacity(gpu: GpuType, model: ModelProfile, inferenceTimeoutMs: number): number {
  const key = `${gpu.type}|${model.name}|${inferenceTimeoutMs}`
  const cached = capacityCache.get(key)
  if (cached !== undefined) return cached
  const rng = new Rng(0x5eed)
  const draws = 4000
  let total = 0
  for (let i = 0; i < draws; i++) {
    const shape = drawRequestShape(rng, model, gpu)
    const noOom = requiredMemMb(model, shape.width, shape.height, shape.batchSize) <= usableMemMb(gpu)
    const t = serviceTimeMs(rng, model, gpu, shape)
    const inference = noOom ? Math.min(t.textEncode + t.denoise + t.vae + t.safety, inferenceTimeoutMs) : t.textEncode
    total += 5.5 + inference
  }
  const capacity = 1000 / (total / draws)
  capacityCache.set(key, capacity)
  return capacity
}

export function buildFleet(config: FleetConfig): Fleet {
  const rng = new Rng((config.seed ^ 0x9e3779b9) >>> 0)
  const modelTurn = new Map<string, number>()
  const hosts: HostSpec[] = []
  const workers: WorkerSpec[] = []
  for (let h = 0; h < config.hosts; h++) {
    const gpu = gpuType(config.gpuMix[h % config.gpuMix.length] as string)
    const region = REGIONS[h % REGIONS.length] as string
    const hostWorkers: WorkerSpec[] = []
    const host: HostSpec = {
      name: `${region.replace(/-\d+$/, '').replace('-', '')}-gpu-${String(h + 1).padStart(3, '0')}`,
      region,
      gpu,
      memTotalMb: gpu.hostMemTotalMb,
      workers: hostWorkers,
    }
    for (let g = 0; g < config.gpusPerHost; g++) {
      const turn = modelTurn.get(gpu.type) ?? 0
      modelTurn.set(gpu.type, turn + 1)
      const model = modelProfile(gpu.servedModels[turn % gpu.servedModels.length] as string)
      const worker: WorkerSpec = {
        id: `${host.name}-w${g}`,
        host,
        gpuIndex: g,
        gpuUuid: `GPU-${rng.uuid()}`,
        gpu,
        model,
        deployment: `imagegen-${model.name}`,
        capacity: workerCapacity(gpu, model, config.inferenceTimeoutMs),
      }
      hostWorkers.push(worker)
      workers.push(worker)
    }
    hosts.push(host)
  }
  const capacity = workers.reduce((sum, w) => sum + w.capacity, 0)
  return { hosts, workers, capacity }
}

/**
 * Number of hosts (at least `minHosts`) for `eventRate` events/s in all (requests plus one GPU
 * sample per GPU per interval) whose offered load is closest to `targetLoad` while requests keep
 * a positive rate: the smallest fleet at or under the target, or one host fewer when that is
 * closer (at low rates each extra host adds samples and takes away requests).
 */
export function hostsForEventRate(
  eventRate: number,
  targetLoad: number,
  base: Pick<FleetConfig, 'gpusPerHost' | 'gpuMix' | 'sampleIntervalMs' | 'inferenceTimeoutMs'>,
  minHosts = 4,
): number {
  const loadAt = (hosts: number): number => {
    let capacity = 0
    const turns = new Map<string, number>()
    for (let h = 0; h < hosts; h++) {
      const gpu = gpuType(base.gpuMix[h % base.gpuMix.length] as string)
      for (let g = 0; g < base.gpusPerHost; g++) {
        const turn = turns.get(gpu.type) ?? 0
        turns.set(gpu.type, turn + 1)
        const model = modelProfile(gpu.servedModels[turn % gpu.servedModels.length] as string)
        capacity += workerCapacity(gpu, model, base.inferenceTimeoutMs)
      }
    }
    return (eventRate - (hosts * base.gpusPerHost * 1000) / base.sampleIntervalMs) / capacity
  }
  // Load falls as hosts are added: grow geometrically, then bisect for the first fit.
  const fits = (hosts: number): boolean => loadAt(hosts) <= targetLoad
  let hi = minHosts
  while (!fits(hi)) hi *= 2
  let lo = Math.max(minHosts, Math.floor(hi / 2))
  if (fits(lo)) hi = lo
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1
    if (fits(mid)) hi = mid
    else lo = mid
  }
  const under = loadAt(hi)
  if (hi > minHosts) {
    const over = loadAt(hi - 1)
    if (under <= 0 || over - targetLoad < targetLoad - under) return hi - 1
  }
  return hi
}

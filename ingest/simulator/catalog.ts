/**
 * What the simulated fleet is made of: GPU products, diffusion models and their request mix.
 * Speeds are calibrated against public figures (SDXL 1024x1024, 30 steps, batch 1 takes about 2 s
 * on an H100, about 3.6 s on an A100 and about 9 s on an L4); memory figures are fp16 weights
 * plus activation memory per megapixel per image, which is what decides an out-of-memory error.
 */
import type { PipelineKind } from '../../schemas/generated/types.ts'
import { weightedTable, type WeightedTable } from './prng.ts'

export interface GpuType {
  /** Value of RequestEvent.gpu_type. */
  readonly type: string
  /** Product name as nvidia-smi prints it (GpuSample.gpu_name). */
  readonly productName: string
  readonly memTotalMb: number
  /** Service time multiplier relative to an H100. */
  readonly slowdown: number
  /** Largest batch the deployment runs on this GPU; more images run as several passes. */
  readonly maxBatch: number
  readonly powerIdleW: number
  readonly powerLimitW: number
  /** Power a fully busy GPU wants, relative to its range (> 1: it runs into its power cap). */
  readonly busyPowerFactor: number
  readonly smClockIdleMhz: number
  readonly smClockMaxMhz: number
  readonly tempIdleC: number
  /** Degrees above idle per watt above idle, at equilibrium. */
  readonly tempPerW: number
  /** Above this temperature the clocks slow down (sw_thermal). */
  readonly thermalSlowdownC: number
  readonly hostMemTotalMb: number
  /** Models a worker on this GPU serves, assigned in turn to the workers of this GPU type. */
  readonly servedModels: readonly string[]
}

export const GPU_TYPES: Readonly<Record<string, GpuType>> = {
  'H100-80GB': {
    type: 'H100-80GB',
    productName: 'NVIDIA H100 80GB HBM3',
    memTotalMb: 81559,
    slowdown: 1,
    maxBatch: 8,
    powerIdleW: 72,
    powerLimitW: 700,
    busyPowerFactor: 0.95,
    smClockIdleMhz: 345,
    smClockMaxMhz: 1980,
    tempIdleC: 31,
    tempPerW: 0.062,
    thermalSlowdownC: 85,
    hostMemTotalMb: 2063937,
    servedModels: ['sdxl-base', 'flux-schnell'],
  },
  'A100-40GB': {
    type: 'A100-40GB',
    productName: 'NVIDIA A100-SXM4-40GB',
    memTotalMb: 40960,
    slowdown: 1.8,
    maxBatch: 8,
    powerIdleW: 54,
    powerLimitW: 400,
    busyPowerFactor: 1,
    smClockIdleMhz: 210,
    smClockMaxMhz: 1410,
    tempIdleC: 29,
    tempPerW: 0.1,
    thermalSlowdownC: 84,
    hostMemTotalMb: 1031891,
    servedModels: ['sdxl-base', 'sd-x4-upscaler', 'sd15'],
  },
  'L4-24GB': {
    type: 'L4-24GB',
    productName: 'NVIDIA L4',
    memTotalMb: 23034,
    slowdown: 4.5,
    maxBatch: 4,
    powerIdleW: 16,
    powerLimitW: 72,
    busyPowerFactor: 1.3,
    smClockIdleMhz: 210,
    smClockMaxMhz: 2040,
    tempIdleC: 38,
    tempPerW: 0.55,
    thermalSlowdownC: 87,
    hostMemTotalMb: 193025,
    servedModels: ['sdxl-turbo', 'sd15'],
  },
}

export const DEFAULT_GPU_MIX: readonly string[] = ['H100-80GB', 'A100-40GB', 'L4-24GB']

export interface ModelProfile {
  readonly name: string
  readonly version: string
  readonly pipelines: WeightedTable<PipelineKind>
  readonly samplers: readonly string[]
  readonly steps: WeightedTable<number>
  /** Guidance scale range; [0, 0] for distilled models that run without guidance. */
  readonly guidance: readonly [number, number]
  readonly resolutions: WeightedTable<readonly [number, number]>
  readonly images: WeightedTable<number>
  /** Denoise time per step on an H100: fixed part + part per (megapixels^1.15 x batch^0.92). */
  readonly stepFixedMs: number
  readonly stepPerMpMs: number
  readonly textEncodeMs: number
  readonly vaeMsPerMp: number
  readonly safetyMsPerImage: number
  readonly weightsMb: number
  /** Activation memory per megapixel per image in the batch (MiB). */
  readonly activationMbPerMp: number
  readonly loadMs: number
  /** Share of the power budget a busy GPU draws for this model (compute intensity). */
  readonly powerIntensity: number
  /** utilization.memory relative to utilization.gpu. */
  readonly memBusyRatio: number
}

const COMMON_IMAGES = weightedTable([
  [1, 0.6],
  [2, 0.2],
  [4, 0.17],
  [8, 0.03],
])

const TXT2IMG_MOSTLY = weightedTable<PipelineKind>([
  ['txt2img', 0.78],
  ['img2img', 0.14],
  ['inpaint', 0.07],
  ['other', 0.01],
])

export const MODELS: Readonly<Record<string, ModelProfile>> = {
  'sdxl-base': {
    name: 'sdxl-base',
    version: '1.0-31e35c80',
    pipelines: TXT2IMG_MOSTLY,
    samplers: ['euler_a', 'dpmpp_2m', 'dpmpp_2m_karras', 'euler', 'ddim'],
    steps: weightedTable([[20, 0.15], [25, 0.25], [30, 0.35], [40, 0.15], [50, 0.1]]),
    guidance: [4, 9],
    resolutions: weightedTable<readonly [number, number]>([
      [[1024, 1024], 0.6],
      [[768, 768], 0.1],
      [[832, 1216], 0.1],
      [[1024, 1536], 0.12],
      [[1536, 1024], 0.08],
    ]),
    images: COMMON_IMAGES,
    stepFixedMs: 10,
    stepPerMpMs: 55,
    textEncodeMs: 18,
    vaeMsPerMp: 95,
    safetyMsPerImage: 22,
    weightsMb: 7300,
    activationMbPerMp: 3000,
    loadMs: 11000,
    powerIntensity: 0.88,
    memBusyRatio: 0.42,
  },
  'sdxl-turbo': {
    name: 'sdxl-turbo',
    version: '1.0-f4b0486b',
    pipelines: weightedTable<PipelineKind>([['txt2img', 0.85], ['img2img', 0.15]]),
    samplers: ['euler_a'],
    steps: weightedTable([[4, 0.7], [6, 0.2], [8, 0.1]]),
    guidance: [0, 0],
    resolutions: weightedTable<readonly [number, number]>([
      [[512, 512], 0.7],
      [[768, 768], 0.15],
      [[1024, 1024], 0.1],
      [[1024, 1536], 0.05],
    ]),
    images: COMMON_IMAGES,
    stepFixedMs: 10,
    stepPerMpMs: 55,
    textEncodeMs: 18,
    vaeMsPerMp: 95,
    safetyMsPerImage: 22,
    weightsMb: 7300,
    activationMbPerMp: 3000,
    loadMs: 11000,
    powerIntensity: 0.8,
    memBusyRatio: 0.38,
  },
  sd15: {
    name: 'sd15',
    version: 'v1-5-pruned-emaonly',
    pipelines: TXT2IMG_MOSTLY,
    samplers: ['euler_a', 'dpmpp_2m_karras', 'ddim', 'pndm', 'lms'],
    steps: weightedTable([[20, 0.3], [25, 0.25], [30, 0.25], [40, 0.1], [50, 0.1]]),
    guidance: [5, 11],
    resolutions: weightedTable<readonly [number, number]>([
      [[512, 512], 0.7],
      [[512, 768], 0.1],
      [[768, 768], 0.2],
    ]),
    images: COMMON_IMAGES,
    stepFixedMs: 7,
    stepPerMpMs: 40,
    textEncodeMs: 8,
    vaeMsPerMp: 80,
    safetyMsPerImage: 20,
    weightsMb: 3400,
    activationMbPerMp: 2600,
    loadMs: 6000,
    powerIntensity: 0.78,
    memBusyRatio: 0.35,
  },
  'flux-schnell': {
    name: 'flux-schnell',
    version: '1.0-bf16',
    pipelines: weightedTable<PipelineKind>([['txt2img', 0.92], ['img2img', 0.08]]),
    samplers: ['flow_euler'],
    steps: weightedTable([[4, 1]]),
    guidance: [0, 0],
    resolutions: weightedTable<readonly [number, number]>([
      [[1024, 1024], 0.6],
      [[768, 768], 0.1],
      [[1024, 1536], 0.2],
      [[1536, 1024], 0.1],
    ]),
    images: COMMON_IMAGES,
    stepFixedMs: 20,
    stepPerMpMs: 200,
    textEncodeMs: 45,
    vaeMsPerMp: 110,
    safetyMsPerImage: 22,
    weightsMb: 33800,
    activationMbPerMp: 4200,
    loadMs: 15000,
    powerIntensity: 0.95,
    memBusyRatio: 0.55,
  },
  'sd-x4-upscaler': {
    name: 'sd-x4-upscaler',
    version: '1.0-x4',
    pipelines: weightedTable<PipelineKind>([['upscale', 1]]),
    samplers: ['ddim', 'euler'],
    steps: weightedTable([[20, 0.6], [25, 0.25], [30, 0.15]]),
    guidance: [0, 9],
    resolutions: weightedTable<readonly [number, number]>([
      [[1024, 1024], 0.4],
      [[2048, 2048], 0.5],
      [[2048, 3072], 0.1],
    ]),
    images: weightedTable([[1, 0.9], [2, 0.1]]),
    stepFixedMs: 12,
    stepPerMpMs: 16,
    textEncodeMs: 8,
    vaeMsPerMp: 60,
    safetyMsPerImage: 25,
    weightsMb: 3600,
    activationMbPerMp: 3300,
    loadMs: 7000,
    powerIntensity: 0.85,
    memBusyRatio: 0.5,
  },
}

/** GPU memory the driver and the CUDA context take in every worker process (MiB). */
export const CUDA_CONTEXT_MB = 520

export const TENANTS = weightedTable([
  ['acme-studio', 0.3],
  ['pixelforge', 0.2],
  ['nimbus-ads', 0.15],
  ['lumen-apps', 0.12],
  ['orbit-games', 0.1],
  ['free-tier', 0.08],
  ['internal-eval', 0.05],
])

export const REGIONS: readonly string[] = ['us-east-1', 'eu-west-1', 'us-west-2']

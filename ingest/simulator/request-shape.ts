/**
 * What a request asks for (pipeline, sampler, steps, resolution, images) and how long each stage
 * of serving it takes on a given GPU. Stage durations are rounded to the microsecond so that the
 * timestamps derived from them add up exactly.
 */
import type { PipelineKind } from '../../schemas/generated/types.ts'
import type { GpuType, ModelProfile } from './catalog.ts'
import type { Rng } from './prng.ts'

export interface RequestShape {
  readonly pipeline: PipelineKind
  readonly sampler: string
  readonly steps: number
  readonly guidanceScale: number
  readonly width: number
  readonly height: number
  readonly images: number
  readonly batchSize: number
  /** Batches run one after the other when images > batch size. */
  readonly passes: number
}

export interface StageTimes {
  readonly textEncode: number
  readonly denoise: number
  readonly vae: number
  readonly safety: number
  readonly upload: number
}

export function roundUs(ms: number): number {
  return Math.round(ms * 1000) / 1000
}

export function drawRequestShape(rng: Rng, model: ModelProfile, gpu: GpuType): RequestShape {
  const [width, height] = rng.weighted(model.resolutions)
  const images = rng.weighted(model.images)
  const batchSize = Math.min(images, gpu.maxBatch)
  const [gLo, gHi] = model.guidance
  return {
    pipeline: rng.weighted(model.pipelines),
    sampler: rng.pick(model.samplers),
    steps: rng.weighted(model.steps),
    // Users pick guidance in steps of 0.5.
    guidanceScale: gHi === 0 ? 0 : Math.round(rng.uniform(gLo, gHi) * 2) / 2,
    width,
    height,
    images,
    batchSize,
    passes: Math.ceil(images / batchSize),
  }
}

/** Stage durations (ms) of a request served in full; one log-normal factor per stage. */
export function serviceTimeMs(rng: Rng, model: ModelProfile, gpu: GpuType, shape: RequestShape): StageTimes {
  const mp = (shape.width * shape.height) / 1e6
  const gpuNoise = rng.lognormal(0.08)
  const perStep = model.stepFixedMs + model.stepPerMpMs * Math.pow(mp, 1.15) * Math.pow(shape.batchSize, 0.92)
  const sqrtSlow = Math.sqrt(gpu.slowdown)
  // img2img and inpaint start from a partly noised image: fewer effective steps (strength ~0.75).
  const effectiveSteps = shape.pipeline === 'img2img' || shape.pipeline === 'inpaint' ? Math.ceil(shape.steps * 0.75) : shape.steps
  return {
    textEncode: roundUs(model.textEncodeMs * sqrtSlow * (1 + 0.08 * (shape.batchSize - 1)) * rng.lognormal(0.15)),
    denoise: roundUs(perStep * effectiveSteps * shape.passes * gpu.slowdown * gpuNoise),
    vae: roundUs(model.vaeMsPerMp * mp * shape.images * gpu.slowdown * gpuNoise * rng.lognormal(0.05)),
    safety: roundUs(model.safetyMsPerImage * shape.images * sqrtSlow * rng.lognormal(0.2)),
    // PNG of ~1.4 MB per megapixel to object storage; long tail.
    upload: roundUs(shape.images * (25 + 45 * mp) * rng.lognormal(0.45)),
  }
}

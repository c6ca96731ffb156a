/**
 * How a pipeline call that started ends: in full, or stopped inside one stage by an OOM (exactly
 * when the request needs more memory than the GPU has), a timeout (a call longer than the
 * inference timeout, or a random stall), or a random failure from the error catalog. The stages
 * that ran are returned with the cut stage shortened, so that they add up to the call's length.
 */
import type { ErrorType } from '../../schemas/generated/types.ts'
import { failureMessage, GPU_FAULT_XIDS, type RandomFailure } from './error-catalog.ts'
import { usableMemMb, type FleetConfig, type WorkerSpec } from './fleet-model.ts'
import type { Rng } from './prng.ts'
import { roundUs, type RequestShape, type StageTimes } from './request-shape.ts'

export interface Stages {
  textEncode: number | null
  denoise: number | null
  vae: number | null
  safety: number | null
}

/** The stages that ran when a call stops `cutMs` after inference start (cutMs an integer). */
export function cutStages(t: StageTimes, cutMs: number): Stages {
  const out: Stages = { textEncode: null, denoise: null, vae: null, safety: null }
  let used = 0
  const order = ['textEncode', 'denoise', 'vae', 'safety'] as const
  for (const key of order) {
    const full = t[key]
    if (used + full >= cutMs || key === 'safety') {
      out[key] = roundUs(Math.max(0, cutMs - used))
      return out
    }
    out[key] = full
    used += full
  }
  return out
}

export const NO_STAGES: Stages = Object.freeze({ textEncode: null, denoise: null, vae: null, safety: null })

export function sumStages(s: Stages): number {
  return (s.textEncode ?? 0) + (s.denoise ?? 0) + (s.vae ?? 0) + (s.safety ?? 0)
}

/** Denoising step reached `ms` after inference start, for error messages. */
function messageContext(shape: RequestShape, t: StageTimes, ms: number, limitMs: number) {
  const step = Math.max(1, Math.min(shape.steps, Math.ceil(((ms - t.textEncode) / t.denoise) * shape.steps)))
  return { step, steps: shape.steps, sampler: shape.sampler, limitMs }
}

export interface Outcome {
  stages: Stages
  errorType: ErrorType | null
  message: string | null
  upload: number | null
  xid: number | null
}

export function decideOutcome(
  rng: Rng,
  config: FleetConfig,
  worker: WorkerSpec,
  shape: RequestShape,
  t: StageTimes,
  requiredMb: number,
  failure: RandomFailure | null,
): Outcome {
  const gpu = worker.gpu
  const full: Stages = { textEncode: t.textEncode, denoise: t.denoise, vae: t.vae, safety: t.safety }
  const total = sumStages(full)

  if (requiredMb > usableMemMb(gpu)) {
    // Most OOMs strike at the first UNet forward pass, the rest in the VAE decode.
    const cut = rng.chance(0.6)
      ? Math.round(t.textEncode + Math.min(t.denoise, t.denoise / shape.steps) * rng.next())
      : Math.round(t.textEncode + t.denoise + t.vae * rng.next())
    const freeGiB = (usableMemMb(gpu) - requiredMb * 0.8) / 1024
    const message = `CUDA out of memory. Tried to allocate ${((requiredMb * 0.2) / 1024).toFixed(2)} GiB (GPU ${worker.gpuIndex}; ${(gpu.memTotalMb / 1024).toFixed(2)} GiB total capacity; ${Math.max(0.01, freeGiB).toFixed(2)} GiB free)`
    return { stages: cutStages(t, cut), errorType: 'oom', message, upload: null, xid: null }
  }
  if (failure?.point === 'stall' || total > config.inferenceTimeoutMs) {
    const cut = config.inferenceTimeoutMs
    const stages: Stages = total > cut ? cutStages(t, cut) : { textEncode: t.textEncode, denoise: roundUs(cut - t.textEncode), vae: null, safety: null }
    return { stages, errorType: 'timeout', message: failureMessage(rng, 'timeout', messageContext(shape, t, cut, config.inferenceTimeoutMs)), upload: null, xid: null }
  }
  if (failure === null) return { stages: full, errorType: null, message: null, upload: t.upload, xid: null }
  switch (failure.point) {
    case 'mid-inference': {
      const cut = Math.round(total * rng.next())
      if (failure.type === 'gpu_fault') {
        const fault = rng.pick(GPU_FAULT_XIDS)
        return { stages: cutStages(t, cut), errorType: 'gpu_fault', message: fault.message, upload: null, xid: fault.xid }
      }
      return { stages: cutStages(t, cut), errorType: failure.type, message: failureMessage(rng, failure.type, messageContext(shape, t, cut, config.inferenceTimeoutMs)), upload: null, xid: null }
    }
    case 'after-inference':
      return { stages: full, errorType: failure.type, message: failureMessage(rng, failure.type, messageContext(shape, t, total, config.inferenceTimeoutMs)), upload: null, xid: null }
    case 'upload':
      return { stages: full, errorType: failure.type, message: failureMessage(rng, failure.type, messageContext(shape, t, total, config.inferenceTimeoutMs)), upload: roundUs(t.upload * (1 + 2 * rng.next())), xid: null }
    default:
      throw new Error(`unexpected failure point ${failure.point}`)
  }
}

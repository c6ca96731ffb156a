/**
 * The random failures of a simulated request (rates per request that reaches a worker, before
 * `errorScale`), with the HTTP status and short message each one gets. OOM, inference timeouts
 * caused by heavy requests and queue timeouts are not drawn here: they follow from the memory
 * and queueing model.
 */
import type { ErrorType } from '../../schemas/generated/types.ts'
import type { Rng } from './prng.ts'

/** Where in serving a random failure strikes. */
export type FailurePoint = 'before-inference' | 'mid-inference' | 'after-inference' | 'upload' | 'stall'

export interface RandomFailure {
  readonly type: ErrorType
  readonly rate: number
  readonly point: FailurePoint
  readonly httpStatus: number
}

export const RANDOM_FAILURES: readonly RandomFailure[] = [
  { type: 'invalid_input', rate: 0.008, point: 'before-inference', httpStatus: 422 },
  { type: 'safety_blocked', rate: 0.012, point: 'after-inference', httpStatus: 400 },
  { type: 'model_error', rate: 0.004, point: 'mid-inference', httpStatus: 500 },
  { type: 'upstream', rate: 0.006, point: 'upload', httpStatus: 502 },
  { type: 'cancelled', rate: 0.005, point: 'mid-inference', httpStatus: 499 },
  { type: 'internal', rate: 0.001, point: 'mid-inference', httpStatus: 500 },
  { type: 'gpu_fault', rate: 0.0005, point: 'mid-inference', httpStatus: 500 },
  { type: 'timeout', rate: 0.001, point: 'stall', httpStatus: 504 },
]

/** Sum of the random failure rates at errorScale 1. */
export const RANDOM_FAILURE_RATE = RANDOM_FAILURES.reduce((sum, f) => sum + f.rate, 0)

export const HTTP_STATUS: Readonly<Record<ErrorType, number>> = {
  oom: 500,
  timeout: 504,
  queue_timeout: 503,
  invalid_input: 422,
  safety_blocked: 400,
  model_error: 500,
  upstream: 502,
  gpu_fault: 500,
  cancelled: 499,
  internal: 500,
}

/** Draws at most one random failure; u is one uniform draw. */
export function pickRandomFailure(u: number, errorScale: number): RandomFailure | null {
  let acc = 0
  for (const failure of RANDOM_FAILURES) {
    acc += failure.rate * errorScale
    if (u < acc) return failure
  }
  return null
}

const INVALID_INPUT = [
  'width and height must be multiples of 8',
  'prompt is empty after moderation preprocessing',
  'init_image could not be decoded (unsupported format)',
  'negative_prompt exceeds 1000 characters',
  'strength must be between 0 and 1',
]

const MODEL_ERRORS = [
  'NaN values in latents after step',
  'scheduler produced a non-finite sigma at step',
  'LoRA adapter weights incompatible with base model at step',
]

const INTERNAL = [
  "unhandled exception in worker: KeyError: 'latents'",
  'unhandled exception in worker: RuntimeError: pipeline callback failed',
]

export const GPU_FAULT_XIDS: readonly { xid: number; message: string }[] = [
  { xid: 13, message: 'CUDA error: an illegal memory access was encountered (Xid 13)' },
  { xid: 31, message: 'CUDA error: unspecified launch failure, GPU memory page fault (Xid 31)' },
  { xid: 48, message: 'uncorrectable ECC error, double-bit (Xid 48)' },
  { xid: 79, message: 'GPU has fallen off the bus (Xid 79)' },
]

export function failureMessage(
  rng: Rng,
  type: ErrorType,
  ctx: { step: number; steps: number; sampler: string; limitMs: number },
): string {
  switch (type) {
    case 'invalid_input':
      return `invalid input: ${rng.pick(INVALID_INPUT)}`
    case 'safety_blocked':
      return `output blocked by safety checker (nsfw score ${(0.82 + rng.next() * 0.17).toFixed(2)})`
    case 'model_error':
      return `${rng.pick(MODEL_ERRORS)} ${ctx.step}/${ctx.steps} (sampler ${ctx.sampler})`
    case 'upstream':
      return rng.chance(0.6)
        ? 'upload to object storage failed: 503 SlowDown after 3 attempts'
        : 'upload to object storage failed: ECONNRESET'
    case 'cancelled':
      return `client closed the connection at step ${ctx.step}/${ctx.steps}`
    case 'timeout':
      return `inference exceeded the ${ctx.limitMs} ms deadline at step ${ctx.step}/${ctx.steps}`
    case 'queue_timeout':
      return `request waited ${ctx.limitMs} ms in queue without a free worker`
    case 'internal':
      return rng.pick(INTERNAL)
    case 'oom':
    case 'gpu_fault':
      // Built by the caller, which knows the sizes and the Xid.
      return type
  }
}

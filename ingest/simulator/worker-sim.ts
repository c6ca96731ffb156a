/**
 * One worker serving its queue in arrival order (one GPU, one request at a time). Given an
 * arrival it decides the whole life of the request and returns its RequestEvent:
 *
 * - wait = max(arrival, worker free) - arrival; a wait above the queue timeout is answered 503
 *   queue_timeout at arrival + timeout, with no dequeue or inference timestamps, and takes no
 *   worker time;
 * - a cold start (model unloaded after idling, evicted, or after a GPU fault) loads the model
 *   between dequeue and inference start;
 * - inference_end - inference_start = round(text_encode + denoise + vae_decode + safety), the
 *   stages that ran (a failed call stops inside one stage); completed - inference_end =
 *   round(upload_ms) when an upload happened;
 * - an OOM happens exactly when requiredMemMb() exceeds usableMemMb() of the GPU.
 *
 * The upload runs after the GPU is released, so the worker is free at inference end.
 */
import type { ErrorType, RequestEvent } from '../../schemas/generated/types.ts'
import { CUDA_CONTEXT_MB, TENANTS } from './catalog.ts'
import { failureMessage, HTTP_STATUS, pickRandomFailure } from './error-catalog.ts'
import { requiredMemMb, usableMemMb, type FleetConfig, type WorkerSpec } from './fleet-model.ts'
import type { Rng } from './prng.ts'
import { drawRequestShape, roundUs, serviceTimeMs, type RequestShape } from './request-shape.ts'
import { decideOutcome, NO_STAGES, sumStages, type Stages } from './request-outcome.ts'
import { WorkerTimeline } from './worker-timeline.ts'

/** A worker process restarts this long after a GPU fault before it takes the next request. */
const RESTART_AFTER_FAULT_MS = 8000

export interface WorkerRuntime {
  readonly spec: WorkerSpec
  readonly timeline: WorkerTimeline
  freeAt: number
  modelLoaded: boolean
  /** Memory left in use while idle (MiB, context included). */
  idleMemMb: number
}

export function createWorkerRuntime(spec: WorkerSpec, startMs: number, idleUnloadMs: number): WorkerRuntime {
  // The fleet is already running when the simulation starts: models are loaded.
  const idleMemMb = CUDA_CONTEXT_MB + spec.model.weightsMb + 500
  return {
    spec,
    timeline: new WorkerTimeline(startMs, idleMemMb, idleUnloadMs),
    freeAt: startMs,
    modelLoaded: true,
    idleMemMb,
  }
}

/** The fields fixed when the request arrives. */
type RequestBase = Pick<
  RequestEvent,
  | 'event_id' | 'request_id' | 'trace_id' | 'tenant' | 'region' | 'deployment' | 'worker_id' | 'host' | 'gpu_uuid'
  | 'gpu_type' | 'model' | 'model_version' | 'pipeline' | 'sampler' | 'steps' | 'guidance_scale' | 'width' | 'height'
  | 'images' | 'batch_size' | 'prompt_hash'
>

export interface RequestIds {
  readonly promptPool: readonly string[]
}

/**
 * Serves one request arriving at `receivedAt` (integer epoch ms) and returns its event. Updates
 * the worker's free time, model state and GPU timeline.
 */
export function serveRequest(rng: Rng, config: FleetConfig, worker: WorkerRuntime, receivedAt: number, ids: RequestIds): RequestEvent {
  const spec = worker.spec
  const model = spec.model
  const shape = drawRequestShape(rng, model, spec.gpu)
  const base: RequestBase = {
    event_id: rng.uuid(),
    request_id: rng.uuid(),
    trace_id: rng.chance(0.7) ? rng.hex(16) : null,
    tenant: rng.weighted(TENANTS),
    region: spec.host.region,
    deployment: spec.deployment,
    worker_id: spec.id,
    host: spec.host.name,
    gpu_uuid: spec.gpuUuid,
    gpu_type: spec.gpu.type,
    model: model.name,
    model_version: model.version,
    pipeline: shape.pipeline,
    sampler: shape.sampler,
    steps: shape.steps,
    guidance_scale: shape.guidanceScale,
    width: shape.width,
    height: shape.height,
    images: shape.images,
    batch_size: shape.batchSize,
    prompt_hash: rng.chance(0.2) ? rng.pick(ids.promptPool) : rng.hex(8),
  }
  const dequeuedAt = Math.max(receivedAt, worker.freeAt)
  if (dequeuedAt - receivedAt > config.queueTimeoutMs) {
    const message = failureMessage(rng, 'queue_timeout', { step: 0, steps: shape.steps, sampler: shape.sampler, limitMs: config.queueTimeoutMs })
    return finish(base, {
      coldStart: false,
      modelLoadMs: null,
      receivedAt,
      dequeuedAt: null,
      inferenceStartAt: null,
      inferenceEndAt: null,
      completedAt: receivedAt + config.queueTimeoutMs,
      stages: NO_STAGES,
      upload: null,
      errorType: 'queue_timeout',
      message,
      peak: null,
    })
  }
  return serveDequeued(rng, config, worker, receivedAt, dequeuedAt, shape, base)
}

function serveDequeued(
  rng: Rng,
  config: FleetConfig,
  worker: WorkerRuntime,
  receivedAt: number,
  dequeuedAt: number,
  shape: RequestShape,
  base: RequestBase,
): RequestEvent {
  const spec = worker.spec
  const model = spec.model
  const idleSince = worker.freeAt
  const unloaded = !worker.modelLoaded || dequeuedAt - idleSince >= config.idleUnloadMs
  const coldStart = unloaded || rng.chance(config.coldStartProbability)
  const modelLoadMs = coldStart ? roundUs(model.loadMs * (1 + 0.1 * (spec.gpu.slowdown - 1)) * rng.lognormal(0.2)) : null
  const preMs = 2 + 6 * rng.next() + (shape.pipeline === 'txt2img' ? 0 : 12 * rng.next())
  const inferenceStartAt = dequeuedAt + Math.round((modelLoadMs ?? 0) + preMs)
  const loadedMemMb = CUDA_CONTEXT_MB + model.weightsMb + 500
  if (modelLoadMs !== null) {
    worker.timeline.add({ kind: 'load', start: dequeuedAt, end: dequeuedAt + Math.round(modelLoadMs), memMb: loadedMemMb, memAfterMb: loadedMemMb, xid: null })
    worker.idleMemMb = loadedMemMb
  }

  const failure = pickRandomFailure(rng.next(), config.errorScale)
  if (failure?.point === 'before-inference') {
    // invalid_input is found while preparing the inputs: no pipeline call.
    const completedAt = inferenceStartAt + 1
    worker.freeAt = completedAt
    worker.modelLoaded = true
    return finish(base, { coldStart, modelLoadMs, receivedAt, dequeuedAt, inferenceStartAt: null, inferenceEndAt: null, completedAt, stages: NO_STAGES, upload: null, errorType: failure.type, message: failureMessage(rng, failure.type, { step: 0, steps: shape.steps, sampler: shape.sampler, limitMs: 0 }), peak: null })
  }

  const times = serviceTimeMs(rng, model, spec.gpu, shape)
  const requiredMb = requiredMemMb(model, shape.width, shape.height, shape.batchSize)
  const outcome = decideOutcome(rng, config, spec, shape, times, requiredMb, failure)
  const inferenceEndAt = inferenceStartAt + Math.round(sumStages(outcome.stages))
  const completedAt = outcome.upload !== null ? inferenceEndAt + Math.round(outcome.upload) : inferenceEndAt + 1 + Math.floor(3 * rng.next())
  const peak = outcome.errorType === 'oom' ? Math.round(usableMemMb(spec.gpu) * (0.88 + 0.11 * rng.next())) : Math.round(requiredMb * (0.92 + 0.08 * rng.next()))

  const activation = Math.max(0, peak - model.weightsMb - 500)
  const fault = outcome.xid !== null
  const memAfterMb = fault ? CUDA_CONTEXT_MB : loadedMemMb + Math.round(0.35 * activation)
  worker.timeline.add({ kind: 'inference', start: inferenceStartAt, end: inferenceEndAt, memMb: Math.min(spec.gpu.memTotalMb, CUDA_CONTEXT_MB + peak * 1.04), memAfterMb, xid: outcome.xid })
  worker.freeAt = fault ? inferenceEndAt + RESTART_AFTER_FAULT_MS : inferenceEndAt
  worker.modelLoaded = !fault
  worker.idleMemMb = memAfterMb
  return finish(base, { coldStart, modelLoadMs, receivedAt, dequeuedAt, inferenceStartAt, inferenceEndAt, completedAt, stages: outcome.stages, upload: outcome.upload, errorType: outcome.errorType, message: outcome.message, peak })
}

interface Timing {
  coldStart: boolean
  modelLoadMs: number | null
  receivedAt: number
  dequeuedAt: number | null
  inferenceStartAt: number | null
  inferenceEndAt: number | null
  completedAt: number
  stages: Stages
  upload: number | null
  errorType: ErrorType | null
  message: string | null
  peak: number | null
}

// Every field listed in one literal (no spread): V8 keeps one hidden class for all events.
function finish(b: RequestBase, t: Timing): RequestEvent {
  return {
    event_id: b.event_id,
    request_id: b.request_id,
    trace_id: b.trace_id,
    tenant: b.tenant,
    region: b.region,
    deployment: b.deployment,
    worker_id: b.worker_id,
    host: b.host,
    gpu_uuid: b.gpu_uuid,
    gpu_type: b.gpu_type,
    model: b.model,
    model_version: b.model_version,
    pipeline: b.pipeline,
    sampler: b.sampler,
    steps: b.steps,
    guidance_scale: b.guidance_scale,
    width: b.width,
    height: b.height,
    images: b.images,
    batch_size: b.batch_size,
    prompt_hash: b.prompt_hash,
    cold_start: t.coldStart,
    model_load_ms: t.modelLoadMs,
    received_at: t.receivedAt,
    dequeued_at: t.dequeuedAt,
    inference_start_at: t.inferenceStartAt,
    inference_end_at: t.inferenceEndAt,
    completed_at: t.completedAt,
    text_encode_ms: t.stages.textEncode,
    denoise_ms: t.stages.denoise,
    vae_decode_ms: t.stages.vae,
    safety_ms: t.stages.safety,
    upload_ms: t.upload,
    status: t.errorType === null ? 'ok' : 'error',
    error_type: t.errorType,
    error_message: t.message,
    http_status: t.errorType === null ? 200 : HTTP_STATUS[t.errorType],
    peak_gpu_mem_mb: t.peak,
    // v2 fields the fleet model does not simulate yet: their schema defaults
    lora_adapters: [],
    seed: null,
    precision: null,
    queue_depth: null,
  }
}

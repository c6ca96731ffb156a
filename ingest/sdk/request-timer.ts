/**
 * Per-request timing helper of the worker SDK. Guarantees: timestamps (`*_at`) are wall-clock
 * epoch ms (Date.now) as the contract asks; stage durations come from the monotonic clock
 * (performance.now), so an NTP step cannot make a stage negative; a request is finished once
 * (complete or fail) and a second finish is ignored; nothing here throws into the worker.
 */
import { performance } from 'node:perf_hooks'
import { randomUUID } from 'node:crypto'
import type { ErrorType, RequestEventInput } from '../../schemas/generated/types.ts'

/** Fields a worker knows when the request arrives; timing and outcome fields are the timer's job. */
export type RequestStart = Omit<
  RequestEventInput,
  'event_id' | 'received_at' | 'dequeued_at' | 'inference_start_at' | 'inference_end_at' | 'completed_at' | 'status' | 'error_type' | 'error_message' | StageField
> & { readonly event_id?: string; readonly received_at?: number }

export type Mark = 'received' | 'dequeued' | 'inferenceStart' | 'inferenceEnd'
export type Stage = 'text_encode' | 'denoise' | 'vae_decode' | 'safety' | 'upload'
type StageField = `${Stage}_ms`

/** Fields known only at the end, e.g. peak memory or the HTTP status answered. */
export type RequestExtras = Partial<Pick<RequestEventInput, 'http_status' | 'peak_gpu_mem_mb' | 'images' | 'seed' | 'model_load_ms' | 'cold_start' | 'lora_adapters' | 'precision' | 'queue_depth'>>

const MARK_FIELDS: Record<Mark, 'received_at' | 'dequeued_at' | 'inference_start_at' | 'inference_end_at'> = {
  received: 'received_at',
  dequeued: 'dequeued_at',
  inferenceStart: 'inference_start_at',
  inferenceEnd: 'inference_end_at',
}
const STAGE_FIELDS: Record<Stage, StageField> = {
  text_encode: 'text_encode_ms',
  denoise: 'denoise_ms',
  vae_decode: 'vae_decode_ms',
  safety: 'safety_ms',
  upload: 'upload_ms',
}
const MAX_ERROR_MESSAGE = 512

export interface RequestTimer {
  /** Records a wall-clock mark (default: now). */
  mark(mark: Mark, atMs?: number): void
  /** Records a stage duration measured elsewhere (ms). */
  stage(stage: Stage, ms: number): void
  /** Starts a stage on the monotonic clock; call the returned function when it ends. */
  startStage(stage: Stage): () => void
  /** Success: stamps completed_at and hands the event to the SDK. False when not accepted. */
  complete(extras?: RequestExtras): boolean
  /** Failure with the closed error taxonomy; the message is truncated to 512 characters. */
  fail(errorType: ErrorType, message: string, extras?: RequestExtras): boolean
}

/**
 * One request's event under construction. A class, not closures: a worker creates one per
 * request, and per-instance closures (six per request) were the largest share of the SDK's
 * caller-side cost after the Avro encode. The event object is owned by the timer and handed to
 * the SDK once; it is not touched afterwards.
 */
class Timer implements RequestTimer {
  private finished = false
  private readonly event: Record<string, unknown>

  constructor(start: RequestStart, private readonly submit: (event: RequestEventInput) => boolean) {
    const event: Record<string, unknown> = Object.assign({}, start)
    if (event.event_id === undefined) event.event_id = randomUUID()
    if (event.received_at === undefined) event.received_at = Date.now()
    this.event = event
  }

  mark(mark: Mark, atMs = Date.now()): void {
    this.event[MARK_FIELDS[mark]] = atMs
  }

  stage(stage: Stage, ms: number): void {
    this.event[STAGE_FIELDS[stage]] = ms
  }

  startStage(stage: Stage): () => void {
    const t0 = performance.now()
    return () => {
      this.event[STAGE_FIELDS[stage]] = performance.now() - t0
    }
  }

  complete(extras?: RequestExtras): boolean {
    return this.finish('ok', null, null, extras)
  }

  fail(errorType: ErrorType, message: string, extras?: RequestExtras): boolean {
    return this.finish('error', errorType, String(message).slice(0, MAX_ERROR_MESSAGE), extras)
  }

  private finish(status: string, errorType: ErrorType | null, message: string | null, extras: RequestExtras | undefined): boolean {
    if (this.finished) return false
    this.finished = true
    const event = this.event
    if (extras !== undefined) Object.assign(event, extras)
    event.status = status
    event.error_type = errorType
    event.error_message = message
    event.completed_at = Date.now()
    return this.submit(event as unknown as RequestEventInput)
  }
}

export function createRequestTimer(start: RequestStart, submit: (event: RequestEventInput) => boolean): RequestTimer {
  return new Timer(start, submit)
}

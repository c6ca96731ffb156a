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

export function createRequestTimer(start: RequestStart, submit: (event: RequestEventInput) => boolean): RequestTimer {
  const { event_id: eventId, received_at: receivedAt, ...fields } = start
  const event: Record<string, unknown> = { ...fields, event_id: eventId ?? randomUUID(), received_at: receivedAt ?? Date.now() }
  let finished = false
  const finish = (outcome: Record<string, unknown>, extras: RequestExtras | undefined): boolean => {
    if (finished) return false
    finished = true
    Object.assign(event, extras, outcome, { completed_at: Date.now() })
    return submit(event as unknown as RequestEventInput)
  }
  return {
    mark(mark, atMs = Date.now()) {
      event[MARK_FIELDS[mark]] = atMs
    },
    stage(stage, ms) {
      event[`${stage}_ms`] = ms
    },
    startStage(stage) {
      const t0 = performance.now()
      return () => {
        event[`${stage}_ms`] = performance.now() - t0
      }
    },
    complete: (extras) => finish({ status: 'ok', error_type: null, error_message: null }, extras),
    fail: (errorType, message, extras) =>
      finish({ status: 'error', error_type: errorType, error_message: String(message).slice(0, MAX_ERROR_MESSAGE) }, extras),
  }
}

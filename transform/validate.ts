/**
 * Semantic validation of decoded events: what Avro cannot say. A failing event is a permanent
 * error (dead letter with the reason), never an exception. Bounds are deliberately wide: they
 * reject impossible data (negative durations, time running backwards, NaN, clocks decades off),
 * not unusual but real data.
 */
import type { GpuSample, RequestEvent } from '../schemas/generated/types.ts'

export type Invalid = { code: string; reason: string }

/** Event times before this are absurd for a telemetry stream (2015-01-01). */
const MIN_EVENT_MS = 1_420_070_400_000
const MAX_DURATION_MS = 24 * 3_600_000

export type TimeBounds = { messageTimestampMs: number; futureToleranceMs: number }

function bad(code: string, reason: string): Invalid {
  return { code, reason }
}

function checkEventTime(field: string, ms: number, bounds: TimeBounds): Invalid | null {
  if (!Number.isFinite(ms)) return bad('TRF_INVALID_TIMESTAMP', `${field} is not a finite number`)
  if (ms < MIN_EVENT_MS) return bad('TRF_INVALID_TIMESTAMP', `${field}=${ms} is before 2015-01-01; expected epoch milliseconds`)
  if (ms > bounds.messageTimestampMs + bounds.futureToleranceMs) {
    return bad('TRF_FUTURE_EVENT', `${field}=${new Date(ms).toISOString()} is ${Math.round((ms - bounds.messageTimestampMs) / 1000)} s after the message's Kafka timestamp (tolerance ${bounds.futureToleranceMs / 1000} s)`)
  }
  return null
}

function checkNumbers(record: Record<string, unknown>, fields: readonly string[], min: number, max: number): Invalid | null {
  for (const field of fields) {
    const v = record[field]
    if (v === null || v === undefined) continue
    if (typeof v !== 'number' || !Number.isFinite(v)) return bad('TRF_INVALID_NUMBER', `${field} is ${String(v)}, expected a finite number`)
    if (v < min || v > max) return bad('TRF_OUT_OF_RANGE', `${field}=${v} is outside [${min}, ${max}]`)
  }
  return null
}

const REQUEST_DURATIONS = ['model_load_ms', 'text_encode_ms', 'denoise_ms', 'vae_decode_ms', 'safety_ms', 'upload_ms'] as const
const REQUEST_TIMELINE = ['received_at', 'dequeued_at', 'inference_start_at', 'inference_end_at', 'completed_at'] as const

export function validateRequestEvent(e: RequestEvent, bounds: TimeBounds): Invalid | null {
  const rec = e as unknown as Record<string, unknown>
  const t = checkEventTime('completed_at', e.completed_at, bounds) ?? checkEventTime('received_at', e.received_at, bounds)
  if (t) return t
  let previous: { field: string; ms: number } | null = null
  for (const field of REQUEST_TIMELINE) {
    const ms = rec[field]
    if (ms === null || ms === undefined) continue
    if (typeof ms !== 'number' || !Number.isFinite(ms)) return bad('TRF_INVALID_TIMESTAMP', `${field} is not a finite number`)
    if (previous && ms < previous.ms) return bad('TRF_TIME_ORDER', `${field} (${ms}) is before ${previous.field} (${previous.ms})`)
    previous = { field, ms }
  }
  if (e.completed_at - e.received_at > MAX_DURATION_MS) return bad('TRF_OUT_OF_RANGE', `request took ${e.completed_at - e.received_at} ms, more than 24 h`)
  const n = checkNumbers(rec, REQUEST_DURATIONS, 0, MAX_DURATION_MS)
    ?? checkNumbers(rec, ['steps'], 0, 10_000)
    ?? checkNumbers(rec, ['width', 'height'], 1, 65_536)
    ?? checkNumbers(rec, ['images', 'batch_size'], 0, 1_024)
    ?? checkNumbers(rec, ['guidance_scale'], -1_000, 1_000)
    ?? checkNumbers(rec, ['peak_gpu_mem_mb'], 0, 10_000_000)
    ?? checkNumbers(rec, ['http_status'], 100, 599)
  if (n) return n
  if (e.event_id.length === 0) return bad('TRF_MISSING_FIELD', 'event_id is empty')
  if (e.status === 'error' && e.error_type === null) return bad('TRF_INCONSISTENT', 'status is error but error_type is null')
  if (e.status === 'ok' && e.error_type !== null) return bad('TRF_INCONSISTENT', `status is ok but error_type is ${e.error_type}`)
  return null
}

const GPU_PERCENTS = ['util_gpu_pct', 'util_mem_pct', 'host_cpu_pct'] as const
const GPU_NON_NEGATIVE = ['mem_used_mb', 'mem_total_mb', 'power_w', 'power_limit_w', 'sm_clock_mhz', 'ecc_uncorrected', 'host_mem_used_mb', 'host_mem_total_mb'] as const

export function validateGpuSample(s: GpuSample, bounds: TimeBounds): Invalid | null {
  const rec = s as unknown as Record<string, unknown>
  return checkEventTime('sampled_at', s.sampled_at, bounds)
    ?? checkNumbers(rec, GPU_PERCENTS, 0, 100)
    ?? checkNumbers(rec, GPU_NON_NEGATIVE, 0, Number.MAX_SAFE_INTEGER)
    ?? checkNumbers(rec, ['temperature_c'], -50, 200)
    ?? checkNumbers(rec, ['gpu_index'], 0, 1_024)
    ?? (s.gpu_uuid.length === 0 ? bad('TRF_MISSING_FIELD', 'gpu_uuid is empty') : null)
}

/** Longest identifier-like string (model, tenant, worker, host...); error_message may be longer. */
export const MAX_FIELD_CHARS = 1_024
export const MAX_MESSAGE_FIELD_CHARS = 65_536
/** A message at most this long cannot hold a string over MAX_FIELD_CHARS: no need to look. */
export const FIELD_SIZE_CHECK_MIN_BYTES = MAX_FIELD_CHARS

/**
 * Strings longer than any real value of their field (a 256 KiB model name is a producer bug or
 * an attack, and would be stored in every raw row and window key). Arrays of strings
 * (lora_adapters, throttle_reasons) are checked item by item.
 */
export function checkFieldSizes(record: Record<string, unknown>): Invalid | null {
  for (const field in record) {
    const value = record[field]
    const limit = field === 'error_message' ? MAX_MESSAGE_FIELD_CHARS : MAX_FIELD_CHARS
    if (typeof value === 'string') {
      if (value.length > limit) return bad('TRF_OVERSIZED_FIELD', `${field} is ${value.length} characters long, more than ${limit}`)
    } else if (Array.isArray(value)) {
      for (const item of value) {
        if (typeof item === 'string' && item.length > limit) return bad('TRF_OVERSIZED_FIELD', `an item of ${field} is ${item.length} characters long, more than ${limit}`)
      }
    }
  }
  return null
}

/**
 * Value readers for imported log records: each one turns what serving frameworks write (numbers
 * as strings, epoch seconds / ms / µs, ISO dates, "OK" / true / 200 for success) into the
 * contract's types, or says precisely why it cannot. They never throw.
 */
import type { ErrorType, PipelineKind, RequestStatus } from '../../schemas/generated/types.ts'

export type Read<T> = { ok: true; value: T } | { ok: false; problem: string }

const ok = <T>(value: T): Read<T> => ({ ok: true, value })
const bad = <T>(problem: string): Read<T> => ({ ok: false, problem })

/** Epoch ms from epoch s / ms / µs numbers (told apart by magnitude) or an ISO-8601 string. */
export function readTimestamp(v: unknown): Read<number> {
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return readTimestamp(Number(v))
  if (typeof v === 'number' && Number.isFinite(v) && v > 0) {
    // 1e11 ms is 1973 and 1e11 s is year 5138: magnitudes of the three units never overlap.
    if (v >= 1e14) return ok(Math.round(v / 1000))
    if (v >= 1e11) return ok(Math.round(v))
    return ok(Math.round(v * 1000))
  }
  if (typeof v === 'string') {
    const ms = Date.parse(v)
    if (Number.isFinite(ms)) return ok(ms)
  }
  return bad(`not a timestamp: ${short(v)}`)
}

export function readNumber(v: unknown): Read<number> {
  if (typeof v === 'number' && Number.isFinite(v)) return ok(v)
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return ok(Number(v))
  return bad(`not a number: ${short(v)}`)
}

export function readInt(v: unknown): Read<number> {
  const n = readNumber(v)
  if (!n.ok) return n
  return Number.isInteger(n.value) && Math.abs(n.value) <= 2_147_483_647 ? n : bad(`not a 32-bit integer: ${short(v)}`)
}

export function readString(v: unknown): Read<string> {
  if (typeof v === 'string') return ok(v)
  if (typeof v === 'number' || typeof v === 'bigint') return ok(String(v))
  return bad(`not a string: ${short(v)}`)
}

export function readBoolean(v: unknown): Read<boolean> {
  if (typeof v === 'boolean') return ok(v)
  if (v === 1 || v === 'true' || v === '1' || v === 'yes') return ok(true)
  if (v === 0 || v === 'false' || v === '0' || v === 'no') return ok(false)
  return bad(`not a boolean: ${short(v)}`)
}

const OK_WORDS = new Set(['ok', 'success', 'succeeded', 'successful', 'completed', 'complete', 'done', 'finished'])
const ERROR_WORDS = new Set(['error', 'failed', 'failure', 'fail', 'errored', 'exception', 'rejected', 'cancelled', 'canceled', 'timeout', 'timed_out'])

/** "ok"/"success"/true/2xx-3xx → ok; "error"/"failed"/false/≥400 → error. */
export function readStatus(v: unknown): Read<RequestStatus> {
  if (typeof v === 'boolean') return ok(v ? 'ok' : 'error')
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{3}$/.test(v.trim()) ? Number(v) : null
  if (n !== null) return n >= 100 && n < 400 ? ok('ok') : n >= 400 && n < 600 ? ok('error') : bad(`not a status: ${short(v)}`)
  if (typeof v === 'string') {
    const w = v.trim().toLowerCase()
    if (OK_WORDS.has(w)) return ok('ok')
    if (ERROR_WORDS.has(w)) return ok('error')
  }
  return bad(`not a status: ${short(v)}`)
}

/** Synonyms of the closed error taxonomy, matched on the lower-cased, trimmed value. */
const ERROR_SYNONYMS: ReadonlyArray<readonly [RegExp, ErrorType]> = [
  [/^oom$|out_?of_?memory|cuda_?oom/, 'oom'],
  [/^(queue_timeout|rejected|overloaded|queue_full|too_many_requests)$/, 'queue_timeout'],
  [/^(timeout|timed_?out|deadline_exceeded|inference_timeout)$/, 'timeout'],
  [/^(invalid_input|bad_request|validation_error|invalid_request|invalid_argument)$/, 'invalid_input'],
  [/^(safety_blocked|nsfw|safety|content_filtered|blocked)$/, 'safety_blocked'],
  [/^(model_error|nan|model_failure|pipeline_error)$/, 'model_error'],
  [/^(upstream|storage|storage_error|upload_failed|s3_error|downstream)$/, 'upstream'],
  [/^(gpu_fault|xid|gpu_error|ecc_error|cuda_error)$/, 'gpu_fault'],
  [/^(cancelled|canceled|client_closed|aborted)$/, 'cancelled'],
  [/^(internal|internal_error|unknown|exception)$/, 'internal'],
]

/** An error type of the taxonomy, from its name or a common synonym; anything else is internal. */
export function readErrorType(v: unknown): ErrorType {
  if (typeof v !== 'string') return 'internal'
  const w = v.trim().toLowerCase().replace(/[\s-]+/g, '_')
  for (const [pattern, type] of ERROR_SYNONYMS) if (pattern.test(w)) return type
  return 'internal'
}

/** What the HTTP status alone says about a failure (used when the log names no error type). */
export function errorTypeFromHttp(status: number | null): ErrorType {
  if (status === 503 || status === 429) return 'queue_timeout'
  if (status === 504 || status === 408) return 'timeout'
  if (status === 499) return 'cancelled'
  if (status !== null && status >= 400 && status < 500) return 'invalid_input'
  return 'internal'
}

export function readPipeline(v: unknown): PipelineKind {
  if (typeof v !== 'string') return 'other'
  const w = v.trim().toLowerCase().replace(/[\s_-]+/g, '')
  if (['txt2img', 'text2img', 'texttoimage', 't2i'].includes(w)) return 'txt2img'
  if (['img2img', 'image2image', 'imagetoimage', 'i2i'].includes(w)) return 'img2img'
  if (['inpaint', 'inpainting', 'outpaint', 'outpainting'].includes(w)) return 'inpaint'
  if (['upscale', 'upscaler', 'upscaling', 'superresolution', 'sr', 'hires'].includes(w)) return 'upscale'
  return 'other'
}

/** "1024x768" / "1024*768" → [1024, 768]. */
export function readSize(v: unknown): Read<[number, number]> {
  if (typeof v === 'string') {
    const m = /^\s*(\d{1,6})\s*[x*×,]\s*(\d{1,6})\s*$/i.exec(v)
    if (m) return ok([Number(m[1]), Number(m[2])])
  }
  if (Array.isArray(v) && v.length === 2 && v.every((x) => Number.isInteger(x))) return ok([v[0] as number, v[1] as number])
  return bad(`not a WxH size: ${short(v)}`)
}

const SEED_RANGE = 2n ** 53n

/** A non-negative integer seed, reduced modulo 2^53 (the contract's float64-safe range); -1 (random) → null. */
export function readSeed(v: unknown): Read<number | null> {
  if (v === -1 || v === '-1') return ok(null)
  let big: bigint | null = null
  if (typeof v === 'string' && /^\d+$/.test(v.trim())) big = BigInt(v.trim())
  else if (typeof v === 'number' && Number.isInteger(v) && v >= 0) big = BigInt(v)
  return big === null ? bad(`not a seed: ${short(v)}`) : ok(Number(big % SEED_RANGE))
}

/** LoRA names: an array of names (or of objects with a name), or one comma-separated string. */
export function readLoras(v: unknown): Read<string[]> {
  if (typeof v === 'string') return ok(v.split(',').map((s) => s.trim()).filter((s) => s !== ''))
  if (Array.isArray(v)) {
    const names = v.map((x) => (typeof x === 'string' ? x : x !== null && typeof x === 'object' && typeof (x as { name?: unknown }).name === 'string' ? (x as { name: string }).name : null))
    if (names.every((n) => n !== null)) return ok(names as string[])
  }
  return bad(`not a list of adapter names: ${short(v)}`)
}

export function short(v: unknown): string {
  const s = v === undefined ? 'undefined' : JSON.stringify(v) ?? String(v)
  return s.length > 60 ? `${s.slice(0, 57)}...` : s
}

/**
 * From one JSON log record to a RequestEvent, or a rejection with a stable reason.
 *
 * Guarantees:
 * - each contract field is read from the first of its source names (MAPPING below, also in
 *   docs/import.md) present in the record; dotted names reach into nested objects;
 * - a record lacking what no default can stand for (request id, completion time, model, status,
 *   some duration) is rejected with a reason code, never guessed;
 * - the prompt is never carried: a `prompt` field only yields `prompt_hash`;
 * - `event_id` is the record's own UUID when it has one, otherwise a name-based UUID of the
 *   record's content (event-id.ts), so importing the same record again gives the same id.
 */
import { createHash } from 'node:crypto'
import type { RequestEvent } from '../../schemas/generated/types.ts'
import { eventIdFor, isUuid } from './event-id.ts'
import {
  errorTypeFromHttp,
  readBoolean,
  readErrorType,
  readInt,
  readLoras,
  readSeed,
  readNumber,
  readPipeline,
  readSize,
  readStatus,
  readString,
  readTimestamp,
  type Read,
} from './field-values.ts'

/** Contract field (or helper input) → source names tried in order. */
export const MAPPING = {
  event_id: ['event_id', 'eventId'],
  request_id: ['request_id', 'requestId', 'req_id', 'job_id', 'jobId', 'prompt_id', 'task_id', 'id'],
  trace_id: ['trace_id', 'traceId', 'trace.id'],
  tenant: ['tenant', 'tenant_id', 'customer', 'team', 'org_id', 'account'],
  region: ['region', 'zone', 'datacenter', 'dc'],
  deployment: ['deployment', 'service', 'app', 'endpoint'],
  worker_id: ['worker_id', 'workerId', 'worker', 'instance_id', 'pod', 'pod_name'],
  host: ['host', 'hostname', 'node', 'node_name'],
  gpu_uuid: ['gpu_uuid', 'gpuUuid', 'gpu_id'],
  gpu_type: ['gpu_type', 'gpu', 'gpu_name', 'device_name'],
  model: ['model', 'model_name', 'modelName', 'model_id', 'checkpoint', 'params.model', 'parameters.model'],
  model_version: ['model_version', 'model_hash', 'checkpoint_hash', 'revision', 'sd_model_hash'],
  pipeline: ['pipeline', 'pipeline_kind', 'task', 'mode', 'type'],
  sampler: ['sampler', 'sampler_name', 'scheduler', 'params.sampler', 'parameters.sampler_name'],
  steps: ['steps', 'num_inference_steps', 'num_steps', 'params.steps', 'parameters.steps'],
  guidance_scale: ['cfg_scale', 'guidance_scale', 'cfg', 'params.cfg_scale', 'parameters.cfg_scale', 'parameters.guidance_scale'],
  width: ['width', 'params.width', 'parameters.width'],
  height: ['height', 'params.height', 'parameters.height'],
  size: ['size', 'resolution'],
  images: ['images', 'num_images', 'n', 'num_images_per_prompt', 'n_iter', 'image_count'],
  batch_size: ['batch_size', 'batchSize', 'params.batch_size', 'parameters.batch_size'],
  prompt_hash: ['prompt_hash', 'promptHash'],
  prompt: ['prompt', 'params.prompt', 'parameters.prompt'],
  cold_start: ['cold_start', 'coldStart', 'model_loaded'],
  model_load_ms: ['model_load_ms', 'load_time_ms', 'model_load_time_ms'],
  completed_at: ['completed_at', 'timestamp', 'ts', 'time', '@timestamp', 'end_time', 'finished_at', 'completedAt'],
  received_at: ['received_at', 'created_at', 'queued_at', 'submitted_at', 'start_time', 'receivedAt'],
  dequeued_at: ['dequeued_at', 'started_at', 'picked_at'],
  inference_start_at: ['inference_start_at', 'inference_started_at'],
  inference_end_at: ['inference_end_at', 'inference_ended_at'],
  total_ms: ['latency_ms', 'duration_ms', 'total_time_ms', 'e2e_ms', 'elapsed_ms', 'total_ms'],
  inference_ms: ['inference_time_ms', 'inference_ms', 'generation_time_ms', 'gen_time_ms'],
  text_encode_ms: ['text_encode_ms', 'encode_ms'],
  denoise_ms: ['denoise_ms', 'unet_ms', 'denoising_ms'],
  vae_decode_ms: ['vae_decode_ms', 'vae_ms', 'decode_ms'],
  safety_ms: ['safety_ms', 'safety_checker_ms', 'nsfw_check_ms'],
  upload_ms: ['upload_ms', 'storage_ms'],
  status: ['status', 'outcome', 'success'],
  error_type: ['error_type', 'error_kind', 'error_code', 'errorType', 'error.type'],
  error_message: ['error_message', 'error', 'errorMessage', 'error.message', 'exception'],
  http_status: ['http_status', 'status_code', 'http_code', 'response_code'],
  peak_gpu_mem_mb: ['peak_gpu_memory_mb', 'peak_gpu_mem_mb', 'peak_vram_mb', 'max_memory_allocated_mb', 'gpu_mem_peak_mb'],
  peak_gpu_mem_bytes: ['peak_gpu_memory_bytes', 'max_memory_allocated', 'peak_vram_bytes'],
  lora_adapters: ['lora_adapters', 'loras', 'lora', 'adapters', 'params.loras', 'parameters.loras'],
  seed: ['seed', 'params.seed', 'parameters.seed'],
  precision: ['precision', 'dtype', 'torch_dtype'],
  queue_depth: ['queue_depth', 'queue_size', 'queue_length', 'queue_position'],
} as const satisfies Record<string, readonly string[]>

/** Values given to fields the record does not name (none of them required). */
export const DEFAULTS = { tenant: 'default', region: 'unknown', deployment: 'import', worker_id: 'import', host: 'unknown', gpu_uuid: '', gpu_type: 'unknown', model_version: '', sampler: 'unknown' } as const

export type RejectReason =
  | 'not_an_object'
  | 'missing_request_id'
  | 'missing_completed_at'
  | 'missing_model'
  | 'missing_status'
  | 'missing_duration'
  | 'bad_value'
  | 'time_order'

export type MapResult = { ok: true; event: RequestEvent } | { ok: false; reason: RejectReason; detail: string }

type Rec = Record<string, unknown>
type Field = keyof typeof MAPPING

/** MAPPING with the dotted names split once: ~40 % of an import's CPU went to splitting them per record. */
const SOURCES = {} as Record<Field, readonly { name: string; path: readonly string[] | null }[]>
for (const field of Object.keys(MAPPING) as Field[]) {
  SOURCES[field] = MAPPING[field].map((name: string) => ({ name, path: name.includes('.') ? name.split('.') : null }))
}

function lookup(rec: Rec, field: Field): unknown {
  for (const { name, path } of SOURCES[field]) {
    let v: unknown
    if (path !== null && !Object.hasOwn(rec, name)) {
      v = rec
      for (const part of path) v = v !== null && typeof v === 'object' ? (v as Rec)[part] : undefined
    } else v = rec[name]
    if (v !== undefined && v !== null && v !== '') return v
  }
  return undefined
}

class BadValue extends Error {}

/** Reads an optional field; a present but unreadable value rejects the record. */
function opt<T>(rec: Rec, field: Field, reader: (v: unknown) => Read<T>): T | null {
  const v = lookup(rec, field)
  if (v === undefined) return null
  const r = reader(v)
  if (!r.ok) throw new BadValue(`${field}: ${r.problem}`)
  return r.value
}

const reject = (reason: RejectReason, detail: string): MapResult => ({ ok: false, reason, detail })

export function mapRecord(raw: unknown): MapResult {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return reject('not_an_object', `record is ${Array.isArray(raw) ? 'an array' : typeof raw}`)
  const rec = raw as Rec
  try {
    return mapObject(rec)
  } catch (err) {
    if (err instanceof BadValue) return reject('bad_value', err.message)
    throw err
  }
}

type Timing = { receivedAt: number; dequeuedAt: number | null; inferenceStart: number | null; inferenceEnd: number | null }

/** The request's instants, from the record's own or from the durations it gives. */
function timing(rec: Rec, completedAt: number): Timing | { reason: RejectReason; detail: string } {
  const inferenceMs = opt(rec, 'inference_ms', readNumber)
  const totalMs = opt(rec, 'total_ms', readNumber)
  let inferenceEnd = opt(rec, 'inference_end_at', readTimestamp)
  let inferenceStart = opt(rec, 'inference_start_at', readTimestamp)
  if (inferenceStart === null && inferenceMs !== null) {
    // Logs that give only the generation time end it at completion: the upload is not known.
    inferenceEnd ??= completedAt
    inferenceStart = Math.round(inferenceEnd - inferenceMs)
  }
  const dequeuedAt = opt(rec, 'dequeued_at', readTimestamp)
  // Without a receive time the earliest known instant stands in: queue time is then unknown (0).
  const receivedAt = opt(rec, 'received_at', readTimestamp) ?? (totalMs !== null ? Math.round(completedAt - totalMs) : (dequeuedAt ?? inferenceStart))
  if (receivedAt === null) return { reason: 'missing_duration', detail: `none of ${[...MAPPING.received_at, ...MAPPING.total_ms, ...MAPPING.inference_ms].join(', ')}` }
  if (receivedAt > completedAt) return { reason: 'time_order', detail: `received ${new Date(receivedAt).toISOString()} after completed ${new Date(completedAt).toISOString()}` }
  return { receivedAt, dequeuedAt, inferenceStart, inferenceEnd }
}

function mapObject(rec: Rec): MapResult {
  const requestId = opt(rec, 'request_id', readString)
  if (requestId === null) return reject('missing_request_id', `none of ${MAPPING.request_id.join(', ')}`)
  const completedAt = opt(rec, 'completed_at', readTimestamp)
  if (completedAt === null) return reject('missing_completed_at', `none of ${MAPPING.completed_at.join(', ')}`)
  const model = opt(rec, 'model', readString)
  if (model === null) return reject('missing_model', `none of ${MAPPING.model.join(', ')}`)
  const httpStatus = opt(rec, 'http_status', readInt)
  const status = opt(rec, 'status', readStatus) ?? (httpStatus !== null ? (httpStatus < 400 ? 'ok' : 'error') : null)
  if (status === null) return reject('missing_status', `none of ${MAPPING.status.join(', ')}, ${MAPPING.http_status.join(', ')}`)

  const t = timing(rec, completedAt)
  if ('reason' in t) return reject(t.reason, t.detail)

  const size = opt(rec, 'size', readSize)
  const images = opt(rec, 'images', readInt) ?? 1
  const prompt = opt(rec, 'prompt', readString)
  const peakBytes = opt(rec, 'peak_gpu_mem_bytes', readNumber)
  const errorTypeRaw = lookup(rec, 'error_type')
  const errorMessage = opt(rec, 'error_message', (v) => (typeof v === 'object' ? { ok: true as const, value: JSON.stringify(v) } : readString(v)))
  const event: RequestEvent = {
    event_id: '',
    request_id: requestId,
    trace_id: opt(rec, 'trace_id', readString),
    tenant: opt(rec, 'tenant', readString) ?? DEFAULTS.tenant,
    region: opt(rec, 'region', readString) ?? DEFAULTS.region,
    deployment: opt(rec, 'deployment', readString) ?? DEFAULTS.deployment,
    worker_id: opt(rec, 'worker_id', readString) ?? DEFAULTS.worker_id,
    host: opt(rec, 'host', readString) ?? DEFAULTS.host,
    gpu_uuid: opt(rec, 'gpu_uuid', readString) ?? DEFAULTS.gpu_uuid,
    gpu_type: opt(rec, 'gpu_type', readString) ?? DEFAULTS.gpu_type,
    model,
    model_version: opt(rec, 'model_version', readString) ?? DEFAULTS.model_version,
    pipeline: readPipeline(lookup(rec, 'pipeline')),
    sampler: opt(rec, 'sampler', readString) ?? DEFAULTS.sampler,
    steps: opt(rec, 'steps', readInt) ?? 0,
    guidance_scale: Math.fround(opt(rec, 'guidance_scale', readNumber) ?? 0),
    width: opt(rec, 'width', readInt) ?? size?.[0] ?? 0,
    height: opt(rec, 'height', readInt) ?? size?.[1] ?? 0,
    images,
    batch_size: opt(rec, 'batch_size', readInt) ?? images,
    prompt_hash: opt(rec, 'prompt_hash', readString) ?? (prompt !== null ? createHash('sha256').update(prompt).digest('hex').slice(0, 16) : null),
    cold_start: opt(rec, 'cold_start', readBoolean) ?? false,
    model_load_ms: opt(rec, 'model_load_ms', readNumber),
    received_at: t.receivedAt,
    dequeued_at: t.dequeuedAt,
    inference_start_at: t.inferenceStart,
    inference_end_at: t.inferenceEnd,
    completed_at: completedAt,
    text_encode_ms: opt(rec, 'text_encode_ms', readNumber),
    denoise_ms: opt(rec, 'denoise_ms', readNumber),
    vae_decode_ms: opt(rec, 'vae_decode_ms', readNumber),
    safety_ms: opt(rec, 'safety_ms', readNumber),
    upload_ms: opt(rec, 'upload_ms', readNumber),
    status,
    error_type: status === 'ok' ? null : errorTypeRaw !== undefined ? readErrorType(errorTypeRaw) : errorTypeFromHttp(httpStatus),
    error_message: status === 'ok' || errorMessage === null ? null : errorMessage.slice(0, 512),
    http_status: httpStatus,
    peak_gpu_mem_mb: opt(rec, 'peak_gpu_mem_mb', readNumber) ?? (peakBytes !== null ? peakBytes / 1_048_576 : null),
    lora_adapters: opt(rec, 'lora_adapters', readLoras) ?? [],
    seed: opt(rec, 'seed', readSeed),
    precision: opt(rec, 'precision', readString),
    queue_depth: opt(rec, 'queue_depth', readInt),
  }
  const ownId = opt(rec, 'event_id', readString)
  event.event_id = ownId !== null && isUuid(ownId) ? ownId.toLowerCase() : eventIdFor(rec)
  return { ok: true, event }
}

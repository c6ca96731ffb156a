// GENERATED FILE, do not edit. Source: schemas/request-event.v2.avsc, schemas/gpu-sample.v1.avsc.
// Regenerate with: npx tsx scripts/gen-schema-types.ts

/** Symbols of enum PipelineKind, in schema order. */
export const PIPELINE_KINDS = ['txt2img', 'img2img', 'inpaint', 'upscale', 'other'] as const
/** Enum PipelineKind. A reader maps symbols it does not know to `other`. */
export type PipelineKind = (typeof PIPELINE_KINDS)[number]

/** Symbols of enum RequestStatus, in schema order. */
export const REQUEST_STATUSES = ['ok', 'error'] as const
/** Enum RequestStatus. */
export type RequestStatus = (typeof REQUEST_STATUSES)[number]

/** Symbols of enum ErrorType, in schema order. */
export const ERROR_TYPES = ['oom', 'timeout', 'queue_timeout', 'invalid_input', 'safety_blocked', 'model_error', 'upstream', 'gpu_fault', 'cancelled', 'internal'] as const
/** Enum ErrorType. A reader maps symbols it does not know to `internal`. */
export type ErrorType = (typeof ERROR_TYPES)[number]

/**
 * One generation request served by a diffusion worker (contract v2). Clock: every *_at field is
 * wall-clock epoch milliseconds (UTC) read on the worker host, except received_at, which the
 * frontend or queue stamps; durations (*_ms) are milliseconds measured with a monotonic clock on
 * the worker. A nullable field is null when the worker did not measure or does not know it. Never
 * carries the prompt itself. v2 adds lora_adapters, seed, precision and queue_depth, all with
 * defaults, so v1 and v2 readers and writers interoperate.
 */
export interface RequestEvent {
  /**
   * Unique id of this event (UUID). Not null. Dedup key downstream: a re-sent event keeps its id.
   */
  event_id: string
  /**
   * Id of the user request. Not null. One request may be retried as several events (one per
   * attempt).
   */
  request_id: string
  /**
   * W3C trace id (32 lowercase hex characters) when the worker is traced; null otherwise. Schema
   * default: `null`.
   */
  trace_id: string | null
  /** Customer / team the request is billed to. Not null. */
  tenant: string
  /** Cloud region or data centre of the worker. Not null. */
  region: string
  /** Deployment (service) name the worker belongs to. Not null. */
  deployment: string
  /**
   * Worker process id; also the Kafka message key, so one worker's events stay in order. Not null.
   */
  worker_id: string
  /** Host name of the worker. Not null. */
  host: string
  /** GPU uuid as nvidia-smi prints it (GPU-... or MIG-...). Not null. */
  gpu_uuid: string
  /** GPU product name, e.g. H100-80GB, A100-40GB, L4. Not null. */
  gpu_type: string
  /** Model name, e.g. sdxl-base. Not null. */
  model: string
  /** Model version or checkpoint hash. Not null. */
  model_version: string
  /** Kind of diffusion pipeline. Readers that do not know a newer symbol read it as other. */
  pipeline: PipelineKind
  /** Scheduler / sampler name, e.g. euler_a, dpmpp_2m. Not null. */
  sampler: string
  /** Number of denoising steps requested (count, >= 0). */
  steps: number
  /**
   * Classifier-free guidance scale (dimensionless; float32). Avro float: decodes as the nearest
   * float32 (7.3 reads back as 7.300000190734863).
   */
  guidance_scale: number
  /** Output width in pixels. */
  width: number
  /** Output height in pixels. */
  height: number
  /** Images produced (or asked for, when failed) by this request (count). */
  images: number
  /** Batch size the worker ran the request with (count). */
  batch_size: number
  /**
   * Hash of the prompt, e.g. sha256:<hex> (never the prompt); null when not computed. Schema
   * default: `null`.
   */
  prompt_hash: string | null
  /**
   * True when the model had to be loaded for this request. Default false. Schema default: `false`.
   */
  cold_start: boolean
  /**
   * Model load time in ms (monotonic clock) when cold_start; null otherwise. Schema default:
   * `null`.
   */
  model_load_ms: number | null
  /** Request received by the frontend/queue: epoch ms (UTC), frontend clock. Not null. */
  received_at: number
  /**
   * Worker took the request off the queue: epoch ms (UTC), worker clock; null when rejected before.
   * Schema default: `null`.
   */
  dequeued_at: number | null
  /**
   * Start of the diffusion pipeline call: epoch ms (UTC), worker clock; null when it never started.
   * Schema default: `null`.
   */
  inference_start_at: number | null
  /**
   * End of the diffusion pipeline call: epoch ms (UTC), worker clock; null when it never ended
   * (failure before the end). Schema default: `null`.
   */
  inference_end_at: number | null
  /** Response sent: epoch ms (UTC), worker clock. Not null. Event time of the request. */
  completed_at: number
  /**
   * Text encoder stage duration (ms, monotonic clock); null when not measured. Schema default:
   * `null`.
   */
  text_encode_ms: number | null
  /**
   * Denoising loop duration (ms, monotonic clock); null when not measured. Schema default: `null`.
   */
  denoise_ms: number | null
  /**
   * VAE decode stage duration (ms, monotonic clock); null when not measured. Schema default:
   * `null`.
   */
  vae_decode_ms: number | null
  /**
   * Safety checker duration (ms, monotonic clock); null when not measured or no checker ran. Schema
   * default: `null`.
   */
  safety_ms: number | null
  /**
   * Upload of the result to storage (ms, monotonic clock); null when not measured. Schema default:
   * `null`.
   */
  upload_ms: number | null
  /** Outcome of the request: ok or error. Not null. */
  status: RequestStatus
  /**
   * Closed error taxonomy; null when status is ok, set when status is error. Readers that do not
   * know a newer symbol read it as internal. Schema default: `null`.
   */
  error_type: ErrorType | null
  /**
   * Error message, truncated to 512 characters by the producer; null when status is ok. Schema
   * default: `null`.
   */
  error_message: string | null
  /**
   * HTTP status answered to the client; null when the worker is not behind HTTP. Schema default:
   * `null`.
   */
  http_status: number | null
  /**
   * Peak GPU memory allocated during the request (MiB, e.g. torch.cuda.max_memory_allocated /
   * 2^20); null when not measured. Schema default: `null`.
   */
  peak_gpu_mem_mb: number | null
  /**
   * Names of the LoRA / adapter weights applied to the model for this request, in load order; empty
   * when none. Added in v2. Schema default: `[]`.
   */
  lora_adapters: string[]
  /**
   * RNG seed the pipeline ran with; null when random and not recorded. A seed at or above 2^53 must
   * be reduced by the producer (readers hold it as a float64-safe integer). Added in v2. Schema
   * default: `null`.
   */
  seed: number | null
  /**
   * Weight / compute precision of the model, e.g. fp16, bf16, fp8, int8; null when unknown. Added
   * in v2. Schema default: `null`.
   */
  precision: string | null
  /**
   * Requests waiting ahead of this one in the worker queue when it was received (count); null when
   * unknown. Added in v2. Schema default: `null`.
   */
  queue_depth: number | null
}

/** Fields of RequestEvent that an encoder may leave out: the schema default is written. */
export type RequestEventDefaultedField = 'trace_id' | 'prompt_hash' | 'cold_start' | 'model_load_ms' | 'dequeued_at' | 'inference_start_at' | 'inference_end_at' | 'text_encode_ms' | 'denoise_ms' | 'vae_decode_ms' | 'safety_ms' | 'upload_ms' | 'error_type' | 'error_message' | 'http_status' | 'peak_gpu_mem_mb' | 'lora_adapters' | 'seed' | 'precision' | 'queue_depth'
/** RequestEvent as encoders take it: fields with a schema default are optional. */
export type RequestEventInput = Omit<RequestEvent, RequestEventDefaultedField> & Partial<Pick<RequestEvent, RequestEventDefaultedField>>

/** Symbols of enum SampleSource, in schema order. */
export const SAMPLE_SOURCES = ['nvidia_smi', 'dcgm', 'simulated'] as const
/** Enum SampleSource. */
export type SampleSource = (typeof SAMPLE_SOURCES)[number]

/**
 * One sample of one GPU (and its host), as a GPU agent reads it from nvidia-smi or DCGM. Timestamps
 * are epoch milliseconds (UTC) on the host clock; null means the device did not report the value
 * ([N/A] or [Not Supported]).
 */
export interface GpuSample {
  /** When the sample was taken (epoch ms). Event time of the sample. */
  sampled_at: number
  /** Host name. */
  host: string
  /** Worker bound to this GPU, when known. Schema default: `null`. */
  worker_id: string | null
  /** GPU index on the host (nvidia-smi index). */
  gpu_index: number
  /** GPU uuid (GPU-... or MIG-...); the Kafka message key. */
  gpu_uuid: string
  /** Product name as reported, e.g. NVIDIA H100 80GB HBM3. */
  gpu_name: string
  /**
   * utilization.gpu: percent of time a kernel was running (0-100). Avro float: decodes as the
   * nearest float32 (7.3 reads back as 7.300000190734863). Schema default: `null`.
   */
  util_gpu_pct: number | null
  /**
   * utilization.memory: percent of time the memory controller was busy (0-100). Avro float: decodes
   * as the nearest float32 (7.3 reads back as 7.300000190734863). Schema default: `null`.
   */
  util_mem_pct: number | null
  /** Framebuffer memory used (MiB). Schema default: `null`. */
  mem_used_mb: number | null
  /** Framebuffer memory total (MiB). Schema default: `null`. */
  mem_total_mb: number | null
  /**
   * GPU core temperature (degrees C). Avro float: decodes as the nearest float32 (7.3 reads back as
   * 7.300000190734863). Schema default: `null`.
   */
  temperature_c: number | null
  /**
   * Power draw (W). Avro float: decodes as the nearest float32 (7.3 reads back as
   * 7.300000190734863). Schema default: `null`.
   */
  power_w: number | null
  /**
   * Enforced power limit (W). Avro float: decodes as the nearest float32 (7.3 reads back as
   * 7.300000190734863). Schema default: `null`.
   */
  power_limit_w: number | null
  /** Current SM clock (MHz). Schema default: `null`. */
  sm_clock_mhz: number | null
  /**
   * Active clock throttle / event reasons, e.g. sw_power_cap, hw_slowdown, sw_thermal. Schema
   * default: `[]`.
   */
  throttle_reasons: string[]
  /** Volatile uncorrected ECC error count. Schema default: `null`. */
  ecc_uncorrected: number | null
  /** Last XID error code seen on this GPU, when known. Schema default: `null`. */
  last_xid: number | null
  /**
   * Host CPU utilization over the last interval (0-100). Avro float: decodes as the nearest float32
   * (7.3 reads back as 7.300000190734863). Schema default: `null`.
   */
  host_cpu_pct: number | null
  /** Host memory used (MiB). Schema default: `null`. */
  host_mem_used_mb: number | null
  /** Host memory total (MiB). Schema default: `null`. */
  host_mem_total_mb: number | null
  /** Where the sample came from. */
  source: SampleSource
}

/** Fields of GpuSample that an encoder may leave out: the schema default is written. */
export type GpuSampleDefaultedField = 'worker_id' | 'util_gpu_pct' | 'util_mem_pct' | 'mem_used_mb' | 'mem_total_mb' | 'temperature_c' | 'power_w' | 'power_limit_w' | 'sm_clock_mhz' | 'throttle_reasons' | 'ecc_uncorrected' | 'last_xid' | 'host_cpu_pct' | 'host_mem_used_mb' | 'host_mem_total_mb'
/** GpuSample as encoders take it: fields with a schema default are optional. */
export type GpuSampleInput = Omit<GpuSample, GpuSampleDefaultedField> & Partial<Pick<GpuSample, GpuSampleDefaultedField>>

/** Decoded value type of each event kind. */
export interface EventByKind {
  'request-event': RequestEvent
  'gpu-sample': GpuSample
}

/** Encoder input type of each event kind. */
export interface EventInputByKind {
  'request-event': RequestEventInput
  'gpu-sample': GpuSampleInput
}

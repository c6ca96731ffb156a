/**
 * Sample events for the schema tests and the codec benchmark. Every float field holds a value that
 * float32 represents exactly (7.5, 61.25, ...), so round trips compare with toEqual.
 * `sampleRequestEvent` fills every field of the newest RequestEvent (v2); `sampleRequestEventV1`
 * is the same request as a v1 writer sends it. `newestSchemaVersion` reads the schema folder's file
 * names directly (not the catalog), so tests can check the catalog against it.
 */
import { readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { GpuSample, RequestEvent } from './generated/types.ts'

/** Fields RequestEvent v2 added; a v1 writer does not send them. */
export const REQUEST_EVENT_V2_FIELDS = ['lora_adapters', 'seed', 'precision', 'queue_depth'] as const

export function sampleRequestEvent(overrides: Partial<RequestEvent> = {}): RequestEvent {
  return {
    event_id: '6f1c2b8e-7d7a-4c39-9b51-0d3c2a9e4f10',
    request_id: 'req-000123',
    trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
    tenant: 'acme',
    region: 'eu-west-4',
    deployment: 'sdxl-prod',
    worker_id: 'worker-07',
    host: 'gpu-node-3',
    gpu_uuid: 'GPU-1b2c3d4e-0000-1111-2222-333344445555',
    gpu_type: 'H100-80GB',
    model: 'sdxl-base',
    model_version: '1.0-fp16',
    pipeline: 'txt2img',
    sampler: 'dpmpp_2m',
    steps: 30,
    guidance_scale: 7.5,
    width: 1024,
    height: 1024,
    images: 2,
    batch_size: 2,
    prompt_hash: 'sha256:9c1185a5c5e9fc54612808977ee8f548b2258d31',
    cold_start: false,
    model_load_ms: null,
    received_at: 1_767_225_600_000,
    dequeued_at: 1_767_225_600_120,
    inference_start_at: 1_767_225_600_135,
    inference_end_at: 1_767_225_603_935,
    completed_at: 1_767_225_604_210,
    text_encode_ms: 18.25,
    denoise_ms: 3410.5,
    vae_decode_ms: 301.75,
    safety_ms: 42,
    upload_ms: 233.125,
    status: 'ok',
    error_type: null,
    error_message: null,
    http_status: 200,
    peak_gpu_mem_mb: 21_504.5,
    lora_adapters: ['detail-tweaker-xl', 'film-grain'],
    seed: 1234567890123,
    precision: 'fp16',
    queue_depth: 3,
    ...overrides,
  }
}

/** The sample request as a v1 writer encodes it: without the fields v2 added. */
export function sampleRequestEventV1(overrides: Partial<RequestEvent> = {}): Record<string, unknown> {
  const event: Record<string, unknown> = { ...sampleRequestEvent(overrides) }
  for (const field of REQUEST_EVENT_V2_FIELDS) delete event[field]
  return event
}

/** The highest N of `schemas/<kind>.v<N>.avsc`, compared as numbers (v10 is newer than v9). */
export function newestSchemaVersion(kind: 'request-event' | 'gpu-sample'): number {
  const dir = fileURLToPath(new URL('.', import.meta.url))
  const versions = readdirSync(dir)
    .map((name) => new RegExp(`^${kind}\\.v([1-9][0-9]*)\\.avsc$`).exec(name)?.[1])
    .filter((v): v is string => v !== undefined)
    .map(Number)
  if (versions.length === 0) throw new Error(`no ${kind} schema file in ${dir}`)
  return Math.max(...versions)
}

export function sampleGpuSample(overrides: Partial<GpuSample> = {}): GpuSample {
  return {
    sampled_at: 1_767_225_601_000,
    host: 'gpu-node-3',
    worker_id: 'worker-07',
    gpu_index: 3,
    gpu_uuid: 'GPU-1b2c3d4e-0000-1111-2222-333344445555',
    gpu_name: 'NVIDIA H100 80GB HBM3',
    util_gpu_pct: 97,
    util_mem_pct: 61.25,
    mem_used_mb: 64_112,
    mem_total_mb: 81_559,
    temperature_c: 71,
    power_w: 612.5,
    power_limit_w: 700,
    sm_clock_mhz: 1980,
    throttle_reasons: ['sw_power_cap'],
    ecc_uncorrected: 0,
    last_xid: null,
    host_cpu_pct: 23.5,
    host_mem_used_mb: 301_211.5,
    host_mem_total_mb: 1_031_891,
    source: 'nvidia_smi',
    ...overrides,
  }
}

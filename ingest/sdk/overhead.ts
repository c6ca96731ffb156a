/**
 * What the SDK costs a worker, for the benchmark harness: `measureRecordOverhead` times the
 * request path of recording requests (startRequest, four marks, two stages, complete) and,
 * separately, the deferred validate + Avro-encode + buffer pass the SDK runs right after the
 * caller's turn, with a transport that never sends (as when Kafka is down), so network time is
 * not counted; and it measures heap growth with the buffer full.
 */
import { performance } from 'node:perf_hooks'
import { createCodec } from '../../schemas/codec.ts'
import type { RequestEventInput } from '../../schemas/generated/types.ts'
import type { Transport } from './kafka-transport.ts'
import type { RequestStart } from './request-timer.ts'
import { createTelemetry } from './telemetry.ts'

export interface OverheadResult {
  readonly requests: number
  /** Mean µs per recorded request inside the request path (startRequest ... complete). */
  readonly microsPerRequest: number
  /** Mean µs per request of the deferred encode pass (same thread, after the caller's turn). */
  readonly deferredMicrosPerRequest: number
  /** Mean encoded size of one event (bytes, single-object framing included). */
  readonly bytesPerEvent: number
  /** Heap growth per buffered record with the buffer full (bytes; needs --expose-gc to be tight). */
  readonly heapBytesPerBufferedRecord: number
}

const START: RequestStart = {
  request_id: 'bench', trace_id: null, tenant: 'bench', region: 'local', deployment: 'bench',
  worker_id: 'bench-worker', host: 'bench-host', gpu_uuid: 'GPU-00000000-0000-0000-0000-000000000000',
  gpu_type: 'H100-80GB', model: 'sdxl-base', model_version: '1.0', pipeline: 'txt2img', sampler: 'euler_a',
  steps: 30, guidance_scale: 7, width: 1024, height: 1024, images: 1, batch_size: 1, lora_adapters: ['detail-xl'],
}

/** Records `requests` requests (default 20000) into a buffer of the same size; see OverheadResult. */
export async function measureRecordOverhead(requests = 20_000): Promise<OverheadResult> {
  let bytes = 0
  const parked: Transport = { send: () => new Promise<void>(() => undefined), close: async () => undefined }
  const codec = createCodec()
  const telemetry = createTelemetry({ brokers: [], transport: parked, codec, bufferSize: requests, lingerMs: 3_600_000, batchSize: requests + 1 })
  const encodeSize = (e: RequestEventInput): number => codec.encodeRequestEvent(e).length
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  const heapBefore = process.memoryUsage().heapUsed
  const t0 = performance.now()
  for (let i = 0; i < requests; i++) {
    const timer = telemetry.startRequest(START)
    timer.mark('dequeued')
    timer.mark('inferenceStart')
    timer.stage('denoise', 2400)
    timer.stage('vae_decode', 180)
    timer.mark('inferenceEnd')
    timer.complete({ http_status: 200, peak_gpu_mem_mb: 20480 })
  }
  const elapsed = performance.now() - t0
  const t1 = performance.now()
  await new Promise<void>((resolve) => setImmediate(resolve))
  const deferred = performance.now() - t1
  gc?.()
  const heapAfter = process.memoryUsage().heapUsed
  const counters = telemetry.counters()
  if (counters.buffered !== requests) throw new Error(`expected ${requests} buffered records, found ${counters.buffered}`)
  bytes = encodeSize({ ...START, event_id: '00000000-0000-0000-0000-000000000000', received_at: Date.now(), completed_at: Date.now(), status: 'ok' })
  await telemetry.close(1)
  return {
    requests,
    microsPerRequest: (elapsed * 1000) / requests,
    deferredMicrosPerRequest: (deferred * 1000) / requests,
    bytesPerEvent: bytes,
    heapBytesPerBufferedRecord: Math.max(0, heapAfter - heapBefore) / requests,
  }
}

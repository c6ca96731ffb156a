/**
 * Writes a synthetic worker log in the shape serving frameworks write (snake_case keys, ISO
 * timestamps, inference_time_ms, cfg_scale, seed, peak_gpu_memory_mb, status), as NDJSON or one
 * JSON array, optionally gzipped, for benchmarks and tests. Record i is a pure function of i
 * and the start time, so the same call writes the same bytes; every record maps to an event.
 */
import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import type { Writable } from 'node:stream'
import { createGzip } from 'node:zlib'

export interface SampleLogOptions {
  readonly records: number
  readonly format: 'ndjson' | 'array'
  readonly gzip?: boolean
  /** Completion time of record 0 (epoch ms); record i completes i * spacingMs later. */
  readonly startMs: number
  readonly spacingMs?: number
}

const MODELS = ['sdxl-base', 'sd15', 'flux-schnell', 'sdxl-turbo'] as const
const SAMPLERS = ['euler_a', 'dpmpp_2m', 'ddim'] as const
const SIZES = [[512, 512], [768, 768], [1024, 1024], [832, 1216]] as const

export function sampleRecord(i: number, startMs: number, spacingMs = 50): Record<string, unknown> {
  const completed = startMs + i * spacingMs
  const [w, h] = SIZES[i % SIZES.length] as readonly [number, number]
  const steps = 20 + (i % 4) * 10
  const inference = Math.round(steps * ((w * h) / 1e6) * 42 + (i % 97))
  const failed = i % 37 === 0
  return {
    request_id: `req-${i.toString(36).padStart(8, '0')}`,
    timestamp: new Date(completed).toISOString(),
    inference_time_ms: inference,
    latency_ms: inference + 40 + (i % 13) * 7,
    steps,
    sampler: SAMPLERS[i % SAMPLERS.length],
    cfg_scale: 7,
    seed: (i * 2_654_435_761) % 4_294_967_296,
    peak_gpu_memory_mb: 6000 + (i % 50) * 37,
    status: failed ? 'failed' : 'success',
    ...(failed ? { error_type: 'oom', error: 'CUDA out of memory. Tried to allocate 2.00 GiB' } : {}),
    model: MODELS[i % MODELS.length],
    width: w,
    height: h,
    worker_id: `worker-${i % 8}`,
    host: `gpu-node-${i % 4}`,
  }
}

async function write(out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain')
}

/** Writes the log and resolves with its size on disk (bytes). */
export async function writeSampleLog(path: string, o: SampleLogOptions): Promise<number> {
  const file = createWriteStream(path)
  const gz = o.gzip === true ? createGzip({ level: 1 }) : null
  if (gz) gz.pipe(file)
  const out: Writable = gz ?? file
  if (o.format === 'array') await write(out, '[\n')
  let chunk = ''
  for (let i = 0; i < o.records; i++) {
    const json = JSON.stringify(sampleRecord(i, o.startMs, o.spacingMs))
    chunk += o.format === 'array' ? `${i === 0 ? '' : ',\n'}${json}` : `${json}\n`
    if (chunk.length > 256 * 1024) {
      await write(out, chunk)
      chunk = ''
    }
  }
  await write(out, o.format === 'array' ? `${chunk}\n]\n` : chunk)
  out.end()
  await once(file, 'close')
  return file.bytesWritten
}

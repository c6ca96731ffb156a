/**
 * The capacity report: how many GPUs each worker pool (model × GPU type) needs, from measured
 * service times and measured peak load, with the queueing model stated in the document.
 *
 * Per pool and per pool × resolution bucket × steps bucket: service time (mean, p50, p95: see
 * capacity-query.ts for its definition), inference time, images per minute one GPU delivers at
 * saturation (60 000 × images of successful requests / service milliseconds of every served
 * request: failed requests take GPU time and give no image), the peak arrival rate (busiest
 * epoch-aligned window of `peakWindowSeconds`), and the GPUs an M/M/c queue (erlang-c.ts) needs
 * to carry the target load with the p95 queue wait at most the target. Per pool also: GPU busy
 * fraction = service time / (GPUs that served the pool × range), and headroom = the largest load
 * the current GPUs carry within the wait target, relative to the peak.
 */
import type { Store } from '../store.ts'
import type { ReportCell, ReportColumn, ReportDocument, ReportSection } from './document.ts'
import { maxLoadForWaitQuantile, serversForWaitQuantile } from './erlang-c.ts'
import { readServiceRows, type CapacityFilters, type ServiceRow } from './capacity-query.ts'

export type TargetLoad = { kind: 'multiplier'; value: number } | { kind: 'rps'; value: number }

export type CapacityOptions = {
  from: number
  to: number
  now: number
  /** Load to size for: a multiplier of each pool's measured peak, or requests/s per pool. */
  targetLoad: TargetLoad
  targetP95QueueWaitMs: number
  /** Length of the windows the peak arrival rate is measured over. */
  peakWindowSeconds: number
  filters: CapacityFilters
}

export const DEFAULT_PEAK_WINDOW_SECONDS = 300
export const DEFAULT_TARGET_P95_QUEUE_WAIT_MS = 1000

/** `2x` / `1.5x` → multiplier; a plain number → requests/s. Null when unreadable. */
export function parseTargetLoad(text: string): TargetLoad | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(x?)\s*$/i.exec(text)
  if (!m?.[1]) return null
  const value = Number(m[1])
  if (!(value > 0)) return null
  return m[2] ? { kind: 'multiplier', value } : { kind: 'rps', value }
}

type Sizing = { target_rps: number | null; replicas_needed: number | null }

function size(peakRps: number, multiplier: number | null, serviceMs: number | null, waitMs: number): Sizing {
  if (multiplier === null || serviceMs === null || !(serviceMs > 0)) return { target_rps: null, replicas_needed: null }
  const target = peakRps * multiplier
  return { target_rps: target, replicas_needed: serversForWaitQuantile({ lambda: target, serviceSeconds: serviceMs / 1000 }, waitMs / 1000) }
}

function imagesPerMin(r: ServiceRow): number | null {
  return r.service_sum_ms > 0 ? (60_000 * r.images_ok) / r.service_sum_ms : null
}

const MS = (key: string, label: string): ReportColumn => ({ key, label, unit: 'ms', digits: 0 })
const ID_COLUMNS: ReportColumn[] = [{ key: 'model', label: 'model' }, { key: 'gpu_type', label: 'GPU type' }]
const SERVICE_COLUMNS: ReportColumn[] = [
  { key: 'requests', label: 'requests' },
  MS('service_mean_ms', 'service mean'), MS('service_p50_ms', 'service p50'), MS('service_p95_ms', 'service p95'),
  MS('inference_mean_ms', 'inference mean'), MS('inference_p95_ms', 'inference p95'),
  { key: 'images_per_min_per_gpu', label: 'images/min per GPU at saturation', digits: 1 },
  { key: 'peak_rps', label: 'peak load', unit: 'req/s', digits: 3 },
  { key: 'target_rps', label: 'target load', unit: 'req/s', digits: 3 },
  { key: 'replicas_needed', label: 'GPUs needed' },
]

export async function capacityReport(store: Store, options: CapacityOptions): Promise<ReportDocument> {
  const range = { fromMs: options.from, toMs: options.to }
  const rows = await readServiceRows(store, range, options.filters, options.peakWindowSeconds)
  // Pool rows are the grouping set without buckets (bucket columns left empty).
  const pools = rows.filter((r) => r.resolution_bucket === '')
  const buckets = rows.filter((r) => r.resolution_bucket !== '')
  const waitMs = options.targetP95QueueWaitMs
  const rangeMs = options.to - options.from
  const multiplierOf = new Map<string, number | null>()
  const poolRows = pools.map((p) => {
    const peakRps = p.peak_requests / options.peakWindowSeconds
    const t = options.targetLoad
    multiplierOf.set(`${p.model}\u0000${p.gpu_type}`, t.kind === 'multiplier' ? t.value : peakRps > 0 ? t.value / peakRps : null)
    // An absolute target applies to the pool as a whole: its buckets get the same multiplier of their own peak.
    const sizing = t.kind === 'multiplier' ? size(peakRps, t.value, p.service_mean_ms, waitMs) : size(t.value, 1, p.service_mean_ms, waitMs)
    const serviceS = (p.service_mean_ms ?? 0) / 1000
    const maxRps = serviceS > 0 ? maxLoadForWaitQuantile(p.gpus, serviceS, waitMs / 1000) : null
    return {
      model: p.model, gpu_type: p.gpu_type, gpus: p.gpus, requests: p.requests,
      service_mean_ms: p.service_mean_ms, service_p50_ms: p.service_p50_ms, service_p95_ms: p.service_p95_ms,
      inference_mean_ms: p.inference_mean_ms, inference_p95_ms: p.inference_p95_ms, queue_p95_ms: p.queue_p95_ms,
      busy_fraction: p.gpus > 0 && rangeMs > 0 ? p.service_sum_ms / (p.gpus * rangeMs) : null,
      images_per_min_per_gpu: imagesPerMin(p),
      peak_rps: peakRps,
      utilization_at_peak: p.gpus > 0 && serviceS > 0 ? (peakRps * serviceS) / p.gpus : null,
      max_rps_within_target: maxRps,
      headroom_pct: maxRps !== null && peakRps > 0 ? (maxRps / peakRps - 1) * 100 : null,
      ...sizing,
      replicas_delta: sizing.replicas_needed === null ? null : sizing.replicas_needed - p.gpus,
    }
  })
  const bucketRows = buckets.map((b) => {
    const peakRps = b.peak_requests / options.peakWindowSeconds
    const multiplier = multiplierOf.get(`${b.model}\u0000${b.gpu_type}`) ?? null
    return {
      model: b.model, gpu_type: b.gpu_type, resolution_bucket: b.resolution_bucket, steps_bucket: b.steps_bucket, requests: b.requests,
      service_mean_ms: b.service_mean_ms, service_p50_ms: b.service_p50_ms, service_p95_ms: b.service_p95_ms,
      inference_mean_ms: b.inference_mean_ms, inference_p95_ms: b.inference_p95_ms,
      images_per_min_per_gpu: imagesPerMin(b), peak_rps: peakRps, ...size(peakRps, multiplier, b.service_mean_ms, waitMs),
    }
  })
  return document(options, poolRows, bucketRows)
}

function targetText(t: TargetLoad): string {
  return t.kind === 'multiplier' ? `${t.value}x` : String(t.value)
}

type Row = Record<string, ReportCell>

function document(options: CapacityOptions, pools: Row[], buckets: Row[]): ReportDocument {
  const target = options.targetLoad
  const peakMin = options.peakWindowSeconds / 60
  const sections: ReportSection[] = [
    {
      id: 'pools',
      heading: 'Worker pools (model × GPU type)',
      text: [
        target.kind === 'multiplier'
          ? `Sized for ${target.value}× each pool's peak load with a p95 queue wait of at most ${options.targetP95QueueWaitMs} ms.`
          : `Sized for ${target.value} requests/s per pool with a p95 queue wait of at most ${options.targetP95QueueWaitMs} ms.`,
      ],
      table: {
        columns: [
          ...ID_COLUMNS, { key: 'gpus', label: 'GPUs now' }, ...SERVICE_COLUMNS.slice(0, 6),
          MS('queue_p95_ms', 'queue wait p95 (measured)'),
          { key: 'busy_fraction', label: 'GPU busy fraction', digits: 3 },
          ...SERVICE_COLUMNS.slice(6, 8),
          { key: 'utilization_at_peak', label: 'utilization at peak', digits: 3 },
          { key: 'max_rps_within_target', label: 'max load within target (GPUs now)', unit: 'req/s', digits: 3 },
          { key: 'headroom_pct', label: 'headroom over peak', unit: '%', digits: 1 },
          ...SERVICE_COLUMNS.slice(8),
          { key: 'replicas_delta', label: 'GPUs to add (+) or spare (−)' },
        ],
        rows: pools,
      },
    },
    {
      id: 'buckets',
      heading: 'By resolution and steps',
      text: ['GPUs needed per row are for that traffic alone on dedicated GPUs; a pool shares its GPUs across rows, so the pool figure above is what to provision (pooling needs fewer GPUs than the sum of the rows).'],
      table: {
        columns: [...ID_COLUMNS, { key: 'resolution_bucket', label: 'resolution' }, { key: 'steps_bucket', label: 'steps' }, ...SERVICE_COLUMNS],
        rows: buckets,
      },
    },
  ]
  return {
    kind: 'capacity',
    title: 'Capacity report',
    generatedAt: new Date(options.now).toISOString(),
    range: { from: new Date(options.from).toISOString(), to: new Date(options.to).toISOString() },
    parameters: {
      targetLoad: targetText(target),
      targetP95QueueWaitMs: options.targetP95QueueWaitMs,
      peakWindow: `${options.peakWindowSeconds}s`,
      model: options.filters.models?.join(',') ?? null,
      gpu_type: options.filters.gpuTypes?.join(',') ?? null,
    },
    notes: [
      'Queueing model: M/M/c (Erlang C) per pool: Poisson arrivals, exponential service times with the measured mean, c GPUs (one worker per GPU) sharing one FIFO queue. GPUs needed = the smallest c with P(queue wait > target) = C(c, a)·exp(−(c/S − λ)·t) ≤ 5 %, i.e. p95 queue wait ≤ target, where a = λ·S. Service times less variable than exponential make this conservative.',
      'Service time = dequeued → inference end (model load and pre-processing included; the upload runs after the GPU is released), or → completion for requests that failed before inference ended; requests never dequeued count as arrivals only.',
      `Peak load = arrivals (by received time) in the busiest ${peakMin}-minute epoch-aligned window of the range, per second; requests are selected by completion time in the range.`,
      'GPU busy fraction = sum of service times / (GPUs that served the pool in the range × range length): the share of wall time the GPUs held a request.',
      'Images/min per GPU at saturation = 60 000 × images of successful requests / service milliseconds of every served request.',
      'Headroom = (largest load the current GPUs carry within the wait target ÷ peak load − 1); negative means the peak already exceeds it.',
      'Percentiles are t-digest estimates (rank error about 1 % of the count); means and counts are exact.',
    ],
    sections,
  }
}

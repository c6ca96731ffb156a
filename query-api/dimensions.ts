/**
 * The allow-lists through which user choices become SQL identifiers. A value not listed here
 * never reaches SQL: the route schemas only accept these names, and this module maps each one
 * to a fixed column expression.
 */

/** Dimensions to group by; `none` is one group over everything. Columns of both request tables. */
export const GROUP_BY = ['none', 'model', 'gpu_type', 'pipeline', 'worker_id', 'region', 'tenant', 'deployment'] as const
export type GroupBy = (typeof GROUP_BY)[number]

const GROUP_COLUMNS: Readonly<Record<GroupBy, string>> = {
  none: "''",
  model: 'model',
  gpu_type: 'gpu_type',
  pipeline: 'pipeline',
  worker_id: 'worker_id',
  region: 'region',
  tenant: 'tenant',
  deployment: 'deployment',
}

export function groupExpression(groupBy: GroupBy): string {
  return GROUP_COLUMNS[groupBy]
}

/** Latency metrics of request_events, in milliseconds. */
export const LATENCY_METRICS = [
  'e2e', 'queue', 'inference', 'ms_per_step', 'text_encode', 'denoise', 'vae_decode', 'safety', 'upload',
] as const
export type LatencyMetric = (typeof LATENCY_METRICS)[number]

const METRIC_COLUMNS: Readonly<Record<LatencyMetric, string>> = {
  e2e: 'e2e_ms',
  queue: 'queue_ms',
  inference: 'inference_ms',
  ms_per_step: 'ms_per_step',
  text_encode: 'text_encode_ms',
  denoise: 'denoise_ms',
  vae_decode: 'vae_decode_ms',
  safety: 'safety_ms',
  upload: 'upload_ms',
}

export function metricColumn(metric: LatencyMetric): string {
  return METRIC_COLUMNS[metric]
}

export const REQUEST_STATUSES = ['ok', 'error', 'all'] as const
export type RequestStatusFilter = (typeof REQUEST_STATUSES)[number]

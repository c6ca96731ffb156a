/**
 * The allow-lists through which user choices become SQL identifiers. A value not listed here
 * never reaches SQL: the route schemas only accept these names, and this module maps each one
 * to a fixed column expression of the table a route reads.
 *
 * The steps and resolution buckets are computed from raw columns here and stored as columns by
 * the latency rollups (migrations/sql/0005): the two definitions must stay equal, and a test
 * checks that grouping by them gives the same counts from both.
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

/** Every request dimension a route may filter or group on. */
export const DIMENSIONS = [
  'model', 'worker_id', 'pipeline', 'gpu_type', 'region', 'tenant', 'deployment', 'sampler', 'steps_bucket', 'resolution_bucket',
] as const
export type Dimension = (typeof DIMENSIONS)[number]

export const STEPS_BUCKET_SQL = "multiIf(steps <= 10, '1-10', steps <= 20, '11-20', steps <= 30, '21-30', steps <= 50, '31-50', '51+')"
export const RESOLUTION_BUCKET_SQL =
  "multiIf(width * height <= 262144, '<=512x512', width * height <= 589824, '<=768x768', width * height <= 1048576, '<=1024x1024', width * height <= 2359296, '<=1536x1536', '>1536x1536')"

/** The request tables a route reads, and the expression of each dimension they hold. */
export const DIMENSION_SOURCES = {
  requestEvents: {
    model: 'model', worker_id: 'worker_id', pipeline: 'pipeline', gpu_type: 'gpu_type', region: 'region', tenant: 'tenant',
    deployment: 'deployment', sampler: 'sampler', steps_bucket: STEPS_BUCKET_SQL, resolution_bucket: RESOLUTION_BUCKET_SQL,
  },
  latencyRollup1m: {
    model: 'model', pipeline: 'pipeline', gpu_type: 'gpu_type', region: 'region', tenant: 'tenant',
  },
  latencyRollup1h: {
    model: 'model', pipeline: 'pipeline', gpu_type: 'gpu_type', region: 'region', tenant: 'tenant', sampler: 'sampler',
    steps_bucket: 'steps_bucket', resolution_bucket: 'resolution_bucket',
  },
  requestWindows: {
    model: 'model', worker_id: 'worker_id', pipeline: 'pipeline', gpu_type: 'gpu_type', region: 'region', tenant: 'tenant', deployment: 'deployment',
  },
} as const satisfies Record<string, Partial<Record<Dimension, string>>>

export type DimensionSource = keyof typeof DIMENSION_SOURCES

export function dimensionsOf(source: DimensionSource): Dimension[] {
  return DIMENSIONS.filter((d) => Object.hasOwn(DIMENSION_SOURCES[source], d))
}

/** SQL of `dim` in `source`, `''` for `none`; throws for a dimension the source lacks (a bug: schemas allow only listed ones). */
export function dimensionSql(source: DimensionSource, dim: Dimension | 'none'): string {
  if (dim === 'none') return "''"
  const expr = (DIMENSION_SOURCES[source] as Partial<Record<Dimension, string>>)[dim]
  if (expr === undefined) throw new Error(`dimension ${dim} is not a column of ${source}`)
  return expr
}

/** Latency metrics of request_events, in milliseconds. */
export const LATENCY_METRICS = [
  'e2e', 'queue', 'inference', 'ms_per_step', 'ms_per_step_mp', 'text_encode', 'denoise', 'vae_decode', 'safety', 'upload',
] as const
export type LatencyMetric = (typeof LATENCY_METRICS)[number]

const METRIC_COLUMNS: Readonly<Record<LatencyMetric, string>> = {
  e2e: 'e2e_ms',
  queue: 'queue_ms',
  inference: 'inference_ms',
  ms_per_step: 'ms_per_step',
  ms_per_step_mp: 'ms_per_step / nullIf(megapixels, 0)',
  text_encode: 'text_encode_ms',
  denoise: 'denoise_ms',
  vae_decode: 'vae_decode_ms',
  safety: 'safety_ms',
  upload: 'upload_ms',
}

export function metricColumn(metric: LatencyMetric): string {
  return METRIC_COLUMNS[metric]
}

/** Metrics the rollups hold: state column and count column of latency_rollup_*. */
export const ROLLUP_METRICS: Readonly<Partial<Record<LatencyMetric, { state: string; count: string }>>> = {
  e2e: { state: 'e2e', count: 'n_e2e' },
  queue: { state: 'queue', count: 'n_queue' },
  inference: { state: 'inference', count: 'n_inference' },
  ms_per_step: { state: 'ms_per_step', count: 'n_ms_per_step' },
}

export const REQUEST_STATUSES = ['ok', 'error', 'all'] as const
export type RequestStatusFilter = (typeof REQUEST_STATUSES)[number]

/**
 * GET /v1/requests/gpu: requests completed in a range, each with its timings and what its GPU
 * did while it ran (samples, utilization mean / max, peak memory, mean power, peak temperature,
 * throttled samples), most recent or slowest first. Which samples count, and why the join
 * cannot blow up, is in request-gpu-query.ts.
 */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { CSV_CONTENT_TYPE, toCsv } from '../csv.ts'
import { REQUEST_GPU_FILTERS, REQUEST_GPU_SORTS, requestGpuSql, type RequestGpuFilter, type RequestGpuFilters, type RequestGpuSort } from '../request-gpu-query.ts'
import { closed, FormatParam, IsoTime, jsonOrCsv, LimitParam, NullableNumber, problemResponses, StringEnum } from '../schemas.ts'
import { num, numOrNull, selectRows } from '../store.ts'
import { resolveTimeRange } from '../time-range.ts'
import { rangeParams } from './common-params.ts'
import type { RouteContext } from './context.ts'

const N = NullableNumber
const NullableTime = Type.Union([IsoTime, Type.Null()])
const NullableString = Type.Union([Type.String(), Type.Null()])
const RequestRow = Type.Object(
  {
    event_id: Type.String(), request_id: Type.String(), completed_at: IsoTime, model: Type.String(), worker_id: Type.String(), host: Type.String(),
    gpu_uuid: Type.String(), gpu_type: Type.String(), tenant: Type.String(), pipeline: Type.String(), status: Type.String(), error_type: NullableString,
    width: Type.Integer(), height: Type.Integer(), steps: Type.Integer(), images: Type.Integer(),
    received_at: IsoTime, inference_start_at: NullableTime, inference_end_at: NullableTime,
    e2e_ms: Type.Number(), queue_ms: N, inference_ms: N, peak_gpu_mem_mb: N,
    matched_by: StringEnum(['gpu_uuid', 'worker_id'] as const, { description: 'gpu_uuid, or worker_id when the request names no GPU' }),
    samples: { ...Type.Integer(), description: 'GPU samples whose interval overlaps the inference' },
    util_mean_pct: N, util_max_pct: N, mem_used_max_mb: N, power_mean_w: N, temp_max_c: N, throttled_samples: Type.Integer(),
  },
  closed,
)
export const RequestGpuResponse = Type.Object(
  { from: IsoTime, to: IsoTime, sort: Type.String(), sample_interval_ms: Type.Integer(), truncated: Type.Boolean(), requests: Type.Array(RequestRow) },
  closed,
)

const FILTER_DOCS: Readonly<Record<RequestGpuFilter, string>> = {
  model: 'models', worker: 'worker ids', gpu_type: 'GPU types', tenant: 'tenants', status: 'statuses (ok, error)', event_id: 'event ids',
}
const filterProps = Object.fromEntries(
  (Object.keys(REQUEST_GPU_FILTERS) as RequestGpuFilter[]).map((f) => [
    f,
    Type.Optional(Type.String(f === 'status'
      ? { pattern: '^(ok|error)(,(ok|error))*$', description: 'Only requests with these statuses: ok, error (comma-separated).' }
      : { minLength: 1, maxLength: 4000, description: `Only requests with these ${FILTER_DOCS[f]} (comma-separated, exact match).` })),
  ]),
)

function filtersOf(query: Record<string, unknown>): RequestGpuFilters {
  const out: RequestGpuFilters = {}
  for (const key of Object.keys(REQUEST_GPU_FILTERS) as RequestGpuFilter[]) {
    const raw = query[key]
    if (typeof raw === 'string') out[key] = [...new Set(raw.split(',').map((v) => v.trim()).filter((v) => v !== ''))]
  }
  return out
}

const iso = (ms: number) => new Date(ms).toISOString()
const isoOrNull = (v: unknown) => (numOrNull(v) === null ? null : iso(num(v)))

export function requestGpuRoutes(ctx: RouteContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get('/v1/requests/gpu', {
      schema: {
        summary: 'Requests with the GPU samples of their worker during inference',
        description: 'Samples of the request’s gpu_uuid (its worker_id when the request names no GPU) whose interval [t − sample_interval_ms, t) overlaps the inference.',
        tags: ['gpu'],
        querystring: Type.Object({
          ...rangeParams(ctx),
          sort: Type.Optional(StringEnum(REQUEST_GPU_SORTS, { default: 'recent', description: 'recent (completed_at, newest first, default) or slowest (end-to-end latency, longest first)' })),
          limit: Type.Optional(LimitParam(ctx.limits.maxGroups, 100)),
          sample_interval_ms: Type.Optional(Type.Integer({ minimum: 100, maximum: 3_600_000, default: 1000, description: 'The GPU agents’ sampling interval (GPU_AGENT_INTERVAL_MS, default 1000).' })),
          format: Type.Optional(FormatParam),
          ...filterProps,
        }, closed),
        response: { 200: jsonOrCsv('One row per request', RequestGpuResponse), ...problemResponses([400, 500, 503]) },
      },
    }, async (request, reply) => {
      const q = request.query as { from?: string; to?: string; sort?: RequestGpuSort; limit?: number; sample_interval_ms?: number; format?: string }
      const range = resolveTimeRange(q, ctx.now(), ctx.limits)
      const sort = q.sort ?? 'recent'
      const limit = q.limit ?? Math.min(100, ctx.limits.maxGroups)
      const sampleIntervalMs = q.sample_interval_ms ?? 1000
      const { sql, params } = requestGpuSql(ctx.store, { range, sort, limit, sampleIntervalMs, filters: filtersOf(request.query as Record<string, unknown>) })
      const rows = await selectRows<Record<string, unknown>>(ctx.store, sql, params, 'requests with GPU samples')
      const requests = rows.slice(0, limit).map((r) => ({
        event_id: String(r['event_id']), request_id: String(r['request_id']), completed_at: iso(num(r['completed_ms'])), model: String(r['model']),
        worker_id: String(r['worker_id']), host: String(r['host']), gpu_uuid: String(r['gpu_uuid']), gpu_type: String(r['gpu_type']),
        tenant: String(r['tenant']), pipeline: String(r['pipeline']), status: String(r['status']),
        error_type: r['error_type'] === null || r['error_type'] === undefined ? null : String(r['error_type']),
        width: num(r['width']), height: num(r['height']), steps: num(r['steps']), images: num(r['images']),
        received_at: iso(num(r['received_ms'])), inference_start_at: isoOrNull(r['start_ms']), inference_end_at: isoOrNull(r['end_ms']),
        e2e_ms: num(r['e2e_ms']), queue_ms: numOrNull(r['queue_ms']), inference_ms: numOrNull(r['inference_ms']), peak_gpu_mem_mb: numOrNull(r['peak_gpu_mem_mb']),
        matched_by: String(r['match_key']).startsWith('g:') ? ('gpu_uuid' as const) : ('worker_id' as const),
        samples: num(r['samples']), util_mean_pct: numOrNull(r['util_mean']), util_max_pct: numOrNull(r['util_max']),
        mem_used_max_mb: numOrNull(r['mem_used_max']), power_mean_w: numOrNull(r['power_mean']), temp_max_c: numOrNull(r['temp_max']),
        throttled_samples: num(r['throttled_samples']),
      }))
      if (q.format === 'csv') {
        const header = Object.keys(RequestRow.properties)
        return reply.type(CSV_CONTENT_TYPE).send(toCsv(header, requests.map((r) => header.map((k) => r[k as keyof typeof r]))))
      }
      return { from: iso(range.fromMs), to: iso(range.toMs), sort, sample_interval_ms: sampleIntervalMs, truncated: rows.length > limit, requests }
    })
  }
}

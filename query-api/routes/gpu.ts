/**
 * GET /v1/gpu/utilization: per GPU, host, GPU product or model over a range: mean and p95
 * utilization, busy share, memory used (mean, peak) and the tightest headroom, power, peak
 * temperature, throttled share, XID samples, and how many GPUs were idle (no sample with
 * utilization > 0). GET /v1/gpu/series: one series per GPU (mean utilization, memory, power or
 * peak temperature per bucket), the data of a heat map. See gpu-query.ts for sources and rules.
 */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { CSV_CONTENT_TYPE, toCsv } from '../csv.ts'
import { GPU_FILTERS, GPU_GROUP_BY, GPU_SERIES_METRICS, gpuP95Sql, gpuSeriesSql, gpuSummarySql, type GpuFilters, type GpuGroupBy, type GpuSeriesMetric } from '../gpu-query.ts'
import { closed, FormatParam, IsoTime, jsonOrCsv, NullableNumber, problemResponses, StringEnum } from '../schemas.ts'
import { num, numOrNull, selectRows } from '../store.ts'
import { formatStep, resolveStep, resolveTimeRange } from '../time-range.ts'
import { rangeParams, seriesParams } from './common-params.ts'
import type { RouteContext } from './context.ts'

const N = NullableNumber
const GpuGroup = Type.Object(
  {
    group: Type.Union([Type.String(), Type.Null()]), gpus: Type.Integer(), idle_gpus: Type.Integer(), samples: Type.Integer(),
    util_mean_pct: N, util_p95_pct: N, util_max_pct: N, busy_fraction: N,
    mem_used_mean_mb: N, mem_used_max_mb: N, mem_total_mb: N, mem_headroom_min_mb: { ...N, description: 'Smallest (total − peak used) over the GPUs of the group' },
    power_mean_w: N, power_max_w: N, temp_max_c: N, throttled_fraction: N, xid_samples: Type.Integer(),
  },
  closed,
)
export const GpuUtilizationResponse = Type.Object({ from: IsoTime, to: IsoTime, group_by: Type.String(), groups: Type.Array(GpuGroup) }, closed)
export const GpuSeriesResponse = Type.Object(
  {
    from: IsoTime, to: IsoTime, step: Type.String(), step_seconds: Type.Integer(), metric: Type.String(), unit: Type.String(),
    gpus: Type.Array(Type.Object({ gpu_uuid: Type.String(), host: Type.String(), gpu_name: Type.String(), points: Type.Array(Type.Object({ time: IsoTime, samples: Type.Integer(), value: N }, closed)) }, closed)),
  },
  closed,
)

const filterProps = Object.fromEntries(GPU_FILTERS.map((f) => [f, Type.Optional(Type.String({ minLength: 1, maxLength: 1000, description: `Only GPUs with these ${f === 'gpu' ? 'uuids' : f === 'model' || f === 'gpu_type' ? `${f} values served by their worker in the range` : `${f} values`} (comma-separated).` }))]))

function filtersOf(query: Record<string, unknown>): GpuFilters {
  const out: GpuFilters = {}
  for (const key of GPU_FILTERS) {
    const raw = query[key]
    if (typeof raw === 'string') out[key] = [...new Set(raw.split(',').map((v) => v.trim()).filter((v) => v !== ''))]
  }
  return out
}

const UNITS: Readonly<Record<GpuSeriesMetric, string>> = { util: '%', mem_used: 'MiB', power: 'W', temp: '°C' }

export function gpuRoutes(ctx: RouteContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get('/v1/gpu/utilization', {
      schema: {
        summary: 'GPU utilization, memory, power, temperature and idle GPUs per GPU / host / product / model',
        tags: ['gpu'],
        querystring: Type.Object({ ...rangeParams(ctx), groupBy: Type.Optional(StringEnum(GPU_GROUP_BY, { default: 'gpu', description: 'gpu (default), host, gpu_name, model or none' })), format: Type.Optional(FormatParam), ...filterProps }, closed),
        response: { 200: jsonOrCsv('Figures per group', GpuUtilizationResponse), ...problemResponses([400, 500, 503]) },
      },
    }, async (request, reply) => {
      const q = request.query as { from?: string; to?: string; groupBy?: GpuGroupBy; format?: string }
      const range = resolveTimeRange(q, ctx.now(), ctx.limits)
      const groupBy = q.groupBy ?? 'gpu'
      const filters = filtersOf(request.query as Record<string, unknown>)
      const summary = gpuSummarySql(ctx.store, range, groupBy, filters)
      const p95 = gpuP95Sql(ctx.store, range, groupBy, filters)
      const [rows, p95Rows] = await Promise.all([
        selectRows<Record<string, unknown>>(ctx.store, summary.sql, summary.params, 'GPU utilization'),
        selectRows<{ grp: string; util_p95: unknown }>(ctx.store, p95.sql, p95.params, 'GPU utilization p95'),
      ])
      const p95By = new Map(p95Rows.map((r) => [r.grp, numOrNull(r.util_p95)]))
      const groups = rows.map((r) => ({
        group: groupBy === 'none' ? null : String(r['grp']), gpus: num(r['gpus']), idle_gpus: num(r['idle_gpus']), samples: num(r['samples']),
        util_mean_pct: numOrNull(r['util_mean']), util_p95_pct: p95By.get(String(r['grp'])) ?? null, util_max_pct: numOrNull(r['util_max']),
        busy_fraction: numOrNull(r['busy_fraction']), mem_used_mean_mb: numOrNull(r['mem_used_mean']), mem_used_max_mb: numOrNull(r['mem_used_max']),
        mem_total_mb: numOrNull(r['mem_total']), mem_headroom_min_mb: numOrNull(r['mem_headroom_min']), power_mean_w: numOrNull(r['power_mean']),
        power_max_w: numOrNull(r['power_max']), temp_max_c: numOrNull(r['temp_max']), throttled_fraction: numOrNull(r['throttled_fraction']),
        xid_samples: num(r['xid_samples']),
      }))
      if (q.format === 'csv') {
        const header = Object.keys(GpuGroup.properties)
        return reply.type(CSV_CONTENT_TYPE).send(toCsv(header, groups.map((g) => header.map((k) => g[k as keyof typeof g]))))
      }
      return { from: new Date(range.fromMs).toISOString(), to: new Date(range.toMs).toISOString(), group_by: groupBy, groups }
    })

    app.get('/v1/gpu/series', {
      schema: {
        summary: 'One time series per GPU (heat map data)',
        description: 'util: mean utilization %, mem_used: mean MiB, power: mean W, temp: peak °C, per bucket and GPU; null where the GPU sent no sample.',
        tags: ['gpu'],
        querystring: Type.Object({ ...seriesParams(ctx, 500), metric: Type.Optional(StringEnum(GPU_SERIES_METRICS, { default: 'util', description: 'util (default), mem_used, power or temp' })), ...filterProps }, closed),
        response: { 200: jsonOrCsv('Series per GPU', GpuSeriesResponse), ...problemResponses([400, 500, 503]) },
      },
    }, async (request, reply) => {
      const q = request.query as { from?: string; to?: string; step?: string; limit?: number; metric?: GpuSeriesMetric; format?: string }
      const range = resolveTimeRange(q, ctx.now(), ctx.limits)
      const stepSeconds = resolveStep(q.step, range, ctx.limits)
      const metric = q.metric ?? 'util'
      const { sql, params } = gpuSeriesSql(ctx.store, range, stepSeconds, metric, filtersOf(request.query as Record<string, unknown>))
      const rows = await selectRows<Record<string, unknown>>(ctx.store, sql, params, 'GPU series')
      const stepMs = stepSeconds * 1000
      const buckets: number[] = []
      for (let t = Math.floor(range.fromMs / stepMs) * stepMs; t < range.toMs; t += stepMs) buckets.push(t)
      const byGpu = new Map<string, { host: string; gpu_name: string; at: Map<number, { samples: number; value: number | null }> }>()
      for (const r of rows) {
        const uuid = String(r['gpu_uuid'])
        const g = byGpu.get(uuid) ?? { host: String(r['host']), gpu_name: String(r['gpu_name']), at: new Map() }
        g.at.set(num(r['bucket']) * 1000, { samples: num(r['n_samples']), value: numOrNull(r['value']) })
        byGpu.set(uuid, g)
      }
      const gpus = [...byGpu].slice(0, q.limit ?? ctx.limits.maxGroups).map(([uuid, g]) => ({
        gpu_uuid: uuid, host: g.host, gpu_name: g.gpu_name,
        points: buckets.map((t) => ({ time: new Date(t).toISOString(), samples: g.at.get(t)?.samples ?? 0, value: g.at.get(t)?.value ?? null })),
      }))
      if (q.format === 'csv') {
        const lines = gpus.flatMap((g) => g.points.map((p) => [p.time, g.host, g.gpu_uuid, g.gpu_name, p.samples, p.value]))
        return reply.type(CSV_CONTENT_TYPE).send(toCsv(['time', 'host', 'gpu_uuid', 'gpu_name', 'samples', metric], lines))
      }
      return { from: new Date(range.fromMs).toISOString(), to: new Date(range.toMs).toISOString(), step: formatStep(stepSeconds), step_seconds: stepSeconds, metric, unit: UNITS[metric], gpus }
    })
  }
}

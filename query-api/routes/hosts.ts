/**
 * GET /v1/hosts: host CPU and memory per host (or over the fleet) in a range: host instants
 * (samples), CPU mean / p95 / max %, memory used mean / max, memory total, the smallest memory
 * headroom (total − used), and the host's GPUs. GET /v1/hosts/series: one series per host, mean
 * CPU % or memory used per bucket. Every figure counts a host once per second however many GPUs
 * repeat its reading: see host-query.ts.
 */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { CSV_CONTENT_TYPE, toCsv } from '../csv.ts'
import { HOST_FILTERS, HOST_GROUP_BY, HOST_SERIES_METRICS, hostSeriesSql, hostSummarySql, type HostFilters, type HostGroupBy, type HostSeriesMetric } from '../host-query.ts'
import { closed, FormatParam, IsoTime, jsonOrCsv, NullableNumber, problemResponses, StringEnum } from '../schemas.ts'
import { num, numOrNull, selectRows } from '../store.ts'
import { formatStep, resolveStep, resolveTimeRange } from '../time-range.ts'
import { rangeParams, seriesParams } from './common-params.ts'
import type { RouteContext } from './context.ts'

const N = NullableNumber
const HostGroup = Type.Object(
  {
    group: Type.Union([Type.String(), Type.Null()]), hosts: Type.Integer(), gpus: Type.Integer(),
    samples: { ...Type.Integer(), description: 'Host instants: one per host per second with samples' },
    cpu_mean_pct: N, cpu_p95_pct: { ...N, description: 'Exact p95 over host instants (linear interpolation)' }, cpu_max_pct: N,
    mem_used_mean_mb: N, mem_used_max_mb: N,
    mem_total_mb: { ...N, description: "The host's memory (largest reported); summed over hosts for groupBy=none" },
    mem_headroom_min_mb: { ...N, description: 'Smallest total − used of any host instant' },
  },
  closed,
)
export const HostsResponse = Type.Object({ from: IsoTime, to: IsoTime, group_by: Type.String(), groups: Type.Array(HostGroup) }, closed)
export const HostSeriesResponse = Type.Object(
  {
    from: IsoTime, to: IsoTime, step: Type.String(), step_seconds: Type.Integer(), metric: Type.String(), unit: Type.String(), truncated: Type.Boolean(),
    hosts: Type.Array(Type.Object({ host: Type.String(), points: Type.Array(Type.Object({ time: IsoTime, samples: Type.Integer(), value: N }, closed)) }, closed)),
  },
  closed,
)

const filterProps = Object.fromEntries(
  HOST_FILTERS.map((f) => [f, Type.Optional(Type.String({ minLength: 1, maxLength: 1000, description: `Only samples of GPUs with these ${f} values (comma-separated, exact match).` }))]),
)

function filtersOf(query: Record<string, unknown>): HostFilters {
  const out: HostFilters = {}
  for (const key of HOST_FILTERS) {
    const raw = query[key]
    if (typeof raw === 'string') out[key] = [...new Set(raw.split(',').map((v) => v.trim()).filter((v) => v !== ''))]
  }
  return out
}

const UNITS: Readonly<Record<HostSeriesMetric, string>> = { cpu: '%', mem_used: 'MiB' }
const iso = (ms: number) => new Date(ms).toISOString()

export function hostRoutes(ctx: RouteContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get('/v1/hosts', {
      schema: {
        summary: 'Host CPU and memory per host or over the fleet',
        description: 'Each host counts once per second (one host instant), however many GPUs report its CPU and memory.',
        tags: ['gpu'],
        querystring: Type.Object({ ...rangeParams(ctx), groupBy: Type.Optional(StringEnum(HOST_GROUP_BY, { default: 'host', description: 'host (default) or none' })), format: Type.Optional(FormatParam), ...filterProps }, closed),
        response: { 200: jsonOrCsv('Figures per group', HostsResponse), ...problemResponses([400, 500, 503]) },
      },
    }, async (request, reply) => {
      const q = request.query as { from?: string; to?: string; groupBy?: HostGroupBy; format?: string }
      const range = resolveTimeRange(q, ctx.now(), ctx.limits)
      const groupBy = q.groupBy ?? 'host'
      const { sql, params } = hostSummarySql(ctx.store, range, groupBy, filtersOf(request.query as Record<string, unknown>))
      const rows = await selectRows<Record<string, unknown>>(ctx.store, sql, params, 'host CPU and memory')
      const groups = rows.map((r) => ({
        group: groupBy === 'none' ? null : String(r['grp']), hosts: num(r['hosts']), gpus: num(r['gpus']), samples: num(r['samples']),
        cpu_mean_pct: numOrNull(r['cpu_mean']), cpu_p95_pct: numOrNull(r['cpu_p95']), cpu_max_pct: numOrNull(r['cpu_max']),
        mem_used_mean_mb: numOrNull(r['mem_used_mean']), mem_used_max_mb: numOrNull(r['mem_used_max']),
        mem_total_mb: numOrNull(r['mem_total']), mem_headroom_min_mb: numOrNull(r['headroom_min']),
      }))
      if (q.format === 'csv') {
        const header = Object.keys(HostGroup.properties)
        return reply.type(CSV_CONTENT_TYPE).send(toCsv(header, groups.map((g) => header.map((k) => g[k as keyof typeof g]))))
      }
      return { from: iso(range.fromMs), to: iso(range.toMs), group_by: groupBy, groups }
    })

    app.get('/v1/hosts/series', {
      schema: {
        summary: 'One CPU or memory series per host',
        description: 'cpu: mean host CPU %, mem_used: mean host memory used (MiB), per bucket and host, over host instants; null where the host sent nothing.',
        tags: ['gpu'],
        querystring: Type.Object({ ...seriesParams(ctx, 100), metric: Type.Optional(StringEnum(HOST_SERIES_METRICS, { default: 'cpu', description: 'cpu (default) or mem_used' })), ...filterProps }, closed),
        response: { 200: jsonOrCsv('Series per host', HostSeriesResponse), ...problemResponses([400, 500, 503]) },
      },
    }, async (request, reply) => {
      const q = request.query as { from?: string; to?: string; step?: string; limit?: number; metric?: HostSeriesMetric; format?: string }
      const range = resolveTimeRange(q, ctx.now(), ctx.limits)
      const stepSeconds = resolveStep(q.step, range, ctx.limits)
      const metric = q.metric ?? 'cpu'
      const { sql, params } = hostSeriesSql(ctx.store, range, stepSeconds, metric, filtersOf(request.query as Record<string, unknown>))
      const rows = await selectRows<Record<string, unknown>>(ctx.store, sql, params, 'host series')
      const stepMs = stepSeconds * 1000
      const buckets: number[] = []
      for (let t = Math.floor(range.fromMs / stepMs) * stepMs; t < range.toMs; t += stepMs) buckets.push(t)
      const byHost = new Map<string, Map<number, { samples: number; value: number | null }>>()
      for (const r of rows) {
        const host = String(r['host'])
        const at = byHost.get(host) ?? new Map()
        at.set(num(r['bucket']) * 1000, { samples: num(r['n_samples']), value: numOrNull(r['value']) })
        byHost.set(host, at)
      }
      const limit = q.limit ?? Math.min(100, ctx.limits.maxGroups)
      const hosts = [...byHost].slice(0, limit).map(([host, at]) => ({
        host,
        points: buckets.map((t) => ({ time: iso(t), samples: at.get(t)?.samples ?? 0, value: at.get(t)?.value ?? null })),
      }))
      if (q.format === 'csv') {
        const lines = hosts.flatMap((h) => h.points.map((p) => [p.time, h.host, p.samples, p.value]))
        return reply.type(CSV_CONTENT_TYPE).send(toCsv(['time', 'host', 'samples', metric], lines))
      }
      return {
        from: iso(range.fromMs), to: iso(range.toMs), step: formatStep(stepSeconds), step_seconds: stepSeconds, metric, unit: UNITS[metric],
        truncated: byHost.size > limit, hosts,
      }
    })
  }
}

/**
 * GET /v1/latency/percentiles (totals per group) and GET /v1/latency/series (per time bucket and
 * group): latency percentiles computed by ClickHouse from t-digest sketches over the request
 * events, never by averaging pre-computed percentiles.
 *
 * Source: raw events for short ranges, the 1-min / 1-h rollups for long ones (`source=auto`,
 * thresholds in config), or forced with `source=raw|rollup`; the answer says which it read.
 * See latency-query.ts for how a rollup answer still covers exactly [from, to).
 *
 * Accuracy: the error of a t-digest is in rank, not in value: the answer for quantile q lies
 * between the exact quantiles at q - e and q + e, with e = 1 % of the count, or one value for
 * small groups (there the digest answers an observed value next to the exact rank instead of
 * interpolating). Results are Float32, about 7 significant digits. (Conservative: on 0.1-2 M
 * log-normal values the measured rank error was under 0.001 for q from 0.01 to 0.999, and
 * 200 merged partial digests of 1 M values were within 0.1 % of the exact p50..p99.9.) `count`
 * is exact: the number of requests with a value for the metric.
 *
 * Rows are selected by event time (`completed_at` in [from, to)) and, by default, only
 * successful requests (`status=ok`): failed requests often end early and would flatter latency.
 */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { CSV_CONTENT_TYPE, toCsv } from '../csv.ts'
import { DIMENSIONS, LATENCY_METRICS, REQUEST_STATUSES } from '../dimensions.ts'
import { apiError } from '../errors.ts'
import { activeFilters, filterProperties, groupByParam } from '../filters.ts'
import { chooseSource, LATENCY_SOURCES, latencySql, type LatencyQuery } from '../latency-query.ts'
import { closed, FormatParam, IsoTime, jsonOrCsv, LimitParam, NullableNumber, problemResponses, StringEnum, TimeParam } from '../schemas.ts'
import { num, numOrNull, selectRows } from '../store.ts'
import { formatStep, resolveStep, resolveTimeRange } from '../time-range.ts'
import type { RouteContext } from './context.ts'

export const MAX_QUANTILES = 9
export const DEFAULT_QUANTILES = '0.5,0.95,0.99'

const PercentileSchema = Type.Object({ quantile: Type.Number(), label: Type.String(), value_ms: NullableNumber }, closed)
const SourceSchema = StringEnum(['raw', 'rollup_1m', 'rollup_1h'] as const, { description: 'What the answer was computed from' })
const Group = Type.Union([Type.String(), Type.Null()])

const common = {
  from: IsoTime,
  to: IsoTime,
  metric: Type.String(),
  status: Type.String(),
  group_by: Type.String(),
  source: SourceSchema,
  quantiles: Type.Array(Type.Number()),
  truncated: Type.Boolean({ description: 'true when more groups matched than `limit`' }),
}

export const LatencyResponse = Type.Object(
  { ...common, groups: Type.Array(Type.Object({ group: Group, count: Type.Integer(), percentiles: Type.Array(PercentileSchema) }, closed)) },
  closed,
)

const SeriesPoint = Type.Object({ time: IsoTime, count: Type.Integer(), values_ms: Type.Array(NullableNumber, { description: 'One per quantile, in the order of `quantiles`; null without requests' }) }, closed)
export const LatencySeriesResponse = Type.Object(
  { ...common, step: Type.String(), step_seconds: Type.Integer(), series: Type.Array(Type.Object({ group: Group, count: Type.Integer(), points: Type.Array(SeriesPoint) }, closed)) },
  closed,
)

/** Parses `0.5,0.95,0.99`: each in (0, 1), at most MAX_QUANTILES, no repeats. */
export function parseQuantiles(text: string): number[] {
  const parts = text.split(',').map((p) => p.trim())
  const hint = `use up to ${MAX_QUANTILES} comma-separated numbers between 0 and 1 (exclusive), e.g. quantiles=${DEFAULT_QUANTILES}`
  if (parts.length > MAX_QUANTILES) throw apiError('API_BAD_REQUEST', `quantiles has ${parts.length} values: ${hint}`)
  const values = parts.map((p) => {
    const q = /^(0?\.\d+|0|1|\d+(\.\d+)?)$/.test(p) ? Number(p) : NaN
    if (!(q > 0 && q < 1)) throw apiError('API_BAD_REQUEST', `quantiles value ${JSON.stringify(p)} is not between 0 and 1: ${hint}`)
    return q
  })
  if (new Set(values).size !== values.length) throw apiError('API_BAD_REQUEST', `quantiles lists a value twice: ${hint}`)
  return values
}

/** 0.5 → p50, 0.999 → p99.9 */
export function quantileLabel(q: number): string {
  return `p${Number((q * 100).toPrecision(12))}`
}

type Row = { b: number | string; grp: string; n: number | string; qs: Array<number | string | null> }

export function latencyRoutes(ctx: RouteContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    const base = {
      from: Type.Optional(TimeParam('from', `to minus ${ctx.limits.defaultRangeSeconds / 60} minutes`)),
      to: Type.Optional(TimeParam('to', 'now')),
      groupBy: Type.Optional(groupByParam('requestEvents')),
      quantiles: Type.Optional(Type.String({ default: DEFAULT_QUANTILES, maxLength: 200, description: `Comma-separated quantiles in (0,1), at most ${MAX_QUANTILES}. Default ${DEFAULT_QUANTILES}.` })),
      metric: Type.Optional(StringEnum(LATENCY_METRICS, { default: 'e2e', description: 'e2e (received → completed), queue (received → dequeued), inference (pipeline call), ms_per_step (denoise / steps), ms_per_step_mp (ms per step per megapixel), or a stage: text_encode, denoise, vae_decode, safety, upload. Default e2e.' })),
      status: Type.Optional(StringEnum(REQUEST_STATUSES, { default: 'ok', description: 'Requests counted: ok (default), error, or all.' })),
      source: Type.Optional(StringEnum(LATENCY_SOURCES, { default: 'auto', description: 'auto (default: rollups for long ranges when they hold the metric, filters and group-by), raw, or rollup.' })),
      limit: Type.Optional(LimitParam(ctx.limits.maxGroups, 100)),
      format: Type.Optional(FormatParam),
      ...filterProperties('requestEvents'),
    }
    const stepParam = Type.String({ maxLength: 16, description: `Bucket size <n>s|m|h|d, a multiple of 10s; at most ${ctx.limits.maxBuckets} buckets. Default: a nice step giving at most 300 buckets. Rollups need whole minutes (hours for the 1-h tier).` })

    function parse(query: Record<string, unknown>, withStep: boolean) {
      const q = query as { from?: string; to?: string; step?: string; quantiles?: string; groupBy?: LatencyQuery['groupBy']; metric?: LatencyQuery['metric']; status?: LatencyQuery['status']; source?: (typeof LATENCY_SOURCES)[number]; limit?: number }
      const range = resolveTimeRange(q, ctx.now(), ctx.limits)
      const lq: LatencyQuery = {
        metric: q.metric ?? 'e2e',
        quantiles: parseQuantiles(q.quantiles ?? DEFAULT_QUANTILES),
        groupBy: q.groupBy ?? 'none',
        filters: activeFilters(query, DIMENSIONS),
        status: q.status ?? 'ok',
        range,
        stepSeconds: withStep ? resolveStep(q.step, range, ctx.limits) : null,
      }
      const source = chooseSource(lq, q.source ?? 'auto', ctx.limits)
      const limit = q.limit ?? Math.min(100, ctx.limits.maxGroups)
      const head = {
        from: new Date(range.fromMs).toISOString(), to: new Date(range.toMs).toISOString(), metric: lq.metric, status: lq.status,
        group_by: lq.groupBy, source, quantiles: lq.quantiles,
      }
      return { lq, source, limit, head }
    }

    app.get('/v1/latency/percentiles', {
      schema: {
        summary: 'Latency percentiles per group over a time range',
        description: 'Any quantiles of any latency metric from t-digest sketches (raw events or rollups): rank error within ±1 % of the count, Float32 precision; count exact. Values in milliseconds.',
        tags: ['latency'],
        querystring: Type.Object(base, closed),
        response: { 200: jsonOrCsv('Percentiles per group', LatencyResponse), ...problemResponses([400, 500, 503]) },
      },
    }, async (request, reply) => {
      const { lq, source, limit, head } = parse(request.query as Record<string, unknown>, false)
      const { sql, params } = latencySql(ctx.store, lq, source)
      const rows = await selectRows<Row>(ctx.store, `${sql} ORDER BY n DESC, grp LIMIT {limit:UInt32}`, { ...params, limit: limit + 1 }, 'latency percentiles')
      const groups = rows.slice(0, limit).map((row) => ({
        group: lq.groupBy === 'none' ? null : row.grp,
        count: num(row.n),
        percentiles: lq.quantiles.map((quantile, i) => ({ quantile, label: quantileLabel(quantile), value_ms: numOrNull(row.qs[i]) })),
      }))
      if ((request.query as { format?: string }).format === 'csv') {
        const body = toCsv(['group', 'count', ...lq.quantiles.map(quantileLabel)], groups.map((g) => [g.group, g.count, ...g.percentiles.map((p) => p.value_ms)]))
        return reply.type(CSV_CONTENT_TYPE).send(body)
      }
      return { ...head, truncated: rows.length > limit, groups }
    })

    app.get('/v1/latency/series', {
      schema: {
        summary: 'Latency percentiles per time bucket (and group)',
        description: 'Percentiles per epoch-aligned bucket (UTC), zero-filled with count 0 and null values. Same estimator and error as /v1/latency/percentiles.',
        tags: ['latency'],
        querystring: Type.Object({ ...base, step: Type.Optional(stepParam) }, closed),
        response: { 200: jsonOrCsv('Percentile time series per group', LatencySeriesResponse), ...problemResponses([400, 500, 503]) },
      },
    }, async (request, reply) => {
      const { lq, source, limit, head } = parse(request.query as Record<string, unknown>, true)
      const step = lq.stepSeconds ?? 60
      const { sql, params } = latencySql(ctx.store, lq, source)
      const rows = await selectRows<Row>(ctx.store, `${sql} ORDER BY grp, b`, params, 'latency series')
      const byGroup = new Map<string, Map<number, Row>>()
      for (const row of rows) {
        const m = byGroup.get(row.grp) ?? new Map<number, Row>()
        m.set(num(row.b) * 1000, row)
        byGroup.set(row.grp, m)
      }
      const stepMs = step * 1000
      const buckets: number[] = []
      for (let t = Math.floor(lq.range.fromMs / stepMs) * stepMs; t < lq.range.toMs; t += stepMs) buckets.push(t)
      const all = [...byGroup.entries()].map(([grp, points]) => {
        const out = buckets.map((t) => {
          const row = points.get(t)
          return { time: new Date(t).toISOString(), count: row ? num(row.n) : 0, values_ms: lq.quantiles.map((_, i) => (row ? numOrNull(row.qs[i]) : null)) }
        })
        return { group: lq.groupBy === 'none' ? null : grp, count: out.reduce((s, p) => s + p.count, 0), points: out }
      })
      all.sort((a, b) => b.count - a.count || String(a.group).localeCompare(String(b.group)))
      const series = all.slice(0, limit)
      if ((request.query as { format?: string }).format === 'csv') {
        const lines = series.flatMap((s) => s.points.map((p) => [p.time, s.group, p.count, ...p.values_ms]))
        return reply.type(CSV_CONTENT_TYPE).send(toCsv(['time', 'group', 'count', ...lq.quantiles.map(quantileLabel)], lines))
      }
      return { ...head, step: formatStep(step), step_seconds: step, truncated: all.length > limit, series }
    })
  }
}

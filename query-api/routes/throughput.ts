/**
 * GET /v1/throughput: requests, successes, errors and images per time bucket (and per group),
 * with per-second rates and the error rate, plus totals over the range.
 *
 * Read from the transformer's windowed partial aggregates (request_windows), which hold several
 * partial rows per window and key: every number here is re-aggregated with sum() ... GROUP BY,
 * so instances, chunk boundaries and late events all add up to exact counts. A window belongs
 * to the bucket (and the range) containing its start, so the step should be a multiple of the
 * transformer's window (10 s by default). Buckets are zero-filled (see series.ts).
 */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { CSV_CONTENT_TYPE, toCsv } from '../csv.ts'
import { dimensionsOf, groupExpression } from '../dimensions.ts'
import { activeFilters, filterProperties, filterSql } from '../filters.ts'
import { closed, FormatParam, GroupByParam, IsoTime, jsonOrCsv, LimitParam, NullableNumber, problemResponses, TimeParam } from '../schemas.ts'
import { buildSeries, type BucketSums } from '../series.ts'
import { chDateTime64, num, qualifiedTable, selectRows } from '../store.ts'
import { formatStep, resolveStep, resolveTimeRange } from '../time-range.ts'
import type { RouteContext } from './context.ts'

const CountsAndRates = {
  requests: Type.Integer(),
  successes: Type.Integer(),
  errors: Type.Integer(),
  images: Type.Integer(),
  requests_per_s: Type.Number(),
  images_per_s: Type.Number(),
  error_rate: { ...NullableNumber, description: 'errors / requests; null without requests' },
}
const Totals = Type.Object(CountsAndRates, closed)
const Point = Type.Object(
  { time: IsoTime, seconds: Type.Number({ description: 'Part of the bucket inside the range (rates divide by it)' }), ...CountsAndRates },
  closed,
)

export const ThroughputResponse = Type.Object(
  {
    from: IsoTime,
    to: IsoTime,
    step: Type.String(),
    step_seconds: Type.Integer(),
    group_by: Type.String(),
    truncated: Type.Boolean({ description: 'true when more groups matched than `limit` (totals still count them)' }),
    totals: Totals,
    series: Type.Array(Type.Object({ group: Type.Union([Type.String(), Type.Null()]), totals: Totals, points: Type.Array(Point) }, closed)),
  },
  closed,
)

type Row = { bucket: number | string; grp: string; requests: number | string; successes: number | string; errors: number | string; images: number | string }

export function throughputRoutes(ctx: RouteContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    const Querystring = Type.Object(
      {
        from: Type.Optional(TimeParam('from', `to minus ${ctx.limits.defaultRangeSeconds / 60} minutes`)),
        to: Type.Optional(TimeParam('to', 'now')),
        step: Type.Optional(
          Type.String({
            maxLength: 16,
            description: `Bucket size: <n>s|m|h|d, a multiple of 10s (e.g. 10s, 1m, 5m, 1h, 1d); at most ${ctx.limits.maxBuckets} buckets. Default: the smallest of 10s, 30s, 1m, 5m, 10m, 15m, 30m, 1h, ... giving at most 300 buckets.`,
          }),
        ),
        groupBy: Type.Optional(GroupByParam),
        limit: Type.Optional(LimitParam(ctx.limits.maxGroups, 50)),
        format: Type.Optional(FormatParam),
        ...filterProperties('requestWindows'),
      },
      closed,
    )

    app.get(
      '/v1/throughput',
      {
        schema: {
          summary: 'Requests, images and errors per time bucket',
          description: 'Time series from the windowed aggregates; zero-filled buckets aligned to multiples of the step (UTC).',
          tags: ['throughput'],
          querystring: Querystring,
          response: { 200: jsonOrCsv('Time series per group, and totals', ThroughputResponse), ...problemResponses([400, 500, 503]) },
        },
      },
      async (request, reply) => {
        const q = request.query
        const range = resolveTimeRange(q, ctx.now(), ctx.limits)
        const stepSeconds = resolveStep(q.step, range, ctx.limits)
        const groupBy = q.groupBy ?? 'none'
        const limit = q.limit ?? Math.min(50, ctx.limits.maxGroups)

        const params: Record<string, unknown> = { from: chDateTime64(range.fromMs), to: chDateTime64(range.toMs), step: stepSeconds }
        const filters = filterSql('requestWindows', activeFilters(request.query as Record<string, unknown>, dimensionsOf('requestWindows')), params)
        const sql = `
          SELECT intDiv(toUnixTimestamp(window_start), {step:UInt32}) * {step:UInt32} AS bucket,
                 ${groupExpression(groupBy)} AS grp,
                 sum(requests) AS requests, sum(successes) AS successes, sum(errors) AS errors, sum(images) AS images
          FROM ${qualifiedTable(ctx.store, 'requestWindows')}
          WHERE window_start >= {from:DateTime64(3, 'UTC')} AND window_start < {to:DateTime64(3, 'UTC')}${filters}
          GROUP BY bucket, grp
          ORDER BY grp, bucket`
        const rows = await selectRows<Row>(ctx.store, sql, params, 'throughput')
        const sums: BucketSums[] = rows.map((r) => ({
          bucket: num(r.bucket),
          group: r.grp,
          requests: num(r.requests),
          successes: num(r.successes),
          errors: num(r.errors),
          images: num(r.images),
        }))
        const { series, totals, truncated } = buildSeries(sums, range, stepSeconds, { grouped: groupBy !== 'none', limit })

        if (q.format === 'csv') {
          const header = ['time', 'group', 'seconds', 'requests', 'successes', 'errors', 'images', 'requests_per_s', 'images_per_s', 'error_rate']
          const lines = series.flatMap((s) =>
            s.points.map((p) => [p.time, s.group, p.seconds, p.requests, p.successes, p.errors, p.images, p.requests_per_s, p.images_per_s, p.error_rate]),
          )
          return reply.type(CSV_CONTENT_TYPE).send(toCsv(header, lines))
        }
        return {
          from: new Date(range.fromMs).toISOString(),
          to: new Date(range.toMs).toISOString(),
          step: formatStep(stepSeconds),
          step_seconds: stepSeconds,
          group_by: groupBy,
          truncated,
          totals,
          series,
        }
      },
    )
  }
}

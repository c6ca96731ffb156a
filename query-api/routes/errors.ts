/**
 * GET /v1/errors: failed requests by error type, as counts and rates (errors of a type /
 * requests), per time bucket and group, plus totals. Exact counts from the windowed aggregates
 * (see outcome-query.ts); error types are the closed taxonomy of the RequestEvent contract.
 */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ERROR_TYPES } from '../../schemas/generated/types.ts'
import { CSV_CONTENT_TYPE, toCsv } from '../csv.ts'
import { filterProperties, groupByParam } from '../filters.ts'
import type { Outcome } from '../outcome-query.ts'
import { closed, IsoTime, jsonOrCsv, NullableNumber, problemResponses } from '../schemas.ts'
import { seriesParams } from './common-params.ts'
import type { RouteContext } from './context.ts'
import { outcomeAnswer } from './outcome-route.ts'

const ByType = Type.Object(Object.fromEntries(ERROR_TYPES.map((t) => [t, Type.Integer()])), closed)
const RateByType = Type.Object(Object.fromEntries(ERROR_TYPES.map((t) => [t, NullableNumber])), closed)
const ErrorStats = {
  requests: Type.Integer(),
  errors: Type.Integer(),
  error_rate: { ...NullableNumber, description: 'errors / requests; null without requests' },
  by_type: ByType,
  rate_by_type: RateByType,
}
const Point = Type.Object({ time: IsoTime, seconds: Type.Number(), ...ErrorStats }, closed)
export const ErrorsResponse = Type.Object(
  {
    from: IsoTime, to: IsoTime, step: Type.String(), step_seconds: Type.Integer(), group_by: Type.String(), truncated: Type.Boolean(),
    totals: Type.Object(ErrorStats, closed),
    series: Type.Array(Type.Object({ group: Type.Union([Type.String(), Type.Null()]), totals: Type.Object(ErrorStats, closed), points: Type.Array(Point) }, closed)),
  },
  closed,
)

export function errorStats(o: Outcome) {
  const rate = (n: number) => (o.requests > 0 ? n / o.requests : null)
  return {
    requests: o.requests,
    errors: o.errors,
    error_rate: rate(o.errors),
    by_type: { ...o.by_type },
    rate_by_type: Object.fromEntries(ERROR_TYPES.map((t) => [t, rate(o.by_type[t])])) as Record<string, number | null>,
  }
}

export function errorsRoutes(ctx: RouteContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    const Querystring = Type.Object({ ...seriesParams(ctx, 50), groupBy: Type.Optional(groupByParam('requestWindows')), ...filterProperties('requestWindows') }, closed)
    app.get('/v1/errors', {
      schema: {
        summary: 'Errors by type, counts and rates',
        description: 'Per time bucket and group: requests, errors, error rate, and count and rate of every error type. Exact counts from the windowed aggregates.',
        tags: ['errors'],
        querystring: Querystring,
        response: { 200: jsonOrCsv('Error series per group, and totals', ErrorsResponse), ...problemResponses([400, 500, 503]) },
      },
    }, async (request, reply) => {
      const { csv, body } = await outcomeAnswer(ctx, request, (o) => errorStats(o))
      const { series } = body
      if (csv) {
        const header = ['time', 'group', 'requests', 'errors', 'error_rate', ...ERROR_TYPES]
        const lines = series.flatMap((s) => s.points.map((p) => [p.time, s.group, p.requests, p.errors, p.error_rate, ...ERROR_TYPES.map((t) => p.by_type[t])]))
        return reply.type(CSV_CONTENT_TYPE).send(toCsv(header, lines))
      }
      return body
    })
  }
}

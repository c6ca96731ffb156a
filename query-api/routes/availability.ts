/**
 * GET /v1/availability: the share of requests the service answered successfully, per time
 * bucket and group, plus totals.
 *
 * Definition: availability = successes / (requests − client errors), where client errors are
 * the error types the client caused (invalid_input, safety_blocked, cancelled): a refused
 * prompt or a cancelled request says nothing about the service. null when no request counts.
 * Exact counts from the windowed aggregates (see outcome-query.ts).
 */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { CSV_CONTENT_TYPE, toCsv } from '../csv.ts'
import { filterProperties, groupByParam } from '../filters.ts'
import { CLIENT_ERROR_TYPES, outcomeSeries, selectOutcomes, type Outcome } from '../outcome-query.ts'
import { closed, IsoTime, jsonOrCsv, NullableNumber, problemResponses } from '../schemas.ts'
import { seriesParams } from './common-params.ts'
import type { RouteContext } from './context.ts'
import { outcomeAnswer } from './outcome-route.ts'

const Stats = {
  requests: Type.Integer(),
  successes: Type.Integer(),
  client_errors: Type.Integer({ description: 'invalid_input + safety_blocked + cancelled' }),
  server_errors: Type.Integer({ description: 'errors − client_errors' }),
  eligible: Type.Integer({ description: 'requests − client_errors' }),
  availability: { ...NullableNumber, description: 'successes / eligible; null when eligible = 0' },
}
const Point = Type.Object({ time: IsoTime, seconds: Type.Number(), ...Stats }, closed)
export const AvailabilityResponse = Type.Object(
  {
    from: IsoTime, to: IsoTime, step: Type.String(), step_seconds: Type.Integer(), group_by: Type.String(), truncated: Type.Boolean(),
    definition: Type.String(),
    totals: Type.Object(Stats, closed),
    series: Type.Array(Type.Object({ group: Type.Union([Type.String(), Type.Null()]), totals: Type.Object(Stats, closed), points: Type.Array(Point) }, closed)),
  },
  closed,
)

export const AVAILABILITY_DEFINITION = `successes / (requests - client errors); client errors: ${CLIENT_ERROR_TYPES.join(', ')}`

export function availabilityStats(o: Outcome) {
  const client = CLIENT_ERROR_TYPES.reduce((s, t) => s + o.by_type[t], 0)
  const eligible = o.requests - client
  return { requests: o.requests, successes: o.successes, client_errors: client, server_errors: o.errors - client, eligible, availability: eligible > 0 ? o.successes / eligible : null }
}

export function availabilityRoutes(ctx: RouteContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    const Querystring = Type.Object({ ...seriesParams(ctx, 50), groupBy: Type.Optional(groupByParam('requestWindows')), ...filterProperties('requestWindows') }, closed)
    app.get('/v1/availability', {
      schema: {
        summary: 'Availability: successes / (requests − client errors)',
        description: `Per time bucket and group. ${AVAILABILITY_DEFINITION}. Exact counts from the windowed aggregates.`,
        tags: ['errors'],
        querystring: Querystring,
        response: { 200: jsonOrCsv('Availability series per group, and totals', AvailabilityResponse), ...problemResponses([400, 500, 503]) },
      },
    }, async (request, reply) => {
      const { csv, body } = await outcomeAnswer(ctx, request, (o) => availabilityStats(o))
      const { series } = body
      if (csv) {
        const header = ['time', 'group', 'requests', 'successes', 'client_errors', 'server_errors', 'eligible', 'availability']
        const lines = series.flatMap((s) => s.points.map((p) => [p.time, s.group, p.requests, p.successes, p.client_errors, p.server_errors, p.eligible, p.availability]))
        return reply.type(CSV_CONTENT_TYPE).send(toCsv(header, lines))
      }
      return { ...body, definition: AVAILABILITY_DEFINITION }
    })
  }
}

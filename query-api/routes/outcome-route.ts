/**
 * The request handling shared by the routes built on request outcomes (/v1/errors,
 * /v1/availability): resolve range, step, grouping and filters once, read the windowed
 * outcomes, and shape each point with the route's own statistics.
 */
import type { FastifyRequest } from 'fastify'
import { dimensionsOf, type Dimension } from '../dimensions.ts'
import { activeFilters } from '../filters.ts'
import { outcomeSeries, selectOutcomes, type Outcome } from '../outcome-query.ts'
import { formatStep, resolveStep, resolveTimeRange } from '../time-range.ts'
import type { SeriesQuery } from './common-params.ts'
import type { RouteContext } from './context.ts'

export async function outcomeAnswer<P>(ctx: RouteContext, request: FastifyRequest, shape: (o: Outcome) => P) {
  const q = request.query as SeriesQuery
  const range = resolveTimeRange(q, ctx.now(), ctx.limits)
  const stepSeconds = resolveStep(q.step, range, ctx.limits)
  const groupBy = (q.groupBy ?? 'none') as Dimension | 'none'
  const limit = q.limit ?? Math.min(50, ctx.limits.maxGroups)
  const rows = await selectOutcomes(ctx.store, { range, stepSeconds, groupBy, filters: activeFilters(request.query as Record<string, unknown>, dimensionsOf('requestWindows')) })
  const { totals, series, truncated } = outcomeSeries(rows, range, stepSeconds, groupBy !== 'none', limit, shape)
  return {
    csv: q.format === 'csv',
    body: { from: new Date(range.fromMs).toISOString(), to: new Date(range.toMs).toISOString(), step: formatStep(stepSeconds), step_seconds: stepSeconds, group_by: groupBy, truncated, totals, series },
  }
}

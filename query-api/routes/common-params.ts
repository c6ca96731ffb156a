/** Query-string pieces every time-series route shares: range, step, limit, format. */
import { Type } from '@fastify/type-provider-typebox'
import { FormatParam, LimitParam, TimeParam } from '../schemas.ts'
import type { RouteContext } from './context.ts'

export function rangeParams(ctx: RouteContext) {
  return {
    from: Type.Optional(TimeParam('from', `to minus ${ctx.limits.defaultRangeSeconds / 60} minutes`)),
    to: Type.Optional(TimeParam('to', 'now')),
  }
}

export function seriesParams(ctx: RouteContext, defaultLimit: number) {
  return {
    ...rangeParams(ctx),
    step: Type.Optional(
      Type.String({
        maxLength: 16,
        description: `Bucket size: <n>s|m|h|d, a multiple of 10s; at most ${ctx.limits.maxBuckets} buckets. Default: the smallest nice step giving at most 300 buckets.`,
      }),
    ),
    limit: Type.Optional(LimitParam(ctx.limits.maxGroups, defaultLimit)),
    format: Type.Optional(FormatParam),
  }
}

export type SeriesQuery = { from?: string; to?: string; step?: string; limit?: number; format?: 'json' | 'csv'; groupBy?: string }

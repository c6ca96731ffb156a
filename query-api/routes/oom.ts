/**
 * GET /v1/oom: out-of-memory failures by model × resolution × batch size over a range, from raw
 * request events: requests (any status), OOMs (error_type = oom) and the OOM rate, the combos
 * with most OOMs first. This is the table an operator reads to cap resolution or batch size.
 */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { CSV_CONTENT_TYPE, toCsv } from '../csv.ts'
import { DIMENSIONS, RESOLUTION_BUCKET_SQL } from '../dimensions.ts'
import { activeFilters, filterProperties, filterSql } from '../filters.ts'
import { closed, FormatParam, IsoTime, jsonOrCsv, LimitParam, problemResponses } from '../schemas.ts'
import { chDateTime64, num, qualifiedTable, selectRows } from '../store.ts'
import { resolveTimeRange } from '../time-range.ts'
import { rangeParams } from './common-params.ts'
import type { RouteContext } from './context.ts'

const Row = Type.Object(
  {
    model: Type.String(), width: Type.Integer(), height: Type.Integer(), resolution: Type.String({ description: 'WIDTHxHEIGHT' }),
    resolution_bucket: Type.String(), batch_size: Type.Integer(), requests: Type.Integer(), ooms: Type.Integer(), oom_rate: Type.Number(),
  },
  closed,
)
export const OomResponse = Type.Object(
  { from: IsoTime, to: IsoTime, truncated: Type.Boolean(), totals: Type.Object({ requests: Type.Integer(), ooms: Type.Integer(), oom_rate: Type.Union([Type.Number(), Type.Null()]) }, closed), rows: Type.Array(Row) },
  closed,
)

export function oomRoutes(ctx: RouteContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get('/v1/oom', {
      schema: {
        summary: 'OOM rate by model × resolution × batch size',
        tags: ['errors'],
        querystring: Type.Object({ ...rangeParams(ctx), limit: Type.Optional(LimitParam(ctx.limits.maxGroups, 200)), format: Type.Optional(FormatParam), ...filterProperties('requestEvents') }, closed),
        response: { 200: jsonOrCsv('One row per model, resolution and batch size', OomResponse), ...problemResponses([400, 500, 503]) },
      },
    }, async (request, reply) => {
      const q = request.query as { from?: string; to?: string; limit?: number; format?: string }
      const range = resolveTimeRange(q, ctx.now(), ctx.limits)
      const limit = q.limit ?? Math.min(200, ctx.limits.maxGroups)
      const params: Record<string, unknown> = { from: chDateTime64(range.fromMs), to: chDateTime64(range.toMs) }
      const where = filterSql('requestEvents', activeFilters(request.query as Record<string, unknown>, DIMENSIONS), params)
      const sql = `
        SELECT model, width, height, any(${RESOLUTION_BUCKET_SQL}) AS resolution_bucket, batch_size,
               count() AS requests, countIf(error_type = 'oom') AS ooms
        FROM ${qualifiedTable(ctx.store, 'requestEvents')}
        WHERE completed_at >= {from:DateTime64(3, 'UTC')} AND completed_at < {to:DateTime64(3, 'UTC')}${where}
        GROUP BY model, width, height, batch_size
        ORDER BY ooms DESC, requests DESC, model, width, height, batch_size`
      const rows = await selectRows<Record<string, unknown>>(ctx.store, sql, params, 'OOM rate')
      const all = rows.map((r) => {
        const requests = num(r['requests'])
        const ooms = num(r['ooms'])
        return {
          model: String(r['model']), width: num(r['width']), height: num(r['height']), resolution: `${num(r['width'])}x${num(r['height'])}`,
          resolution_bucket: String(r['resolution_bucket']), batch_size: num(r['batch_size']), requests, ooms, oom_rate: ooms / requests,
        }
      })
      const requests = all.reduce((s, r) => s + r.requests, 0)
      const ooms = all.reduce((s, r) => s + r.ooms, 0)
      const out = all.slice(0, limit)
      if (q.format === 'csv') {
        const header = Object.keys(Row.properties)
        return reply.type(CSV_CONTENT_TYPE).send(toCsv(header, out.map((r) => header.map((k) => r[k as keyof typeof r]))))
      }
      return { from: new Date(range.fromMs).toISOString(), to: new Date(range.toMs).toISOString(), truncated: all.length > limit, totals: { requests, ooms, oom_rate: requests > 0 ? ooms / requests : null }, rows: out }
    })
  }
}

/**
 * GET /v1/reports/capacity, /v1/reports/trend, /v1/reports/cost: the reports of
 * query-api/reports/, rendered as JSON (default), HTML, CSV or Markdown, chosen by `format` or,
 * without it, by the Accept header (text/html, text/csv, text/markdown; anything else JSON).
 * Query strings are closed TypeBox schemas; a bad value is a problem+json 400 saying what to
 * send. Reports may span up to REPORT_MAX_RANGE_DAYS (default 400: they read the long-lived
 * rollups and window tables; capacity and cost read raw events, kept 30 days).
 */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { apiError } from '../errors.ts'
import { capacityReport, DEFAULT_PEAK_WINDOW_SECONDS, parseTargetLoad } from '../reports/capacity.ts'
import { costReport } from '../reports/cost.ts'
import type { ReportDocument } from '../reports/document.ts'
import { REPORT_CONTENT_TYPES, REPORT_FORMATS, renderReport, type ReportFormat } from '../reports/render.ts'
import { DEFAULT_REPORT_CONFIG, type ReportConfig } from '../reports/report-config.ts'
import { trendReport } from '../reports/trend.ts'
import { closed, problemResponses, StringEnum, TimeParam } from '../schemas.ts'
import { parseStep, resolveTimeRange } from '../time-range.ts'
import type { RouteContext } from './context.ts'

const Cell = Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()])
export const ReportDocumentSchema = Type.Object(
  {
    kind: Type.String(), title: Type.String(), generatedAt: Type.String(),
    range: Type.Object({ from: Type.String(), to: Type.String() }, closed),
    parameters: Type.Record(Type.String(), Cell),
    notes: Type.Array(Type.String()),
    sections: Type.Array(Type.Object({
      id: Type.String(), heading: Type.String(), text: Type.Optional(Type.Array(Type.String())),
      table: Type.Optional(Type.Object({
        columns: Type.Array(Type.Object({ key: Type.String(), label: Type.String(), unit: Type.Optional(Type.String()), digits: Type.Optional(Type.Integer()) }, closed)),
        rows: Type.Array(Type.Record(Type.String(), Cell)),
      }, closed)),
    }, closed)),
  },
  closed,
)

const reportResponse = {
  description: 'The report as JSON, HTML (a self-contained page), CSV (one block per section, `# section: id` lines) or Markdown',
  content: {
    'application/json': { schema: ReportDocumentSchema },
    'text/html': { schema: Type.String() },
    'text/csv': { schema: Type.String() },
    'text/markdown': { schema: Type.String() },
  },
}

const ListParam = (what: string) => Type.Optional(Type.String({ minLength: 1, maxLength: 1000, description: `Only these ${what} (comma-separated).` }))
const common = (defaultFrom: string) => ({
  from: Type.Optional(TimeParam('from', defaultFrom)),
  to: Type.Optional(TimeParam('to', 'now')),
  format: Type.Optional(StringEnum(REPORT_FORMATS, { description: 'json, html, csv or markdown; default from the Accept header, else json.' })),
})

function list(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined
  const items = [...new Set(value.split(',').map((v) => v.trim()).filter((v) => v !== ''))]
  return items.length > 0 ? items : undefined
}

function negotiate(format: ReportFormat | undefined, accept: string | undefined): ReportFormat {
  if (format) return format
  const a = (accept ?? '').toLowerCase()
  for (const [type, f] of [['text/html', 'html'], ['text/csv', 'csv'], ['text/markdown', 'markdown']] as const) if (a.includes(type)) return f
  return 'json'
}

function send(request: FastifyRequest, reply: FastifyReply, doc: ReportDocument, format: ReportFormat | undefined) {
  const f = negotiate(format, request.headers.accept)
  return reply.type(REPORT_CONTENT_TYPES[f]).header('vary', 'accept').send(renderReport(doc, f))
}

export function reportRoutes(ctx: RouteContext, config: ReportConfig = DEFAULT_REPORT_CONFIG): FastifyPluginAsyncTypebox {
  const rangeLimits = (defaultDays: number) => ({ maxRangeSeconds: Math.round(config.raw.REPORT_MAX_RANGE_DAYS * 86_400), defaultRangeSeconds: defaultDays * 86_400 })
  return async (app) => {
    app.get('/v1/reports/capacity', {
      schema: {
        summary: 'Capacity report: service times, peak load, headroom and GPUs needed per model × GPU type (× resolution × steps)',
        tags: ['reports'],
        querystring: Type.Object({
          ...common('to minus 1 day'),
          targetLoad: Type.Optional(Type.String({ pattern: '^\\s*\\d+(\\.\\d+)?\\s*[xX]?\\s*$', maxLength: 32, default: '1x', description: 'Load to size for: `2x` = twice each pool\'s measured peak, `150` = 150 requests/s per pool. Default 1x.' })),
          targetP95QueueWaitMs: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 3_600_000, description: `Target p95 queue wait, ms (default ${config.raw.REPORT_TARGET_P95_QUEUE_WAIT_MS}).` })),
          peakWindow: Type.Optional(Type.String({ maxLength: 16, description: 'Window the peak load is measured over: <n>s|m|h, a multiple of 10 s. Default 5m.' })),
          model: ListParam('models'),
          gpu_type: ListParam('GPU types'),
        }, closed),
        response: { 200: reportResponse, ...problemResponses([400, 500, 503]) },
      },
    }, async (request, reply) => {
      const q = request.query as { from?: string; to?: string; format?: ReportFormat; targetLoad?: string; targetP95QueueWaitMs?: number; peakWindow?: string; model?: string; gpu_type?: string }
      const now = ctx.now()
      const range = resolveTimeRange(q, now, rangeLimits(1))
      const targetLoad = parseTargetLoad(q.targetLoad ?? '1x')
      if (targetLoad === null) throw apiError('API_BAD_REQUEST', `targetLoad=${JSON.stringify(q.targetLoad)} must be a positive multiplier of the peak such as 1.5x, or requests/s such as 120`)
      const peakWindowSeconds = q.peakWindow === undefined ? DEFAULT_PEAK_WINDOW_SECONDS : parseStep(q.peakWindow)
      if (peakWindowSeconds * 1000 > range.toMs - range.fromMs) throw apiError('API_BAD_REQUEST', `peakWindow=${q.peakWindow} is longer than the range: use a shorter window or widen from/to`)
      const doc = await capacityReport(ctx.store, {
        from: range.fromMs, to: range.toMs, now, targetLoad, peakWindowSeconds,
        targetP95QueueWaitMs: q.targetP95QueueWaitMs ?? config.raw.REPORT_TARGET_P95_QUEUE_WAIT_MS,
        filters: { models: list(q.model), gpuTypes: list(q.gpu_type) },
      })
      return send(request, reply, doc, q.format)
    })

    app.get('/v1/reports/trend', {
      schema: {
        summary: 'Trend report: daily and weekly volume, p95 latency, error rate, GPU utilization; growth, forecast and regressions',
        tags: ['reports'],
        querystring: Type.Object({
          ...common('to minus 30 days'),
          forecastDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 90, default: 14, description: 'Days to forecast (default 14).' })),
          baselineDays: Type.Optional(Type.Integer({ minimum: 2, maximum: 90, default: 7, description: 'First days used as the regression baseline (default 7; at most half the days).' })),
          model: ListParam('models'),
          gpu_type: ListParam('GPU types'),
        }, closed),
        response: { 200: reportResponse, ...problemResponses([400, 500, 503]) },
      },
    }, async (request, reply) => {
      const q = request.query as { from?: string; to?: string; format?: ReportFormat; forecastDays?: number; baselineDays?: number; model?: string; gpu_type?: string }
      const now = ctx.now()
      const range = resolveTimeRange(q, now, rangeLimits(30))
      const doc = await trendReport(ctx.store, {
        from: range.fromMs, to: range.toMs, now, forecastDays: q.forecastDays ?? 14, baselineDays: q.baselineDays ?? 7,
        filters: { models: list(q.model), gpuTypes: list(q.gpu_type) },
      })
      return send(request, reply, doc, q.format)
    })

    app.get('/v1/reports/cost', {
      schema: {
        summary: 'Cost report: GPU-hours, cost per image and per megapixel, idle cost, by GPU type, model and tenant',
        tags: ['reports'],
        querystring: Type.Object(common('to minus 7 days'), closed),
        response: { 200: reportResponse, ...problemResponses([400, 500, 503]) },
      },
    }, async (request, reply) => {
      const q = request.query as { from?: string; to?: string; format?: ReportFormat }
      const now = ctx.now()
      const range = resolveTimeRange(q, now, rangeLimits(7))
      const doc = await costReport(ctx.store, {
        from: range.fromMs, to: range.toMs, now, prices: config.prices, pricesSource: config.pricesSource,
        gapCapMs: config.raw.REPORT_SAMPLE_GAP_CAP_SECONDS * 1000,
      })
      return send(request, reply, doc, q.format)
    })
  }
}

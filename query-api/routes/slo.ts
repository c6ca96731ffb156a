/**
 * GET /v1/slo: every configured SLO now (objective, SLI and error budget over its 28/30-day
 * window, burn rate of each alert pair, the alerts recorded as firing); GET /v1/slo/alerts: the
 * alert transitions recorded by the evaluator. Definitions in query-api/slo/ (sli-query.ts,
 * burn-rate.ts). With no SLO file configured the list is empty and `configured` is false.
 * GET /v1/reports/slo: the SLO report (slo/report.ts) as JSON, HTML, CSV or Markdown, chosen by
 * `format` or else the Accept header, like the other reports.
 */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { apiError } from '../errors.ts'
import { REPORT_CONTENT_TYPES, REPORT_FORMATS, renderReport, type ReportFormat } from '../reports/render.ts'
import { closed, IsoTime, NullableNumber, problemResponses, StringEnum, TimeParam } from '../schemas.ts'
import { resolveTimeRange } from '../time-range.ts'
import { alertHistory, latestTransitions } from '../slo/alert-store.ts'
import type { SloConfig } from '../slo/config.ts'
import { goodEventRule, sloReport } from '../slo/report.ts'
import { sloStatuses } from '../slo/status-query.ts'
import type { RouteContext } from './context.ts'
import { ReportDocumentSchema } from './reports.ts'

const Severity = StringEnum(['page', 'ticket'] as const)
const BurnRate = Type.Object(
  {
    pair: Type.String({ description: 'short/long window, e.g. 5m/1h' }), severity: Severity, factor: Type.Number(),
    short_burn_rate: NullableNumber, long_burn_rate: NullableNumber, short_events: Type.Integer(), long_events: Type.Integer(),
    enough_traffic: Type.Boolean({ description: 'long window holds at least min_requests events' }),
    firing: Type.Boolean({ description: 'both windows burn faster than factor, with enough traffic' }),
  },
  closed,
)
const FiringAlert = Type.Object({ pair: Type.String(), severity: Severity, fired_at: IsoTime }, closed)
const SloEntry = Type.Object(
  {
    name: Type.String(), description: Type.Union([Type.String(), Type.Null()]), kind: StringEnum(['availability', 'latency'] as const),
    good_if: Type.String(), objective_percent: Type.Number(), window: Type.String(),
    filters: Type.Record(Type.String(), Type.Array(Type.String())),
    events: Type.Integer(), good: Type.Integer(), bad: Type.Integer(),
    sli: { ...NullableNumber, description: 'good / events over the SLO window; null without events' },
    budget_events: Type.Number({ description: '(1 − objective) × events: bad events the window allows' }),
    budget_remaining: { ...NullableNumber, description: '1 − bad / budget_events; negative when overspent' },
    burn_rates: Type.Array(BurnRate),
    firing_alerts: Type.Array(FiringAlert, { description: 'alerts whose last recorded transition is firing' }),
  },
  closed,
)
export const SloResponse = Type.Object({ now: IsoTime, configured: Type.Boolean(), min_requests: Type.Integer(), slos: Type.Array(SloEntry) }, closed)

const Transition = Type.Object(
  {
    slo: Type.String(), pair: Type.String(), severity: Severity, state: StringEnum(['firing', 'resolved'] as const), factor: Type.Number(),
    short_burn_rate: NullableNumber, long_burn_rate: NullableNumber, long_events: Type.Integer(), budget_remaining: NullableNumber,
    fired_at: IsoTime, resolved_at: Type.Union([IsoTime, Type.Null()]), recorded_at: IsoTime,
  },
  closed,
)
export const SloAlertsResponse = Type.Object({ from: IsoTime, to: IsoTime, alerts: Type.Array(Transition) }, closed)

const iso = (ms: number) => new Date(ms).toISOString()

function reportFormat(format: ReportFormat | undefined, accept: string | undefined): ReportFormat {
  if (format !== undefined) return format
  const a = (accept ?? '').toLowerCase()
  return a.includes('text/html') ? 'html' : a.includes('text/csv') ? 'csv' : a.includes('text/markdown') ? 'markdown' : 'json'
}
const DEFAULT_HISTORY_SECONDS = 7 * 86_400

export function sloRoutes(ctx: RouteContext, config: SloConfig | null): FastifyPluginAsyncTypebox {
  const names = new Set(config?.slos.map((s) => s.name) ?? [])
  const checkName = (slo: string | undefined) => {
    if (slo !== undefined && !names.has(slo)) {
      throw apiError('API_BAD_REQUEST', `unknown SLO '${slo}': configured SLOs are ${[...names].join(', ') || 'none (set DIFFWATCH_SLO_FILE)'}`)
    }
  }
  return async (app) => {
    app.get('/v1/slo', {
      schema: {
        summary: 'SLOs: error budget remaining and burn rates now',
        description: 'Per SLO of the SLO file: SLI and error budget over its 28/30-day window ending now, burn rate of each alert pair, recorded firing alerts.',
        tags: ['slo'],
        querystring: Type.Object({ slo: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Only this SLO.' })) }, closed),
        response: { 200: SloResponse, ...problemResponses([400, 500, 503]) },
      },
    }, async (request) => {
      const now = ctx.now()
      checkName(request.query.slo)
      if (config === null) return { now: iso(now), configured: false, min_requests: 0, slos: [] }
      const only = { ...config, slos: config.slos.filter((s) => request.query.slo === undefined || s.name === request.query.slo) }
      const [statuses, recorded] = [await sloStatuses(ctx.store, only, now), await latestTransitions(ctx.store)]
      return {
        now: iso(now),
        configured: true,
        min_requests: config.alerting.minRequests,
        slos: statuses.map(({ slo, budget, pairs }) => ({
          name: slo.name, description: slo.description, kind: slo.kind, good_if: goodEventRule(slo), objective_percent: slo.objective * 100,
          window: slo.window, filters: Object.fromEntries(Object.entries(slo.filters).map(([k, v]) => [k, [...(v ?? [])]])),
          events: budget.events.total, good: budget.events.good, bad: budget.events.bad, sli: budget.sli,
          budget_events: budget.budget, budget_remaining: budget.budgetRemaining,
          burn_rates: pairs.map((p) => ({
            pair: p.pair.id, severity: p.pair.severity, factor: p.pair.factor, short_burn_rate: p.shortBurn, long_burn_rate: p.longBurn,
            short_events: p.short.total, long_events: p.long.total, enough_traffic: p.enoughTraffic, firing: p.firing,
          })),
          firing_alerts: [...recorded.values()]
            .filter((t) => t.slo === slo.name && t.state === 'firing')
            .map((t) => ({ pair: t.pair, severity: t.severity, fired_at: iso(t.firedAt) })),
        })),
      }
    })

    app.get('/v1/slo/alerts', {
      schema: {
        summary: 'SLO alert history: firing and resolved transitions',
        description: 'Transitions recorded by the SLO evaluator in [from, to), newest first. Default range: the last 7 days.',
        tags: ['slo'],
        querystring: Type.Object(
          {
            from: Type.Optional(TimeParam('from', 'to minus 7 days')), to: Type.Optional(TimeParam('to', 'now')),
            slo: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Only this SLO.' })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, default: 1000, description: 'Most transitions returned (default 1000).' })),
          },
          closed,
        ),
        response: { 200: SloAlertsResponse, ...problemResponses([400, 500, 503]) },
      },
    }, async (request) => {
      const q = request.query
      checkName(q.slo)
      const range = resolveTimeRange(q, ctx.now(), { maxRangeSeconds: ctx.limits.maxRangeSeconds, defaultRangeSeconds: Math.min(DEFAULT_HISTORY_SECONDS, ctx.limits.maxRangeSeconds) })
      const history = config === null ? [] : await alertHistory(ctx.store, { fromMs: range.fromMs, toMs: range.toMs, limit: q.limit ?? 1000, ...(q.slo === undefined ? {} : { slo: q.slo }) })
      return {
        from: iso(range.fromMs),
        to: iso(range.toMs),
        alerts: history.map((t) => ({
          slo: t.slo, pair: t.pair, severity: t.severity, state: t.state, factor: t.factor, short_burn_rate: t.shortBurnRate, long_burn_rate: t.longBurnRate,
          long_events: t.longEvents, budget_remaining: t.budgetRemaining, fired_at: iso(t.firedAt), resolved_at: t.resolvedAt === null ? null : iso(t.resolvedAt), recorded_at: iso(t.recordedAt),
        })),
      }
    })

    app.get('/v1/reports/slo', {
      schema: {
        summary: 'SLO report: SLI over the range, error budgets, burn rates now, alert transitions in the range',
        description: 'Rendered as JSON (default), HTML, CSV or Markdown: `format`, else the Accept header. Default range: the last 7 days. 400 when no SLO file is configured.',
        tags: ['slo'],
        querystring: Type.Object(
          {
            from: Type.Optional(TimeParam('from', 'to minus 7 days')), to: Type.Optional(TimeParam('to', 'now')),
            format: Type.Optional(StringEnum(REPORT_FORMATS, { description: 'json, html, csv or markdown; default from the Accept header, else json.' })),
          },
          closed,
        ),
        response: {
          200: {
            description: 'The SLO report',
            content: { 'application/json': { schema: ReportDocumentSchema }, 'text/html': { schema: Type.String() }, 'text/csv': { schema: Type.String() }, 'text/markdown': { schema: Type.String() } },
          },
          ...problemResponses([400, 500, 503]),
        },
      },
    }, async (request, reply) => {
      if (config === null) throw apiError('API_BAD_REQUEST', 'no SLOs are configured: set DIFFWATCH_SLO_FILE to an SLO file (see docs/slo.example.json)')
      const now = ctx.now()
      const range = resolveTimeRange(request.query, now, { maxRangeSeconds: ctx.limits.maxRangeSeconds, defaultRangeSeconds: Math.min(DEFAULT_HISTORY_SECONDS, ctx.limits.maxRangeSeconds) })
      const doc = await sloReport(ctx.store, { from: range.fromMs, to: range.toMs, now, config })
      const format = reportFormat(request.query.format, request.headers.accept)
      return reply.type(REPORT_CONTENT_TYPES[format]).header('vary', 'accept').send(renderReport(doc, format))
    })
  }
}

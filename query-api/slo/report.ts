/**
 * The SLO report as a ReportDocument (rendered by reports/render.ts): per SLO the SLI over the
 * requested range, the error budget over its own 28/30-day window ending at `now`, the burn rate
 * of every alert pair at `now`, and the alert transitions recorded in the range. The notes state
 * how each number is computed, so a reader can check it.
 */
import type { ReportCell, ReportDocument } from '../reports/document.ts'
import type { Store } from '../store.ts'
import { alertHistory } from './alert-store.ts'
import { sli } from './burn-rate.ts'
import type { SloConfig, SloDefinition } from './config.ts'
import { AVAILABILITY_METHOD, countEvents, LATENCY_METHOD } from './sli-query.ts'
import { sloStatus } from './status-query.ts'

export type SloReportOptions = { from: number; to: number; now: number; config: SloConfig }

const iso = (ms: number) => new Date(ms).toISOString()
const pct = (x: number | null) => (x === null ? null : x * 100)

/** Human description of what makes an event good, e.g. "e2e ≤ 8000 ms". */
export function goodEventRule(slo: SloDefinition): string {
  if (slo.latency === null) return 'successful request (client errors excluded)'
  if (slo.latency.normalizedThresholdMs !== null) return `${slo.latency.metric} / (steps × megapixels) ≤ ${slo.latency.normalizedThresholdMs} ms`
  return `${slo.latency.metric} ≤ ${slo.latency.thresholdMs} ms`
}

export async function sloReport(store: Store, options: SloReportOptions): Promise<ReportDocument> {
  const { from, to, now, config } = options
  const summary: Array<Record<string, ReportCell>> = []
  const burns: Array<Record<string, ReportCell>> = []
  for (const slo of config.slos) {
    const [range] = await countEvents(store, slo, to, [from])
    const status = await sloStatus(store, config, slo, now)
    const b = status.budget
    summary.push({
      slo: slo.name, kind: slo.kind, good_if: goodEventRule(slo), objective: slo.objective * 100, window: slo.window,
      range_events: range?.total ?? 0, range_bad: range?.bad ?? 0, range_sli: pct(range === undefined ? null : sli(range)),
      window_events: b.events.total, window_bad: b.events.bad, window_sli: pct(b.sli), budget_events: b.budget, budget_remaining: pct(b.budgetRemaining),
    })
    for (const p of status.pairs) {
      burns.push({
        slo: slo.name, pair: p.pair.id, severity: p.pair.severity, factor: p.pair.factor, short_burn: p.shortBurn, long_burn: p.longBurn,
        long_events: p.long.total, enough_traffic: p.enoughTraffic, firing: p.firing,
      })
    }
  }
  const history = await alertHistory(store, { fromMs: from, toMs: to, limit: 10_000 })
  return {
    kind: 'slo',
    title: 'SLO report: error budgets and burn-rate alerts',
    generatedAt: iso(now),
    range: { from: iso(from), to: iso(to) },
    parameters: { slos: config.slos.length, min_requests: config.alerting.minRequests, burn_rate_pairs: config.alerting.pairs.map((p) => `${p.id} ${p.factor}× ${p.severity}`).join(', ') },
    notes: [
      `Availability SLOs: ${AVAILABILITY_METHOD}.`,
      `Latency SLOs: ${LATENCY_METHOD}.`,
      'SLI = good / total. Error budget = (1 − objective) × total events of the SLO window (28 or 30 days ending at the generation time); budget remaining = 1 − bad / budget (negative: overspent).',
      'Burn rate over a window = (bad / total over it) / (1 − objective); 1 spends the budget exactly over the SLO window.',
      `An alert pair fires when both its short and its long window burn faster than its factor and the long window holds at least ${config.alerting.minRequests} events.`,
    ],
    sections: [
      {
        id: 'slos',
        heading: 'Objectives and error budgets',
        table: {
          columns: [
            { key: 'slo', label: 'SLO' }, { key: 'kind', label: 'kind' }, { key: 'good_if', label: 'good event' },
            { key: 'objective', label: 'objective', unit: '%', digits: 3 }, { key: 'window', label: 'window' },
            { key: 'range_events', label: 'events in range' }, { key: 'range_bad', label: 'bad in range' }, { key: 'range_sli', label: 'SLI in range', unit: '%', digits: 3 },
            { key: 'window_events', label: 'events in window' }, { key: 'window_bad', label: 'bad in window' }, { key: 'window_sli', label: 'SLI in window', unit: '%', digits: 3 },
            { key: 'budget_events', label: 'budget (bad events allowed)', digits: 1 }, { key: 'budget_remaining', label: 'budget remaining', unit: '%', digits: 1 },
          ],
          rows: summary,
        },
      },
      {
        id: 'burn_rates',
        heading: `Burn rates at ${iso(now)}`,
        table: {
          columns: [
            { key: 'slo', label: 'SLO' }, { key: 'pair', label: 'windows' }, { key: 'severity', label: 'severity' }, { key: 'factor', label: 'threshold', unit: '×' },
            { key: 'short_burn', label: 'short burn', unit: '×', digits: 2 }, { key: 'long_burn', label: 'long burn', unit: '×', digits: 2 },
            { key: 'long_events', label: 'events in long window' }, { key: 'enough_traffic', label: 'enough traffic' }, { key: 'firing', label: 'firing' },
          ],
          rows: burns,
        },
      },
      {
        id: 'alerts',
        heading: 'Alert transitions in the range',
        ...(history.length === 0 ? { text: ['No alert fired or resolved in the range.'] } : {}),
        table: {
          columns: [
            { key: 'recorded_at', label: 'at' }, { key: 'slo', label: 'SLO' }, { key: 'pair', label: 'windows' }, { key: 'severity', label: 'severity' },
            { key: 'state', label: 'state' }, { key: 'long_burn', label: 'long burn', unit: '×', digits: 2 }, { key: 'fired_at', label: 'fired at' },
            { key: 'resolved_at', label: 'resolved at' }, { key: 'budget_remaining', label: 'budget remaining', unit: '%', digits: 1 },
          ],
          rows: history.map((t) => ({
            recorded_at: iso(t.recordedAt), slo: t.slo, pair: t.pair, severity: t.severity, state: t.state, long_burn: t.longBurnRate,
            fired_at: iso(t.firedAt), resolved_at: t.resolvedAt === null ? null : iso(t.resolvedAt), budget_remaining: pct(t.budgetRemaining),
          })),
        },
      },
    ],
  }
}

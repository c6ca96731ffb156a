/**
 * Reads and writes the `slo_alerts` table (migration 0008): one row per alert transition.
 * The newest row of each (slo, pair) is that alert's state; the evaluator loads it at start so a
 * restart continues where the last process stopped.
 */
import { assertIdentifier, toDiffwatchError } from '../../migrations/clickhouse.ts'
import { TABLES } from '../../migrations/tables.ts'
import { chDateTime64, num, numOrNull, selectRows, type Store } from '../store.ts'

export const SLO_ALERTS_TABLE = TABLES.sloAlerts

export type AlertState = 'firing' | 'resolved'
export type AlertTransition = {
  slo: string
  pair: string
  severity: 'page' | 'ticket'
  state: AlertState
  factor: number
  shortBurnRate: number | null
  longBurnRate: number | null
  longEvents: number
  budgetRemaining: number | null
  firedAt: number
  resolvedAt: number | null
  recordedAt: number
}

function table(store: Store): string {
  return `\`${store.database}\`.\`${assertIdentifier(SLO_ALERTS_TABLE, 'table name')}\``
}

const parseTime = (v: unknown): number => Date.parse(`${String(v).replace(' ', 'T')}Z`)

function fromRow(r: Record<string, unknown>): AlertTransition {
  return {
    slo: String(r['slo']),
    pair: String(r['pair']),
    severity: r['severity'] === 'page' ? 'page' : 'ticket',
    state: r['state'] === 'firing' ? 'firing' : 'resolved',
    factor: num(r['factor']),
    shortBurnRate: numOrNull(r['short_burn_rate']),
    longBurnRate: numOrNull(r['long_burn_rate']),
    longEvents: num(r['long_events']),
    budgetRemaining: numOrNull(r['budget_remaining']),
    firedAt: parseTime(r['fired_at']),
    resolvedAt: r['resolved_at'] === null || r['resolved_at'] === undefined ? null : parseTime(r['resolved_at']),
    recordedAt: parseTime(r['recorded_at']),
  }
}

const COLUMNS = 'slo, pair, severity, state, factor, short_burn_rate, long_burn_rate, long_events, budget_remaining, fired_at, resolved_at, recorded_at'

/** The newest transition of every (slo, pair) ever recorded, keyed `slo|pair`. */
export async function latestTransitions(store: Store): Promise<Map<string, AlertTransition>> {
  const sql = `
    SELECT ${COLUMNS}
    FROM ${table(store)}
    ORDER BY recorded_at DESC
    LIMIT 1 BY slo, pair`
  const rows = await selectRows<Record<string, unknown>>(store, sql, {}, 'SLO alert states')
  return new Map(rows.map((r) => fromRow(r)).map((t) => [`${t.slo}|${t.pair}`, t]))
}

export async function recordTransition(store: Store, t: AlertTransition): Promise<void> {
  const row = {
    slo: t.slo, pair: t.pair, severity: t.severity, state: t.state, factor: t.factor,
    short_burn_rate: t.shortBurnRate, long_burn_rate: t.longBurnRate, long_events: t.longEvents, budget_remaining: t.budgetRemaining,
    fired_at: chDateTime64(t.firedAt), resolved_at: t.resolvedAt === null ? null : chDateTime64(t.resolvedAt), recorded_at: chDateTime64(t.recordedAt),
  }
  try {
    await store.client.insert({ table: `${store.database}.${SLO_ALERTS_TABLE}`, values: [row], format: 'JSONEachRow' })
  } catch (err) {
    throw toDiffwatchError(err, `recording SLO alert ${t.slo} ${t.pair}`)
  }
}

/** Transitions recorded in [fromMs, toMs), newest first, optionally of one SLO. */
export async function alertHistory(store: Store, q: { fromMs: number; toMs: number; slo?: string; limit: number }): Promise<AlertTransition[]> {
  const params: Record<string, unknown> = { from: chDateTime64(q.fromMs), to: chDateTime64(q.toMs), limit: q.limit }
  if (q.slo !== undefined) params['slo'] = q.slo
  const sql = `
    SELECT ${COLUMNS}
    FROM ${table(store)}
    WHERE recorded_at >= {from:DateTime64(3, 'UTC')} AND recorded_at < {to:DateTime64(3, 'UTC')}${q.slo === undefined ? '' : ' AND slo = {slo:String}'}
    ORDER BY recorded_at DESC, slo, pair
    LIMIT {limit:UInt32}`
  return (await selectRows<Record<string, unknown>>(store, sql, params, 'SLO alert history')).map(fromRow)
}

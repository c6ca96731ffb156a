/**
 * The arithmetic of SLOs, with no I/O: SLI, error budget, burn rates and the multi-window alert
 * rule, from event counts.
 *
 * - SLI = good / total (null without events).
 * - Error budget over the SLO window = (1 − objective) × total events; remaining =
 *   1 − bad / budget (1 = untouched, 0 = spent, negative = overspent; null without events).
 * - Burn rate over a window W = (bad / total over W) / (1 − objective): 1 spends the budget in
 *   exactly the SLO window (null without events in W).
 * - A pair (short, long, factor) fires when BOTH windows burn faster than `factor` and the long
 *   window holds at least `minRequests` events, so a handful of failures in a quiet hour pages
 *   no one.
 */
import type { BurnPair, SloConfig, SloDefinition } from './config.ts'
import type { EventCounts } from './sli-query.ts'

export type BudgetStatus = {
  events: EventCounts
  sli: number | null
  /** Bad events the budget allows over the SLO window: (1 − objective) × total. */
  budget: number
  budgetRemaining: number | null
}

export type PairStatus = {
  pair: BurnPair
  short: EventCounts
  long: EventCounts
  shortBurn: number | null
  longBurn: number | null
  /** false when the long window holds fewer than minRequests events. */
  enoughTraffic: boolean
  firing: boolean
}

export function sli(c: EventCounts): number | null {
  return c.total > 0 ? c.good / c.total : null
}

export function budgetStatus(slo: SloDefinition, c: EventCounts): BudgetStatus {
  const budget = (1 - slo.objective) * c.total
  return { events: c, sli: sli(c), budget, budgetRemaining: c.total > 0 ? 1 - c.bad / budget : null }
}

export function burnRate(slo: SloDefinition, c: EventCounts): number | null {
  return c.total > 0 ? c.bad / c.total / (1 - slo.objective) : null
}

export function pairStatus(slo: SloDefinition, pair: BurnPair, short: EventCounts, long: EventCounts, minRequests: number): PairStatus {
  const shortBurn = burnRate(slo, short)
  const longBurn = burnRate(slo, long)
  const enoughTraffic = long.total >= minRequests
  const firing = enoughTraffic && shortBurn !== null && longBurn !== null && shortBurn > pair.factor && longBurn > pair.factor
  return { pair, short, long, shortBurn, longBurn, enoughTraffic, firing }
}

/** Starts of the pair windows ending at `now`: short and long of each pair, in pair order. */
export function pairWindows(config: SloConfig, now: number): number[] {
  return config.alerting.pairs.flatMap((p) => [now - p.shortMs, now - p.longMs])
}

/** Pair statuses from counts over `pairWindows` (same order). */
export function pairsFromCounts(slo: SloDefinition, config: SloConfig, counts: readonly EventCounts[]): PairStatus[] {
  const at = (i: number): EventCounts => counts[i] ?? { total: 0, good: 0, bad: 0 }
  return config.alerting.pairs.map((pair, i) => pairStatus(slo, pair, at(2 * i), at(2 * i + 1), config.alerting.minRequests))
}

/** The window starts a full status needs: the SLO window first, then `pairWindows`. */
export function statusWindows(slo: SloDefinition, config: SloConfig, now: number): number[] {
  return [now - slo.windowMs, ...pairWindows(config, now)]
}

export type SloStatus = { slo: SloDefinition; budget: BudgetStatus; pairs: PairStatus[] }

export function statusFromCounts(slo: SloDefinition, config: SloConfig, counts: readonly EventCounts[]): SloStatus {
  return { slo, budget: budgetStatus(slo, counts[0] ?? { total: 0, good: 0, bad: 0 }), pairs: pairsFromCounts(slo, config, counts.slice(1)) }
}

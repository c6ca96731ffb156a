/**
 * The current status of every configured SLO at an instant: one counting query per SLO (see
 * sli-query.ts for the method), then the arithmetic of burn-rate.ts. SLOs are queried one after
 * another, not all at once, so an evaluation never floods ClickHouse beside the API's queries.
 * The evaluator asks for the pairs alone (the longest window, 3 days by default, instead of the
 * 28/30-day SLO window) and for the budget only when it records a transition.
 */
import type { Store } from '../store.ts'
import { budgetStatus, pairsFromCounts, pairWindows, statusFromCounts, statusWindows, type BudgetStatus, type PairStatus, type SloStatus } from './burn-rate.ts'
import type { SloConfig, SloDefinition } from './config.ts'
import { countEvents } from './sli-query.ts'

export async function sloStatus(store: Store, config: SloConfig, slo: SloDefinition, now: number): Promise<SloStatus> {
  const counts = await countEvents(store, slo, now, statusWindows(slo, config, now))
  return statusFromCounts(slo, config, counts)
}

export async function sloStatuses(store: Store, config: SloConfig, now: number): Promise<SloStatus[]> {
  const out: SloStatus[] = []
  for (const slo of config.slos) out.push(await sloStatus(store, config, slo, now))
  return out
}

/** Burn-rate pairs only: scans the longest pair window, not the SLO window. */
export async function sloPairs(store: Store, config: SloConfig, slo: SloDefinition, now: number): Promise<PairStatus[]> {
  return pairsFromCounts(slo, config, await countEvents(store, slo, now, pairWindows(config, now)))
}

export async function sloBudget(store: Store, slo: SloDefinition, now: number): Promise<BudgetStatus> {
  const [counts] = await countEvents(store, slo, now, [now - slo.windowMs])
  return budgetStatus(slo, counts ?? { total: 0, good: 0, bad: 0 })
}

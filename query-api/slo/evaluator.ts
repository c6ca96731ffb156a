/**
 * The SLO evaluator: every `config.evaluation.intervalMs` it computes each SLO's burn-rate pairs
 * and records alert transitions in `slo_alerts`.
 *
 * Guarantees:
 * - Transitions only: a row (and a webhook POST) when an alert starts firing or resolves, never
 *   one per evaluation. The last state of every (slo, pair) is read from the table before the
 *   first evaluation, so a restart neither writes a second firing row nor loses a resolve.
 * - A transition is written to the table before it is posted; the webhook runs off the
 *   evaluation path (webhook.ts) and can only be late, never block or fail an evaluation.
 * - Evaluations never overlap (the next is scheduled when one ends). A failed evaluation
 *   (ClickHouse away) is logged with API_SLO_EVALUATION_FAILED, counted, and tried again at the
 *   next tick; states are reloaded then, so nothing recorded is forgotten.
 * - An alert still firing for an SLO or pair no longer configured is resolved.
 * One evaluator per database: two processes evaluating the same SLOs would each record transitions.
 */
import { errorMessage } from '../../schemas/errors.ts'
import type { Store } from '../store.ts'
import { latestTransitions, recordTransition, type AlertTransition } from './alert-store.ts'
import type { PairStatus } from './burn-rate.ts'
import type { SloConfig, SloDefinition } from './config.ts'
import { sloBudget, sloPairs } from './status-query.ts'
import { createWebhookSender, type SloLog, type WebhookSender, type WebhookStats } from './webhook.ts'

export type SloEvaluatorOptions = { store: Store; config: SloConfig; log: SloLog; now?: () => number }
export type EvaluatorStats = { evaluations: number; failedEvaluations: number; transitions: number; webhook: WebhookStats | null }
export type SloEvaluator = {
  /** One evaluation at now(); resolves with the transitions it recorded. */
  evaluateOnce(): Promise<AlertTransition[]>
  stats(): EvaluatorStats
  /** Waits for queued webhook deliveries (tests, shutdown). */
  idle(): Promise<void>
  /** Gives queued webhook deliveries up to one webhook timeout, then stops them. */
  close(): Promise<void>
}

/** The JSON body POSTed for a transition. */
export function webhookPayload(t: AlertTransition, config: SloConfig) {
  const slo = config.slos.find((s) => s.name === t.slo)
  const pair = config.alerting.pairs.find((p) => p.id === t.pair)
  return {
    type: 'diffwatch.slo.alert',
    slo: t.slo,
    description: slo?.description ?? null,
    objective_percent: slo === undefined ? null : slo.objective * 100,
    pair: t.pair,
    short_window: pair?.short ?? t.pair.split('/')[0] ?? null,
    long_window: pair?.long ?? t.pair.split('/')[1] ?? null,
    severity: t.severity,
    state: t.state,
    factor: t.factor,
    short_burn_rate: t.shortBurnRate,
    long_burn_rate: t.longBurnRate,
    long_events: t.longEvents,
    budget_remaining: t.budgetRemaining,
    fired_at: new Date(t.firedAt).toISOString(),
    resolved_at: t.resolvedAt === null ? null : new Date(t.resolvedAt).toISOString(),
    recorded_at: new Date(t.recordedAt).toISOString(),
  }
}

/** The transition `p` makes from `prev`, without the budget (filled in only when there is one). */
function transitionOf(slo: SloDefinition, p: PairStatus, prev: AlertTransition | undefined, now: number): AlertTransition | null {
  const wasFiring = prev?.state === 'firing'
  if (p.firing === wasFiring) return null
  return {
    slo: slo.name, pair: p.pair.id, severity: p.pair.severity, state: p.firing ? 'firing' : 'resolved', factor: p.pair.factor,
    shortBurnRate: p.shortBurn, longBurnRate: p.longBurn, longEvents: p.long.total, budgetRemaining: null,
    firedAt: p.firing ? now : (prev?.firedAt ?? now), resolvedAt: p.firing ? null : now, recordedAt: now,
  }
}

export function createSloEvaluator(options: SloEvaluatorOptions): SloEvaluator {
  const { store, config, log } = options
  const now = options.now ?? Date.now
  const e = config.evaluation
  const webhook: WebhookSender | null = config.alerting.webhookUrl === null
    ? null
    : createWebhookSender({ url: config.alerting.webhookUrl, timeoutMs: e.webhookTimeoutMs, retries: e.webhookRetries, backoffMs: e.webhookBackoffMs }, log)
  const stats = { evaluations: 0, failedEvaluations: 0, transitions: 0 }
  let states: Map<string, AlertTransition> | null = null

  async function record(t: AlertTransition): Promise<void> {
    await recordTransition(store, t)
    states?.set(`${t.slo}|${t.pair}`, t)
    stats.transitions += 1
    log.info(`SLO alert ${t.state}`, { slo: t.slo, pair: t.pair, severity: t.severity, longBurnRate: t.longBurnRate })
    webhook?.send(webhookPayload(t, config))
  }

  async function evaluateOnce(): Promise<AlertTransition[]> {
    const at = now()
    try {
      const known = (states ??= await latestTransitions(store))
      const recorded: AlertTransition[] = []
      const seen = new Set<string>()
      for (const slo of config.slos) {
        const pairs = await sloPairs(store, config, slo, at)
        const changes = pairs.map((p) => transitionOf(slo, p, known.get(`${slo.name}|${p.pair.id}`), at)).filter((t) => t !== null)
        pairs.forEach((p) => seen.add(`${slo.name}|${p.pair.id}`))
        if (changes.length === 0) continue
        const { budgetRemaining } = await sloBudget(store, slo, at)
        for (const t of changes) {
          await record({ ...t, budgetRemaining })
          recorded.push({ ...t, budgetRemaining })
        }
      }
      for (const [key, prev] of known) {
        if (seen.has(key) || prev.state !== 'firing') continue
        const t: AlertTransition = { ...prev, state: 'resolved', shortBurnRate: null, longBurnRate: null, longEvents: 0, budgetRemaining: null, resolvedAt: at, recordedAt: at }
        await record(t)
        recorded.push(t)
      }
      stats.evaluations += 1
      return recorded
    } catch (err) {
      stats.failedEvaluations += 1
      states = null // reload at the next tick: a failed write may or may not have landed
      throw err
    }
  }

  return {
    evaluateOnce,
    stats: () => ({ ...stats, webhook: webhook?.stats() ?? null }),
    idle: async () => { await webhook?.idle() },
    close: async () => { await webhook?.close(e.webhookTimeoutMs) },
  }
}

/** Starts evaluating now and then every interval; `stop` waits for the evaluation in progress. */
export function startSloEvaluator(options: SloEvaluatorOptions): { stop(): Promise<void>; stats(): EvaluatorStats } {
  const evaluator = createSloEvaluator(options)
  let timer: NodeJS.Timeout | null = null
  let running: Promise<void> | null = null
  let stopped = false
  const tick = () => {
    running = evaluator.evaluateOnce().then(
      () => undefined,
      (err: unknown) => options.log.error('SLO evaluation failed; retrying at the next interval', { code: 'API_SLO_EVALUATION_FAILED', error: errorMessage(err) }),
    ).finally(() => {
      running = null
      if (!stopped) timer = setTimeout(tick, options.config.evaluation.intervalMs).unref()
    })
  }
  tick()
  return {
    async stop() {
      stopped = true
      if (timer !== null) clearTimeout(timer)
      await running
      await evaluator.close()
    },
    stats: evaluator.stats,
  }
}

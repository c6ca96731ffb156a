/**
 * The SLO evaluator against an embedded ClickHouse and real local HTTP webhooks: transitions
 * only (one firing row, one resolved row) across repeated evaluations, a restart and the timer;
 * the webhook receives exactly those transitions; a failing webhook is retried, counted and
 * never holds up an evaluation. Expected firing states are computed from the events in JS.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ClickHouseClient } from '@clickhouse/client'
import { afterAll, describe, expect, it } from 'vitest'
import { openClickHouse } from '../../migrations/clickhouse.ts'
import { migrate } from '../../migrations/runner.ts'
import type { RequestEvent } from '../../schemas/generated/types.ts'
import { createStore, type Store } from '../store.ts'
import { insertFleet } from '../test-support/fleet-data.ts'
import { fillWindows } from '../test-support/windows-fill.ts'
import { parseSloFile, SloEnvSchema, type SloConfig } from './config.ts'
import { createSloEvaluator, startSloEvaluator } from './evaluator.ts'
import { burn, expectedAvailability, HOUR, MIN, NOW, traffic } from './test-traffic.ts'
import { loadConfig } from '../../schemas/config.ts'

const root = mkdtempSync(join(tmpdir(), 'dw-slo-evaluator-test-'))
const clients: ClickHouseClient[] = []
const events: RequestEvent[] = [
  ...traffic('flux', NOW - HOUR, NOW - 5 * MIN, 550, 0.05),
  ...traffic('flux', NOW - 5 * MIN, NOW, 100, 0.9),
  ...traffic('sdxl', NOW - HOUR, NOW - 5 * MIN, 550, 0.05),
  ...traffic('sdxl', NOW - 5 * MIN, NOW, 100, 0.6),
]
const logs: Array<{ level: string; obj: Record<string, unknown> }> = []
const log = {
  info: (_msg: string, obj: Record<string, unknown> = {}) => { logs.push({ level: 'info', obj }) },
  warn: (_msg: string, obj: Record<string, unknown> = {}) => { logs.push({ level: 'warn', obj }) },
  error: (_msg: string, obj: Record<string, unknown> = {}) => { logs.push({ level: 'error', obj }) },
}

/** A real webhook receiver; `fail(n)` answers 503 to the next n POSTs. */
async function receiver(failFirst: number) {
  const bodies: Array<Record<string, unknown>> = []
  let hits = 0
  const server: Server = createServer((req, res) => {
    let data = ''
    req.on('data', (c: Buffer) => { data += c.toString() })
    req.on('end', () => {
      hits += 1
      if (hits <= failFirst) { res.writeHead(503).end(); return }
      bodies.push(JSON.parse(data) as Record<string, unknown>)
      res.writeHead(204).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
  return { url, bodies, hits: () => hits, close: () => new Promise<void>((resolve) => server.close(() => resolve())) }
}

function configFor(names: Record<string, string>, webhookUrl: string): SloConfig {
  const env = loadConfig(SloEnvSchema, { SLO_WEBHOOK_RETRIES: '2', SLO_WEBHOOK_BACKOFF_MS: '20', SLO_WEBHOOK_TIMEOUT_MS: '1000' })
  return parseSloFile({
    slos: Object.entries(names).map(([name, model]) => ({ name, objective: 99, window: '30d', kind: 'availability', filters: { model: [model] } })),
    alerting: { webhookUrl, minRequests: 100, burnRates: [{ short: '5m', long: '1h', factor: 14.4, severity: 'page' }] },
  }, env)
}

/** Whether 5m/1h of the availability SLO over `model` should fire at `at`, from the events. */
function shouldFire(config: SloConfig, name: string, at: number): boolean {
  const slo = config.slos.find((s) => s.name === name)!
  const short = expectedAvailability(events, slo, at - 5 * MIN, at)
  const long = expectedAvailability(events, slo, at - HOUR, at)
  return long.total >= 100 && (burn(short, 0.99) ?? 0) > 14.4 && (burn(long, 0.99) ?? 0) > 14.4
}

/**
 * A migrated database of its own holding the events: the evaluator resolves alerts of SLOs it
 * is not configured with, so tests with different SLO sets must not share a slo_alerts table.
 */
async function freshDatabase(database: string): Promise<Store> {
  const client = await openClickHouse({ dataPath: join(root, 'clickhouse'), database })
  clients.push(client)
  await migrate(client, { database })
  await insertFleet(client, database, { requests: events, samples: [] })
  await fillWindows(client, database)
  return createStore(client, database, 30)
}

async function rowsOf(store: Store, slo: string): Promise<Array<{ state: string; pair: string; fired_at: string; resolved_at: string | null }>> {
  const result = await store.client.query({
    query: `SELECT state, pair, fired_at, resolved_at FROM ${store.database}.slo_alerts WHERE slo = {slo:String} ORDER BY recorded_at`,
    query_params: { slo },
    format: 'JSONEachRow',
  })
  return result.json()
}

afterAll(async () => {
  for (const client of clients) await client.close()
  rmSync(root, { recursive: true, force: true })
})

describe('SLO evaluator', () => {
  it('records one firing and one resolved row across repeated evaluations and a restart, and posts exactly those', async () => {
    const store = await freshDatabase('slo_eval_restart')
    const hook = await receiver(0)
    const config = configFor({ 'flux-availability': 'flux', 'sdxl-availability': 'sdxl' }, hook.url)
    const clocks = [NOW, NOW + MIN, NOW + 2 * MIN, NOW + 70 * MIN, NOW + 71 * MIN]
    // The scenario: flux fires at NOW and stays firing; the burst is out of the 5 min window at +70 min.
    expect(clocks.map((t) => shouldFire(config, 'flux-availability', t))).toEqual([true, true, true, false, false])
    expect(clocks.map((t) => shouldFire(config, 'sdxl-availability', t))).toEqual([false, false, false, false, false])
    let clock = NOW
    const first = createSloEvaluator({ store, config, log, now: () => clock })
    const seen: string[] = []
    for (const t of clocks.slice(0, 2)) { clock = t; seen.push(...(await first.evaluateOnce()).map((x) => `${x.slo} ${x.state}`)) }
    await first.close()
    const restarted = createSloEvaluator({ store, config, log, now: () => clock })
    for (const t of clocks.slice(2)) { clock = t; seen.push(...(await restarted.evaluateOnce()).map((x) => `${x.slo} ${x.state}`)) }
    await restarted.idle()
    await restarted.close()
    expect(seen).toEqual(['flux-availability firing', 'flux-availability resolved'])
    const rows = await rowsOf(store, 'flux-availability')
    expect(rows.map((r) => [r.state, r.pair, r.resolved_at === null])).toEqual([['firing', '5m/1h', true], ['resolved', '5m/1h', false]])
    expect(rows[1]?.fired_at).toBe(rows[0]?.fired_at)
    expect(await rowsOf(store, 'sdxl-availability')).toEqual([])
    expect(hook.bodies.map((b) => [b['slo'], b['pair'], b['state'], b['fired_at'], b['resolved_at']])).toEqual([
      ['flux-availability', '5m/1h', 'firing', new Date(NOW).toISOString(), null],
      ['flux-availability', '5m/1h', 'resolved', new Date(NOW).toISOString(), new Date(NOW + 70 * MIN).toISOString()],
    ])
    expect(hook.bodies[0]?.['long_burn_rate']).toBeCloseTo(burn(expectedAvailability(events, config.slos[0]!, NOW - HOUR, NOW), 0.99)!, 9)
    const budgetAt = (t: number) => { const c = expectedAvailability(events, config.slos[0]!, t - 30 * 24 * HOUR, t); return 1 - c.bad / (0.01 * c.total) }
    expect(hook.bodies[0]?.['budget_remaining']).toBeCloseTo(budgetAt(NOW), 9)
    expect(hook.bodies[1]?.['budget_remaining']).toBeCloseTo(budgetAt(NOW + 70 * MIN), 9)
    await hook.close()
  })

  it('retries a failing webhook with backoff, counts the failures, and never holds up evaluation', async () => {
    const [storeA, storeB] = [await freshDatabase('slo_eval_flaky'), await freshDatabase('slo_eval_dead')]
    const flaky = await receiver(2)
    const down = await receiver(1000)
    const recovers = createSloEvaluator({ store: storeA, config: configFor({ 'flux-flaky-hook': 'flux' }, flaky.url), log, now: () => NOW })
    const fails = createSloEvaluator({ store: storeB, config: configFor({ 'flux-dead-hook': 'flux' }, down.url), log, now: () => NOW })
    const before = logs.filter((l) => l.obj['code'] === 'API_SLO_WEBHOOK_FAILED').length
    expect((await fails.evaluateOnce()).map((t) => t.state)).toEqual(['firing'])
    // The row is written and the evaluation over while the webhook is still being retried.
    expect(fails.stats().webhook?.gaveUp).toBe(0)
    expect((await rowsOf(storeB, 'flux-dead-hook')).map((r) => r.state)).toEqual(['firing'])
    expect((await recovers.evaluateOnce()).map((t) => t.state)).toEqual(['firing'])
    await Promise.all([recovers.idle(), fails.idle()])
    expect(recovers.stats().webhook).toMatchObject({ delivered: 1, failedAttempts: 2, gaveUp: 0 })
    expect([flaky.hits(), flaky.bodies.length]).toEqual([3, 1])
    expect(fails.stats().webhook).toMatchObject({ delivered: 0, failedAttempts: 3, gaveUp: 1 })
    expect(down.hits()).toBe(3)
    expect(logs.filter((l) => l.obj['code'] === 'API_SLO_WEBHOOK_FAILED').length - before).toBe(5)
    await Promise.all([recovers.close(), fails.close(), flaky.close(), down.close()])
  })

  it('resolves a firing alert whose SLO was removed from the file', async () => {
    const store = await freshDatabase('slo_eval_removed')
    const hook = await receiver(0)
    const before = createSloEvaluator({ store, config: configFor({ 'flux-old': 'flux', 'sdxl-kept': 'sdxl' }, hook.url), log, now: () => NOW })
    expect((await before.evaluateOnce()).map((t) => `${t.slo} ${t.state}`)).toEqual(['flux-old firing'])
    await before.close()
    const after = createSloEvaluator({ store, config: configFor({ 'sdxl-kept': 'sdxl' }, hook.url), log, now: () => NOW + MIN })
    expect((await after.evaluateOnce()).map((t) => `${t.slo} ${t.state}`)).toEqual(['flux-old resolved'])
    expect(await after.evaluateOnce()).toEqual([])
    await after.close()
    expect((await rowsOf(store, 'flux-old')).map((r) => r.state)).toEqual(['firing', 'resolved'])
    expect(hook.bodies.map((b) => `${b['slo']} ${b['state']}`)).toEqual(['flux-old firing', 'flux-old resolved'])
    await hook.close()
  })

  it('on its timer, writes one firing row for an alert that stays firing', async () => {
    const store = await freshDatabase('slo_eval_timer')
    const hook = await receiver(0)
    const base = configFor({ 'flux-timer': 'flux' }, hook.url)
    const config: SloConfig = { ...base, evaluation: { ...base.evaluation, intervalMs: 30 } }
    const running = startSloEvaluator({ store, config, log, now: () => NOW })
    while (running.stats().evaluations < 4) await new Promise((r) => setTimeout(r, 20))
    await running.stop()
    expect(running.stats().failedEvaluations).toBe(0)
    expect((await rowsOf(store, 'flux-timer')).map((r) => r.state)).toEqual(['firing'])
    expect(hook.bodies.map((b) => b['state'])).toEqual(['firing'])
    await hook.close()
  })

  it('logs and counts a failed evaluation and keeps its timer going', async () => {
    const store = await freshDatabase('slo_eval_failing')
    const missing = createStore(store.client, 'slo_eval_never_migrated', 30)
    const base = configFor({ 'flux-nowhere': 'flux' }, 'http://127.0.0.1:9/')
    const running = startSloEvaluator({ store: missing, config: { ...base, evaluation: { ...base.evaluation, intervalMs: 30 } }, log, now: () => NOW })
    while (running.stats().failedEvaluations < 3) await new Promise((r) => setTimeout(r, 20))
    await running.stop()
    expect(running.stats()).toMatchObject({ evaluations: 0, transitions: 0 })
    expect(logs.filter((l) => l.level === 'error' && l.obj['code'] === 'API_SLO_EVALUATION_FAILED').length).toBeGreaterThanOrEqual(3)
  })
})

/**
 * SLI, error budget and burn rates of availability and latency SLOs (threshold and normalized)
 * against an embedded ClickHouse holding traffic with known bad fractions; expectations are
 * computed in test-traffic.ts from the events this test produced. Also GET /v1/slo and the SLO
 * report document over the same data.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ClickHouseClient } from '@clickhouse/client'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openClickHouse } from '../../migrations/clickhouse.ts'
import { migrate } from '../../migrations/runner.ts'
import { buildApi } from '../app.ts'
import { createStore, type Store } from '../store.ts'
import { insertFleet } from '../test-support/fleet-data.ts'
import { fillWindows } from '../test-support/windows-fill.ts'
import type { RequestEvent } from '../../schemas/generated/types.ts'
import { parseSloFile, type SloConfig, type SloDefinition } from './config.ts'
import { sloReport } from './report.ts'
import { sloStatuses } from './status-query.ts'
import { burn, expectedAvailability, expectedLatency, HOUR, MIN, NOW, traffic, type Counts } from './test-traffic.ts'

const root = mkdtempSync(join(tmpdir(), 'dw-slo-status-test-'))
const database = 'slo_status_test'
const DAY = 24 * HOUR
let client: ClickHouseClient
let store: Store
let api: FastifyInstance
const events: RequestEvent[] = [
  // sdxl: 2 % bad for three days, 5 % in the last hour, a 60 % burst in the last 5 minutes.
  ...traffic('sdxl', NOW - 3 * DAY, NOW - HOUR, 2000, 0.02),
  ...traffic('sdxl', NOW - HOUR, NOW - 5 * MIN, 550, 0.05),
  ...traffic('sdxl', NOW - 5 * MIN, NOW, 100, 0.6),
  // flux: the same, with a 90 % burst: enough to lift the 1 h window over 14.4× too.
  ...traffic('flux', NOW - 3 * DAY, NOW - HOUR, 2000, 0.02),
  ...traffic('flux', NOW - HOUR, NOW - 5 * MIN, 550, 0.05),
  ...traffic('flux', NOW - 5 * MIN, NOW, 100, 0.9),
  // tiny: three failures, nothing else.
  ...traffic('tiny', NOW - 3 * MIN, NOW, 3, 1),
]

const avail = (name: string, model: string, objective: number) => ({ name, objective, window: '30d', kind: 'availability', filters: { model: [model] } })
const FILE = {
  slos: [
    avail('sdxl-availability', 'sdxl', 99), avail('flux-availability', 'flux', 99), avail('sdxl-availability-95', 'sdxl', 95), avail('tiny-availability', 'tiny', 99),
    { name: 'sdxl-e2e', objective: 90, window: '28d', kind: 'latency', metric: 'e2e', thresholdMs: 8000, filters: { model: ['sdxl'] } },
    { name: 'fleet-inference-normalized', objective: 80, window: '30d', kind: 'latency', metric: 'inference', normalizedThresholdMs: 150 },
  ],
}
const config: SloConfig = parseSloFile(FILE)
const sloNamed = (name: string): SloDefinition => config.slos.find((s) => s.name === name) ?? (() => { throw new Error(name) })()
const expected = (slo: SloDefinition, from: number, to: number): Counts =>
  slo.kind === 'availability' ? expectedAvailability(events, slo, from, to) : expectedLatency(events, slo, from, to)

beforeAll(async () => {
  client = await openClickHouse({ dataPath: join(root, 'clickhouse'), database })
  await migrate(client, { database })
  await insertFleet(client, database, { requests: events, samples: [] })
  await fillWindows(client, database)
  store = createStore(client, database, 30)
  api = await buildApi({ clickhouse: client, database, docs: false, dashboard: false, slo: config, now: () => NOW, log: { level: 'error' } })
})

afterAll(async () => {
  await api?.close()
  await client?.close()
  rmSync(root, { recursive: true, force: true })
})

describe('SLO status', () => {
  it('gives each SLO the SLI, budget remaining and burn rates computed from the events', async () => {
    const statuses = await sloStatuses(store, config, NOW)
    expect(statuses.map((s) => s.slo.name)).toEqual(config.slos.map((s) => s.name))
    for (const status of statuses) {
      const slo = status.slo
      const w = expected(slo, NOW - slo.windowMs, NOW)
      expect(w.total, slo.name).toBeGreaterThan(0)
      expect(status.budget.events, slo.name).toEqual(w)
      expect(status.budget.sli).toBeCloseTo(w.good / w.total, 12)
      expect(status.budget.budgetRemaining).toBeCloseTo(1 - w.bad / ((1 - slo.objective) * w.total), 9)
      for (const p of status.pairs) {
        const short = expected(slo, NOW - p.pair.shortMs, NOW)
        const long = expected(slo, NOW - p.pair.longMs, NOW)
        expect([p.short, p.long], `${slo.name} ${p.pair.id}`).toEqual([short, long])
        expect(p.shortBurn).toBeCloseTo(burn(short, slo.objective) ?? NaN, 9)
        expect(p.longBurn).toBeCloseTo(burn(long, slo.objective) ?? NaN, 9)
        const b = [burn(short, slo.objective) ?? 0, burn(long, slo.objective) ?? 0]
        expect(p.firing, `${slo.name} ${p.pair.id}`).toBe(long.total >= 100 && b[0]! > p.pair.factor && b[1]! > p.pair.factor)
      }
    }
  })

  it('fires 5m/1h on a fast burn only when the 1 h window burns over 14.4× too', async () => {
    const [sdxl, flux] = await sloStatuses(store, { ...config, slos: [sloNamed('sdxl-availability'), sloNamed('flux-availability')] }, NOW)
    for (const [status, longFires] of [[sdxl, false], [flux, true]] as const) {
      const slo = status!.slo
      const short = burn(expected(slo, NOW - 5 * MIN, NOW), slo.objective)!
      const long = burn(expected(slo, NOW - HOUR, NOW), slo.objective)!
      // The scenario itself: both bursts burn the 5 minutes far over 14.4×, only flux's the hour.
      expect(short).toBeGreaterThan(14.4)
      expect(long > 14.4).toBe(longFires)
      expect(status!.pairs.find((p) => p.pair.id === '5m/1h')?.firing).toBe(longFires)
    }
  })

  it('holds back an alert on 3 requests (min-traffic guard), fires it when the guard allows 3', async () => {
    const tiny = sloNamed('tiny-availability')
    const [guarded] = await sloStatuses(store, { ...config, slos: [tiny] }, NOW)
    const [allowed] = await sloStatuses(store, { ...config, slos: [tiny], alerting: { ...config.alerting, minRequests: 3 } }, NOW)
    const fast = (s: typeof guarded) => s?.pairs.find((p) => p.pair.id === '5m/1h')
    expect(fast(guarded)?.long).toEqual({ total: 3, good: 0, bad: 3 })
    expect(fast(guarded)?.shortBurn).toBeCloseTo(100, 9)
    expect(fast(guarded)?.enoughTraffic).toBe(false)
    expect(guarded?.pairs.some((p) => p.firing)).toBe(false)
    expect(fast(allowed)?.firing).toBe(true)
  })

  it('counts a normalized latency threshold per step per megapixel', async () => {
    const slo = sloNamed('fleet-inference-normalized')
    const counts = expected(slo, NOW - slo.windowMs, NOW)
    // Known steps × megapixels make a mix of good and bad; a plain 150 ms threshold would pass none.
    expect(counts.good).toBeGreaterThan(0)
    expect(counts.bad).toBeGreaterThan(0)
    const plain = parseSloFile({ slos: [{ name: 'plain', objective: 80, window: '30d', kind: 'latency', metric: 'inference', thresholdMs: 150 }] })
    const [status] = await sloStatuses(store, plain, NOW)
    expect(status?.budget.events).toEqual(expected(plain.slos[0]!, NOW - 30 * DAY, NOW))
    expect(status?.budget.events.good).toBe(0)
  })
})

describe('GET /v1/slo and the SLO report', () => {
  it('answers every SLO with the expected budget and burn rates', async () => {
    const res = await api.inject({ method: 'GET', url: '/v1/slo' })
    expect(res.statusCode).toBe(200)
    const body = res.json() as { configured: boolean; slos: Array<{ name: string; events: number; bad: number; budget_remaining: number; burn_rates: Array<{ pair: string; long_burn_rate: number; firing: boolean }> }> }
    expect(body.configured).toBe(true)
    const flux = body.slos.find((s) => s.name === 'flux-availability')
    const slo = sloNamed('flux-availability')
    const w = expected(slo, NOW - 30 * DAY, NOW)
    expect([flux?.events, flux?.bad]).toEqual([w.total, w.bad])
    expect(flux?.budget_remaining).toBeCloseTo(1 - w.bad / (0.01 * w.total), 9)
    expect(flux?.burn_rates.find((b) => b.pair === '5m/1h')?.long_burn_rate).toBeCloseTo(burn(expected(slo, NOW - HOUR, NOW), 0.99)!, 9)
  })

  it('refuses an unknown SLO and unknown parameters with a 400', async () => {
    expect((await api.inject({ method: 'GET', url: '/v1/slo?slo=nope' })).json()).toMatchObject({ status: 400, code: 'API_BAD_REQUEST' })
    expect((await api.inject({ method: 'GET', url: '/v1/slo/alerts?severity=page' })).statusCode).toBe(400)
  })

  it('reports SLI over the range and budget over the SLO window', async () => {
    const doc = await sloReport(store, { from: NOW - DAY, to: NOW, now: NOW, config })
    const rows = doc.sections.find((s) => s.id === 'slos')?.table?.rows ?? []
    expect(rows.map((r) => r['slo'])).toEqual(config.slos.map((s) => s.name))
    for (const slo of config.slos) {
      const row = rows.find((r) => r['slo'] === slo.name)
      const range = expected(slo, NOW - DAY, NOW)
      const w = expected(slo, NOW - slo.windowMs, NOW)
      expect([row?.['range_events'], row?.['range_bad'], row?.['window_events'], row?.['window_bad']]).toEqual([range.total, range.bad, w.total, w.bad])
      expect(row?.['budget_remaining'] as number).toBeCloseTo(100 * (1 - w.bad / ((1 - slo.objective) * w.total)), 7)
    }
    const burns = doc.sections.find((s) => s.id === 'burn_rates')?.table?.rows ?? []
    expect(burns).toHaveLength(config.slos.length * 4)

    const json = await api.inject({ method: 'GET', url: `/v1/reports/slo?from=${new Date(NOW - DAY).toISOString()}&to=${new Date(NOW).toISOString()}` })
    expect(json.statusCode).toBe(200)
    expect(json.json()).toEqual(JSON.parse(JSON.stringify(doc)))
    const md = await api.inject({ method: 'GET', url: '/v1/reports/slo?format=markdown' })
    expect([md.statusCode, md.headers['content-type']]).toEqual([200, 'text/markdown; charset=utf-8'])
    for (const slo of config.slos) expect(md.body).toContain(slo.name)
    const csv = await api.inject({ method: 'GET', url: '/v1/reports/slo', headers: { accept: 'text/csv' } })
    expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8')
  })
})

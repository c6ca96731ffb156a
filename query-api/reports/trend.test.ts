/**
 * The trend report over 20 synthetic days written as the transformer writes them (raw events,
 * whose materialized views fill the hourly rollups, and window tables filled from them): volume
 * grows at a known rate, one model's p95 latency and error rate step up on known days, another
 * model stays steady. Expectations come from the generated events.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ClickHouseClient } from '@clickhouse/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openClickHouse } from '../../migrations/clickhouse.ts'
import { migrate } from '../../migrations/runner.ts'
import type { GpuSample, RequestEvent } from '../../schemas/generated/types.ts'
import { sampleGpuSample, sampleRequestEvent } from '../../schemas/test-fixtures.ts'
import type { FastifyInstance } from 'fastify'
import { buildApi } from '../app.ts'
import { createStore, type Store } from '../store.ts'
import { digestBounds, insertFleet } from '../test-support/fleet-data.ts'
import { fillWindows } from '../test-support/windows-fill.ts'
import type { ReportDocument } from './document.ts'
import { DAY_MS, trendReport } from './trend.ts'

const DAYS = 20
const TO = Math.floor(Date.now() / DAY_MS) * DAY_MS
const FROM = TO - DAYS * DAY_MS
const RATE = Math.log(1.1) / 7 // +10 % per week
const P95_STEP_DAY = 12
const ERROR_STEP_DAY = 15
const root = mkdtempSync(join(tmpdir(), 'dw-trend-'))
const database = 'reports_trend'
let client: ClickHouseClient
let store: Store
let api: FastifyInstance
const requests: RequestEvent[] = []
const samples: GpuSample[] = []

/** Deterministic uniform numbers in (0, 1). */
function lcg(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return (s + 0.5) / 4294967296
  }
}

function generate(): void {
  const rand = lcg(7)
  for (const model of ['steady', 'regressed']) {
    for (let d = 0; d < DAYS; d++) {
      const n = Math.round(400 * Math.exp(RATE * d))
      for (let i = 0; i < n; i++) {
        const received = FROM + d * DAY_MS + Math.floor(((i + 0.5) / n) * (DAY_MS - 120_000))
        // Log-normal service time (Box–Muller), 1.5× from the step day for the regressed model.
        const z = Math.sqrt(-2 * Math.log(rand())) * Math.cos(2 * Math.PI * rand())
        const slow = model === 'regressed' && d >= P95_STEP_DAY ? 1.5 : 1
        const e2e = Math.round(2000 * Math.exp(0.25 * z) * slow)
        const failing = i % (model === 'regressed' && d >= ERROR_STEP_DAY ? 10 : 50) === 0
        requests.push(sampleRequestEvent({
          event_id: `${model}-${d}-${i}`, request_id: `${model}-${d}-${i}`, model, tenant: i % 3 === 0 ? 'acme' : 'globex',
          received_at: received, dequeued_at: received + 10, inference_start_at: received + 20, inference_end_at: received + e2e - 50, completed_at: received + e2e,
          status: failing ? 'error' : 'ok', error_type: failing ? 'internal' : null, http_status: failing ? 500 : 200,
        }))
      }
    }
  }
  for (let d = 0; d < DAYS; d++) {
    for (let h = 0; h < 24; h++) samples.push(sampleGpuSample({ sampled_at: FROM + d * DAY_MS + h * 3_600_000 + 1000, util_gpu_pct: 50 + d }))
  }
}

beforeAll(async () => {
  generate()
  client = await openClickHouse({ dataPath: join(root, 'clickhouse'), database })
  await migrate(client, { database })
  await insertFleet(client, database, { requests, samples })
  await fillWindows(client, database)
  store = createStore(client, database, 30)
  api = await buildApi({ clickhouse: client, database, docs: false, dashboard: false, now: () => TO })
}, 60_000)

afterAll(async () => {
  await api?.close()
  await client?.close()
  rmSync(root, { recursive: true, force: true })
})

const rows = (doc: ReportDocument, id: string) => doc.sections.find((s) => s.id === id)!.table!.rows

function ols(xs: number[], ys: number[]) {
  const n = xs.length
  const mx = xs.reduce((a, b) => a + b) / n
  const my = ys.reduce((a, b) => a + b) / n
  const b = xs.reduce((s, x, i) => s + (x - mx) * (ys[i]! - my), 0) / xs.reduce((s, x) => s + (x - mx) ** 2, 0)
  return { a: my - b * mx, b }
}

describe('trend report', () => {
  it('gives daily volume, error rate, p95 and GPU utilization as produced', async () => {
    const doc = await trendReport(store, { from: FROM, to: TO, now: TO, forecastDays: 7, baselineDays: 7, filters: { models: ['regressed'] } })
    const daily = rows(doc, 'daily')
    expect(daily).toHaveLength(DAYS)
    for (let d = 0; d < DAYS; d++) {
      const mine = requests.filter((e) => e.model === 'regressed' && e.completed_at >= FROM + d * DAY_MS && e.completed_at < FROM + (d + 1) * DAY_MS)
      const errors = mine.filter((e) => e.status !== 'ok').length
      const ok = mine.filter((e) => e.status === 'ok').map((e) => e.completed_at - e.received_at).sort((a, b) => a - b)
      const r = daily[d]!
      expect([r['day'], r['requests'], r['errors']]).toEqual([new Date(FROM + d * DAY_MS).toISOString().slice(0, 10), mine.length, errors])
      expect(r['error_rate']).toBeCloseTo(errors / mine.length, 12)
      const [lo, hi] = digestBounds(ok, 0.95)
      expect(r['p95_e2e_ms']).toBeGreaterThanOrEqual(lo)
      expect(r['p95_e2e_ms']).toBeLessThanOrEqual(hi)
      expect(r['gpu_util_mean_pct']).toBeCloseTo(50 + d, 9)
    }
    const weekly = rows(doc, 'weekly')
    expect(weekly.reduce((s, w) => s + (w['requests'] as number), 0)).toBe(daily.reduce((s, r) => s + (r['requests'] as number), 0))
    expect(weekly.reduce((s, w) => s + (w['days'] as number), 0)).toBe(DAYS)
    for (const w of weekly) {
      const start = Date.parse(`${String(w['week'])}T00:00:00Z`)
      const ok = requests
        .filter((e) => e.model === 'regressed' && e.status === 'ok' && e.completed_at >= Math.max(start, FROM) && e.completed_at < Math.min(start + 7 * DAY_MS, TO))
        .map((e) => e.completed_at - e.received_at)
        .sort((a, b) => a - b)
      const [lo, hi] = digestBounds(ok, 0.95)
      expect(w['p95_e2e_ms']).toBeGreaterThanOrEqual(lo)
      expect(w['p95_e2e_ms']).toBeLessThanOrEqual(hi)
    }
  })

  it('measures the known growth rate and forecasts from the same fit', async () => {
    const doc = await trendReport(store, { from: FROM, to: TO, now: TO, forecastDays: 7, baselineDays: 7, filters: { models: ['steady'] } })
    const counts = Array.from({ length: DAYS }, (_, d) => requests.filter((e) => e.model === 'steady' && e.completed_at >= FROM + d * DAY_MS && e.completed_at < FROM + (d + 1) * DAY_MS).length)
    const fit = ols(counts.map((_, i) => i), counts.map((c) => Math.log(c)))
    const [growth] = rows(doc, 'growth')
    expect(growth!['growth_pct_per_week']).toBeCloseTo((Math.exp(7 * fit.b) - 1) * 100, 9)
    expect(Math.abs((growth!['growth_pct_per_week'] as number) - 10)).toBeLessThan(0.2) // only rounding of the counts
    expect(growth!['standard_error_pct']).toBeLessThan(0.1)
    const forecast = rows(doc, 'forecast')
    expect(forecast).toHaveLength(7)
    forecast.forEach((f, k) => {
      expect(f['day']).toBe(new Date(TO + k * DAY_MS).toISOString().slice(0, 10))
      expect(f['requests_forecast']).toBeCloseTo(Math.exp(fit.a + fit.b * (DAYS + k)), 6)
      expect(f['low_95']).toBeLessThan(f['requests_forecast'] as number)
      expect(f['high_95']).toBeGreaterThan(f['requests_forecast'] as number)
    })
  })

  it('finds the injected regressions on the days they started, and none in the steady model', async () => {
    const regressed = await trendReport(store, { from: FROM, to: TO, now: TO, forecastDays: 7, baselineDays: 7, filters: { models: ['regressed'] } })
    const found = rows(regressed, 'regressions').map((r) => [r['metric'], r['started'], r['ended']])
    const day = (d: number) => new Date(FROM + d * DAY_MS).toISOString().slice(0, 10)
    expect(found).toEqual([['p95 e2e latency', day(P95_STEP_DAY), 'ongoing'], ['error rate', day(ERROR_STEP_DAY), 'ongoing']])
    const steady = await trendReport(store, { from: FROM, to: TO, now: TO, forecastDays: 7, baselineDays: 7, filters: { models: ['steady'] } })
    expect(rows(steady, 'regressions')).toEqual([])
  })

  it('answers through the route for ranges longer than the data routes allow', async () => {
    const res = await api.inject({ method: 'GET', url: '/v1/reports/trend?from=-90d&model=regressed&forecastDays=3&format=markdown' })
    expect(res.statusCode, res.body).toBe(200)
    expect(res.headers['content-type']).toContain('text/markdown')
    expect(res.body).toContain(`| p95 e2e latency | ms | ${new Date(FROM + P95_STEP_DAY * DAY_MS).toISOString().slice(0, 10)} |`)
    const tooLong = await api.inject({ method: 'GET', url: '/v1/reports/trend?from=-500d' })
    expect(tooLong.json()).toMatchObject({ status: 400, code: 'API_BAD_TIME_RANGE' })
    const short = await api.inject({ method: 'GET', url: '/v1/reports/trend?from=-2d' })
    expect(short.json()).toMatchObject({ status: 400, code: 'API_BAD_TIME_RANGE' })
  })

  it('refuses a range without enough whole days', async () => {
    await expect(trendReport(store, { from: TO - 2 * DAY_MS, to: TO, now: TO, forecastDays: 7, baselineDays: 7, filters: {} })).rejects.toMatchObject({ code: 'API_BAD_TIME_RANGE' })
  })
})

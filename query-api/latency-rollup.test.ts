/**
 * Percentile rollups against raw events: eight hours of simulated fleet traffic written into a
 * migrated embedded ClickHouse (the materialized views fill latency_rollup_1m / _1h), then the
 * latency routes asked the same questions from raw events and from each rollup tier. Counts
 * must equal those computed here from the simulated events; percentiles must lie within the
 * t-digest error of the exact ones computed here.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ClickHouseClient } from '@clickhouse/client'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openClickHouse } from '../migrations/clickhouse.ts'
import { migrate } from '../migrations/runner.ts'
import type { RequestEvent } from '../schemas/generated/types.ts'
import { buildApi } from './app.ts'
import { digestBounds, insertFleet, metricValue, resolutionBucket, simulateFleet, stepsBucket, type Fleet } from './test-support/fleet-data.ts'

const HOUR = 3_600_000
// A recent hour boundary (TTLs drop old rows at insert); data covers the 8 hours before it.
const END = Math.floor(Date.now() / HOUR) * HOUR
const START = END - 8 * HOUR
// Unaligned edges: the rollup answer must take the partial minutes/hours from raw events.
const FROM = START + 17_250
const TO = END - 23_500
const iso = (ms: number) => new Date(ms).toISOString()
const root = mkdtempSync(join(tmpdir(), 'dw-rollup-test-'))
const database = 'rollup_test'
let client: ClickHouseClient
let api: FastifyInstance
let fleet: Fleet

beforeAll(async () => {
  fleet = simulateFleet({ seed: 7, requestRate: 0.4, sampleIntervalMs: 600_000 }, START, 8 * HOUR)
  client = await openClickHouse({ dataPath: join(root, 'clickhouse'), database })
  await migrate(client, { database })
  await insertFleet(client, database, fleet)
  // Hourly tier from 4 h so that an 8-hour range exercises it; 1-min tier from 1 h.
  api = await buildApi({ clickhouse: client, database, docs: false, now: () => END, limits: { rollupMinRangeSeconds: 3600, hourlyRollupMinRangeSeconds: 4 * 3600 } })
})

afterAll(async () => {
  await api?.close()
  await client?.close()
  rmSync(root, { recursive: true, force: true })
})

type Metric = 'e2e' | 'queue' | 'inference' | 'ms_per_step'
const inRange = (e: RequestEvent, from = FROM, to = TO) => e.completed_at >= from && e.completed_at < to

function exactByGroup(metric: Metric, key: (e: RequestEvent) => string, from = FROM, to = TO): Map<string, number[]> {
  const out = new Map<string, number[]>()
  for (const e of fleet.requests) {
    if (e.status !== 'ok' || !inRange(e, from, to)) continue
    const v = metricValue(e, metric)
    if (v === null) continue
    const list = out.get(key(e)) ?? []
    list.push(v)
    out.set(key(e), list)
  }
  for (const list of out.values()) list.sort((a, b) => a - b)
  return out
}

type Group = { group: string | null; count: number; percentiles: Array<{ quantile: number; value_ms: number }> }

function expectAgrees(groups: Group[], exact: Map<string, number[]>): void {
  expect(new Map(groups.map((g) => [g.group ?? '', g.count]))).toEqual(new Map([...exact].map(([k, v]) => [k, v.length])))
  for (const g of groups) {
    const sorted = exact.get(g.group ?? '') ?? []
    for (const p of g.percentiles) {
      const [lo, hi] = digestBounds(sorted, p.quantile)
      expect(p.value_ms, `${g.group} p${p.quantile}`).toBeGreaterThanOrEqual(lo)
      expect(p.value_ms, `${g.group} p${p.quantile}`).toBeLessThanOrEqual(hi)
    }
  }
}

async function get(url: string) {
  const res = await api.inject({ method: 'GET', url })
  expect(res.statusCode, res.body).toBe(200)
  return res.json()
}

describe('latency rollups agree with raw events and with the exact percentiles', () => {
  it('has enough simulated traffic to mean something', () => {
    expect(fleet.requests.filter((e) => inRange(e)).length).toBeGreaterThan(8_000)
  })

  for (const metric of ['e2e', 'queue', 'inference', 'ms_per_step'] as const) {
    it(`answers ${metric} per model from raw, 1-min and 1-h sources alike`, async () => {
      const exact = exactByGroup(metric, (e) => e.model)
      const base = `/v1/latency/percentiles?from=${iso(FROM)}&to=${iso(TO)}&metric=${metric}&groupBy=model&quantiles=0.1,0.5,0.9,0.99`
      const raw = await get(`${base}&source=raw`)
      expect(raw.source).toBe('raw')
      expectAgrees(raw.groups, exact)
      const hourly = await get(base) // auto: 8 h ≥ 4 h
      expect(hourly.source).toBe('rollup_1h')
      expectAgrees(hourly.groups, exact)
      const minute = await get(`${base.replace(`from=${iso(FROM)}`, `from=${iso(FROM + 5 * HOUR)}`)}`)
      expect(minute.source).toBe('rollup_1m')
      expectAgrees(minute.groups, exactByGroup(metric, (e) => e.model, FROM + 5 * HOUR))
    })
  }

  it('groups by the steps and resolution buckets like the JS definitions', async () => {
    for (const [dim, key] of [['steps_bucket', (e: RequestEvent) => stepsBucket(e.steps)], ['resolution_bucket', (e: RequestEvent) => resolutionBucket(e.width, e.height)]] as const) {
      const exact = exactByGroup('e2e', key)
      expect(exact.size).toBeGreaterThan(1)
      const url = `/v1/latency/percentiles?from=${iso(FROM)}&to=${iso(TO)}&groupBy=${dim}&quantiles=0.5,0.95`
      expectAgrees((await get(`${url}&source=rollup`)).groups, exact)
      expectAgrees((await get(`${url}&source=raw`)).groups, exact)
    }
  })

  it('applies filters in both sources', async () => {
    const model = fleet.requests[0]!.model
    const gpu = fleet.requests.find((e) => e.model === model)!.gpu_type
    const exact = exactByGroup('e2e', (e) => (e.model === model && e.gpu_type === gpu ? 'x' : 'skip'))
    exact.delete('skip')
    for (const source of ['raw', 'rollup']) {
      const body = await get(`/v1/latency/percentiles?from=${iso(FROM)}&to=${iso(TO)}&model=${encodeURIComponent(model)}&gpu_type=${encodeURIComponent(gpu)}&source=${source}`)
      expectAgrees(body.groups.map((g: Group) => ({ ...g, group: 'x' })), exact)
    }
  })

  it('answers series per hour whose buckets agree with the exact ones', async () => {
    const body = await get(`/v1/latency/series?from=${iso(START)}&to=${iso(END)}&step=1h&quantiles=0.5,0.95`)
    expect(body.source).toBe('rollup_1h')
    expect(body.series).toHaveLength(1)
    const points = body.series[0].points as Array<{ time: string; count: number; values_ms: number[] }>
    expect(points).toHaveLength(8)
    for (const p of points) {
      const t = Date.parse(p.time)
      const sorted = exactByGroup('e2e', () => '', t, t + HOUR).get('') ?? []
      expect(p.count).toBe(sorted.length)
      body.quantiles.forEach((q: number, i: number) => {
        const [lo, hi] = digestBounds(sorted, q)
        expect(p.values_ms[i]).toBeGreaterThanOrEqual(lo)
        expect(p.values_ms[i]).toBeLessThanOrEqual(hi)
      })
    }
    const raw = await get(`/v1/latency/series?from=${iso(START)}&to=${iso(END)}&step=1h&quantiles=0.5,0.95&source=raw`)
    expect(raw.series[0].points.map((p: { count: number }) => p.count)).toEqual(points.map((p) => p.count))
  })

  it('answers a forced rollup query inside one minute from raw events only', async () => {
    const from = START + 4 * HOUR + 10_000
    const to = from + 40_000
    const body = await get(`/v1/latency/percentiles?from=${iso(from)}&to=${iso(to)}&source=rollup&quantiles=0.5`)
    expect(body.source).toBe('rollup_1m')
    const exact = exactByGroup('e2e', () => '', from, to)
    expect(exact.get('')?.length).toBeGreaterThan(0)
    expectAgrees(body.groups.map((g: Group) => ({ ...g, group: '' })), exact)
  })

  it('falls back to raw events for what the rollups do not hold, and says why when forced', async () => {
    const byWorker = await get(`/v1/latency/percentiles?from=${iso(FROM)}&to=${iso(TO)}&groupBy=worker_id`)
    expect(byWorker.source).toBe('raw')
    expectAgrees(byWorker.groups, exactByGroup('e2e', (e) => e.worker_id))
    expect((await get(`/v1/latency/percentiles?from=${iso(FROM)}&to=${iso(TO)}&metric=denoise`)).source).toBe('raw')
    const forced = await api.inject({ method: 'GET', url: `/v1/latency/percentiles?from=${iso(FROM)}&to=${iso(TO)}&groupBy=worker_id&source=rollup` })
    expect(forced.statusCode).toBe(400)
    expect(forced.json().detail).toMatch(/groupBy=worker_id is not a dimension of the 1-hour rollup; groupBy=worker_id is not a dimension of the 1-minute rollup/)
    const short = await get(`/v1/latency/percentiles?from=${iso(END - 30 * 60_000)}&to=${iso(END)}`)
    expect(short.source).toBe('raw')

    // The sampler is a dimension of the 1-hour tier only: 2 h (under the 4-h threshold) read raw,
    // unless a rollup is asked for, which takes the hourly tier with raw edges.
    const from = END - 2 * HOUR - 7_000
    const exact = exactByGroup('e2e', (e) => e.sampler, from, END)
    const auto = await get(`/v1/latency/percentiles?from=${iso(from)}&to=${iso(END)}&groupBy=sampler`)
    expect(auto.source).toBe('raw')
    expectAgrees(auto.groups, exact)
    const hourly = await get(`/v1/latency/percentiles?from=${iso(from)}&to=${iso(END)}&groupBy=sampler&source=rollup`)
    expect(hourly.source).toBe('rollup_1h')
    expectAgrees(hourly.groups, exact)
  })
})

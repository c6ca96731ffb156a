/**
 * The capacity and cost reports (and their routes) over one simulated hour of a fleet written
 * into an embedded ClickHouse as the transformer writes it. Every expected number is recomputed
 * here from the simulated events (test-support/capacity-expected.ts), and the measured service
 * times are checked against the fleet model the simulator was configured with.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ClickHouseClient } from '@clickhouse/client'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createFleetSimulator } from '../../ingest/simulator/event-generator.ts'
import { openClickHouse } from '../../migrations/clickhouse.ts'
import { migrate } from '../../migrations/runner.ts'
import { buildApi } from '../app.ts'
import { createStore, type Store } from '../store.ts'
import { digestBounds, insertFleet, resolutionBucket, simulateFleet, stepsBucket, type Fleet } from '../test-support/fleet-data.ts'
import { fillWindows } from '../test-support/windows-fill.ts'
import { capacityReport } from './capacity.ts'
import { costReport } from './cost.ts'
import type { ReportDocument } from './document.ts'
import { DEFAULT_REPORT_CONFIG } from './report-config.ts'
import { closedFormWaitTail, expectedPools, serviceMs } from './test-support/capacity-expected.ts'

const MIN = 60_000
const END = Math.floor(Date.now() / (10 * MIN)) * 10 * MIN
const START = END - 60 * MIN
const FLEET = { seed: 23, requestRate: 3, hosts: 3, gpusPerHost: 2, sampleIntervalMs: 5_000 }
const root = mkdtempSync(join(tmpdir(), 'dw-reports-'))
const database = 'reports_capacity_cost'
let client: ClickHouseClient
let store: Store
let api: FastifyInstance
let fleet: Fleet

beforeAll(async () => {
  fleet = simulateFleet(FLEET, START, 60 * MIN)
  client = await openClickHouse({ dataPath: join(root, 'clickhouse'), database })
  await migrate(client, { database })
  await insertFleet(client, database, fleet)
  await fillWindows(client, database)
  store = createStore(client, database, 30)
  api = await buildApi({ clickhouse: client, database, docs: false, dashboard: false, now: () => END })
}, 60_000)

afterAll(async () => {
  await api?.close()
  await client?.close()
  rmSync(root, { recursive: true, force: true })
})

const table = (doc: ReportDocument, id: string) => doc.sections.find((s) => s.id === id)!.table!.rows
const poolKey = (model: unknown, gpu: unknown) => `${String(model)}|${String(gpu)}`

describe('capacity report', () => {
  const waitMs = 500
  let doc: ReportDocument
  beforeAll(async () => {
    doc = await capacityReport(store, { from: START, to: END, now: END, targetLoad: { kind: 'multiplier', value: 2 }, targetP95QueueWaitMs: waitMs, peakWindowSeconds: 300, filters: {} })
  })

  it('measures each pool exactly as recomputed from the events, and sizes it with Erlang C', () => {
    const expected = expectedPools(fleet.requests, START, END, 300_000, (e) => poolKey(e.model, e.gpu_type))
    const rows = table(doc, 'pools')
    expect(rows.length).toBe(expected.size)
    expect(rows.length).toBeGreaterThanOrEqual(5)
    for (const r of rows) {
      const e = expected.get(poolKey(r['model'], r['gpu_type']))!
      expect([r['requests'], r['gpus']]).toEqual([e.requests, e.gpus])
      expect(r['service_mean_ms']).toBeCloseTo(e.serviceMeanMs, 6)
      const [lo95, hi95] = digestBounds(e.serviceSorted, 0.95)
      expect(r['service_p95_ms']).toBeGreaterThanOrEqual(lo95)
      expect(r['service_p95_ms']).toBeLessThanOrEqual(hi95)
      expect(r['busy_fraction']).toBeCloseTo(e.serviceSumMs / (e.gpus * (END - START)), 9)
      expect(r['images_per_min_per_gpu']).toBeCloseTo((60_000 * e.imagesOk) / e.serviceSumMs, 9)
      expect(r['peak_rps']).toBeCloseTo(e.peakArrivals / 300, 12)
      // GPUs needed: the smallest c whose textbook P(wait > t) ≤ 5 % at twice the peak.
      const lambda = (2 * e.peakArrivals) / 300
      const c = r['replicas_needed'] as number
      expect(r['target_rps']).toBeCloseTo(lambda, 12)
      expect(closedFormWaitTail(c, lambda, e.serviceMeanMs / 1000, waitMs / 1000)).toBeLessThanOrEqual(0.05)
      if (c > 1) expect(closedFormWaitTail(c - 1, lambda, e.serviceMeanMs / 1000, waitMs / 1000)).toBeGreaterThan(0.05)
      expect(r['replicas_delta']).toBe(c - e.gpus)
    }
  })

  it('agrees with the service time the simulator was configured with', () => {
    // workerCapacity = 1000 / mean GPU occupancy per request over the model's request mix (Monte Carlo).
    const sim = createFleetSimulator(FLEET)
    for (const r of table(doc, 'pools')) {
      const w = sim.fleet.workers.find((x) => x.model.name === r['model'] && x.gpu.type === r['gpu_type'])!
      const truthMs = 1000 / w.capacity
      expect(Math.abs((r['service_mean_ms'] as number) / truthMs - 1), `${String(r['model'])} on ${String(r['gpu_type'])}`).toBeLessThan(0.15)
    }
  })

  it('breaks pools down by resolution and steps bucket', () => {
    const key = (e: { model: string; gpu_type: string; width: number; height: number; steps: number }) => `${e.model}|${e.gpu_type}|${resolutionBucket(e.width, e.height)}|${stepsBucket(e.steps)}`
    const expected = expectedPools(fleet.requests, START, END, 300_000, key)
    const rows = table(doc, 'buckets')
    expect(rows.length).toBe(expected.size)
    for (const r of rows) {
      const e = expected.get(`${String(r['model'])}|${String(r['gpu_type'])}|${String(r['resolution_bucket'])}|${String(r['steps_bucket'])}`)!
      expect(r['requests']).toBe(e.requests)
      if (e.served > 0) expect(r['service_mean_ms']).toBeCloseTo(e.serviceMeanMs, 6)
      expect(r['peak_rps']).toBeCloseTo(e.peakArrivals / 300, 12)
    }
  })

  it('sizes for an absolute target load per pool and refuses a bad one', async () => {
    const res = await api.inject({ method: 'GET', url: `/v1/reports/capacity?from=${new Date(START).toISOString()}&to=${new Date(END).toISOString()}&targetLoad=5&targetP95QueueWaitMs=500&model=sd15&format=json` })
    expect(res.statusCode, res.body).toBe(200)
    const rows = table(res.json(), 'pools')
    expect(rows.map((r) => r['model'])).toEqual(rows.map(() => 'sd15'))
    for (const r of rows) {
      expect(r['target_rps']).toBe(5)
      const c = r['replicas_needed'] as number
      const s = (r['service_mean_ms'] as number) / 1000
      expect(closedFormWaitTail(c, 5, s, 0.5)).toBeLessThanOrEqual(0.05)
      expect(closedFormWaitTail(c - 1, 5, s, 0.5)).toBeGreaterThan(0.05)
    }
    const bad = await api.inject({ method: 'GET', url: '/v1/reports/capacity?targetLoad=lots' })
    expect(bad.statusCode).toBe(400)
    expect(bad.headers['content-type']).toContain('application/problem+json')
    expect(bad.json().code).toBe('API_BAD_REQUEST')
    const unknown = await api.inject({ method: 'GET', url: '/v1/reports/capacity?colour=red' })
    expect(unknown.json()).toMatchObject({ status: 400, code: 'API_BAD_REQUEST' })
  })
})

describe('cost report', () => {
  const prices = { currency: 'EUR', gpuHourly: { H100: 2.5, 'A100-40GB': 1.5 } } // L4 deliberately unpriced
  const cap = 60_000
  let doc: ReportDocument
  beforeAll(async () => {
    doc = await costReport(store, { from: START, to: END, now: END, prices, pricesSource: 'test', gapCapMs: cap })
  })

  function expectedGpuMs(): Map<string, { ms: number; name: string }> {
    const by = new Map<string, number[]>()
    const names = new Map<string, string>()
    for (const s of fleet.samples) {
      if (s.sampled_at < START || s.sampled_at >= END) continue
      by.set(s.gpu_uuid, [...(by.get(s.gpu_uuid) ?? []), s.sampled_at])
      names.set(s.gpu_uuid, s.gpu_name)
    }
    const out = new Map<string, { ms: number; name: string }>()
    for (const [uuid, ts] of by) {
      ts.sort((a, b) => a - b)
      let ms = 0
      for (let i = 0; i < ts.length; i++) {
        const gap = i + 1 < ts.length ? ts[i + 1]! - ts[i]! : i > 0 ? ts[i]! - ts[i - 1]! : cap
        ms += Math.min(gap, cap)
      }
      out.set(uuid, { ms, name: names.get(uuid)! })
    }
    return out
  }

  it('bills each GPU its sampled time at its price, and lists the unpriced ones', () => {
    const gpuMs = expectedGpuMs()
    const typeOf = new Map(fleet.requests.map((e) => [e.gpu_uuid, e.gpu_type]))
    const price = (uuid: string) => ({ 'H100-80GB': 2.5, 'A100-40GB': 1.5 } as Record<string, number>)[typeOf.get(uuid) ?? ''] ?? null
    let total = 0
    let seconds = 0
    for (const [uuid, g] of gpuMs) {
      seconds += g.ms / 1000
      const p = price(uuid)
      if (p !== null) total += (g.ms / 3_600_000) * p
    }
    const [summary] = table(doc, 'summary')
    expect(summary!['gpu_seconds']).toBeCloseTo(seconds, 6)
    expect(summary!['cost']).toBeCloseTo(total, 9)
    const unpriced = table(doc, 'unpriced')
    const expectedUnpriced = [...gpuMs.keys()].filter((u) => price(u) === null).sort()
    expect(expectedUnpriced.length).toBeGreaterThan(0)
    expect(unpriced.map((r) => r['gpu_uuid']).sort()).toEqual(expectedUnpriced)
    expect(unpriced.every((r) => r['gpu_type'] === 'L4-24GB')).toBe(true)
    expect(table(doc, 'by_gpu_type').find((r) => r['gpu_type'] === 'L4-24GB')!['cost']).toBeNull()
  })

  it('attributes busy cost to model and tenant and shares idle cost so the parts add up', () => {
    const gpuMs = expectedGpuMs()
    const typeOf = new Map(fleet.requests.map((e) => [e.gpu_uuid, e.gpu_type]))
    const hourly: Record<string, number> = { 'H100-80GB': 2.5, 'A100-40GB': 1.5 }
    const busyByGpu = new Map<string, number>()
    const inRange = fleet.requests.filter((e) => e.completed_at >= START && e.completed_at < END)
    for (const e of inRange) busyByGpu.set(e.gpu_uuid, (busyByGpu.get(e.gpu_uuid) ?? 0) + (serviceMs(e) ?? 0))
    const tenants = new Map<string, { busy: number; loaded: number; images: number }>()
    for (const e of inRange) {
      const t = tenants.get(e.tenant) ?? { busy: 0, loaded: 0, images: 0 }
      tenants.set(e.tenant, t)
      if (e.status === 'ok') t.images += e.images
      const p = hourly[e.gpu_type]
      const g = gpuMs.get(e.gpu_uuid)
      if (p === undefined || !g) continue
      const svc = serviceMs(e) ?? 0
      const gpuBusy = busyByGpu.get(e.gpu_uuid)!
      const share = gpuBusy > 0 ? svc / gpuBusy : 0
      t.busy += (Math.min(gpuBusy, g.ms) * share / 3_600_000) * p
      t.loaded += (g.ms / 3_600_000) * p * share
    }
    const rows = table(doc, 'by_tenant').filter((r) => r['tenant'] !== '(idle GPUs, no requests)')
    expect(rows.length).toBe(tenants.size)
    for (const r of rows) {
      const t = tenants.get(String(r['tenant']))!
      expect(r['busy_cost']).toBeCloseTo(t.busy, 9)
      expect(r['loaded_cost']).toBeCloseTo(t.loaded, 9)
      expect(r['images']).toBe(t.images)
      if (t.images > 0) expect(r['cost_per_image']).toBeCloseTo(t.loaded / t.images, 12)
    }
    // Loaded costs (with the idle-GPU row) add up to the priced total, by model and by tenant.
    const [summary] = table(doc, 'summary')
    for (const id of ['by_model', 'by_tenant']) {
      expect(table(doc, id).reduce((s, r) => s + (r['loaded_cost'] as number), 0)).toBeCloseTo(summary!['cost'] as number, 9)
    }
    // Idle is what is not busy, priced GPUs only.
    const idle = [...gpuMs].reduce((s, [uuid, g]) => {
      const p = hourly[typeOf.get(uuid) ?? '']
      return p === undefined ? s : s + ((g.ms - Math.min(busyByGpu.get(uuid) ?? 0, g.ms)) / 3_600_000) * p
    }, 0)
    expect(summary!['idle_cost']).toBeCloseTo(idle, 9)
  })

  it('renders through the route in every format', async () => {
    const base = `/v1/reports/cost?from=${new Date(START).toISOString()}&to=${new Date(END).toISOString()}`
    const html = await api.inject({ method: 'GET', url: base, headers: { accept: 'text/html' } })
    expect(html.headers['content-type']).toContain('text/html')
    expect(html.body).toContain('<h2>Unpriced GPUs</h2>')
    const csv = await api.inject({ method: 'GET', url: `${base}&format=csv` })
    expect(csv.body).toContain('# section: by_tenant\r\ntenant,requests,')
    const md = await api.inject({ method: 'GET', url: `${base}&format=markdown` })
    expect(md.headers['content-type']).toContain('text/markdown')
    expect(md.body).toContain('## By model')
    const json = await api.inject({ method: 'GET', url: base })
    expect(json.json().kind).toBe('cost')
    expect(DEFAULT_REPORT_CONFIG.prices.currency).toBe('USD')
  })
})

/**
 * The dashboard in a real browser over data that went through the whole pipeline: simulated
 * fleet events produced to Kafka, the transformer writing raw rows, windows and (through the
 * materialized views) percentile rollups into embedded ClickHouse, the API listening on an
 * ephemeral port, and Debian's chromium driven by playwright-core loading /dashboard. Checks
 * that the page shows the API's numbers and that those equal what was computed here from the
 * produced events; saves a screenshot to test-results/dashboard.png. Also checks, on the same
 * pipeline data, that rollup and raw percentiles agree with the exact ones.
 */
import { existsSync, mkdirSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createFleetSimulator } from '../ingest/simulator/event-generator.ts'
import { createCodec } from '../schemas/codec.ts'
import type { GpuSample, RequestEvent } from '../schemas/generated/types.ts'
import { testKafka, waitForCommitted } from '../test/support/kafka.ts'
import { createPipelineHarness, type PipelineHarness } from '../test/support/pipeline.ts'
import { buildApi } from './app.ts'
import { parseSloFile } from './slo/config.ts'
import { expectedErrors, expectedGpus, expectedOom } from './test-support/expected.ts'
import { digestBounds, metricValue } from './test-support/fleet-data.ts'

const CHROMIUM = '/usr/bin/chromium'
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']
const SCREENSHOT = 'test-results/dashboard.png'
const MIN = 60_000
const codec = createCodec()

// Five minutes of traffic ending a few minutes ago; the page is asked for a fixed range around it.
const START = Math.floor(Date.now() / MIN) * MIN - 9 * MIN
const FROM = START - MIN
const TO = START + 6 * MIN
const iso = (ms: number) => new Date(ms).toISOString()

let h: PipelineHarness
let api: FastifyInstance
let base: string
let browser: Browser
let page: Page
const requests: RequestEvent[] = []
const samples: GpuSample[] = []

async function produce(): Promise<void> {
  // 12 GPUs on three GPU types at 85 % of their capacity: busy, not drowning; errors twice as common as by default.
  const fleet = { seed: 5, hosts: 3, gpusPerHost: 4, errorScale: 2 }
  const sim = createFleetSimulator({ ...fleet, requestRate: 0.85 * createFleetSimulator(fleet).fleet.capacity })
  const req: { key: string; value: Buffer; timestamp: string }[] = []
  const gpu: { key: string; value: Buffer; timestamp: string }[] = []
  for (const ev of sim.generate({ startMs: START, durationMs: 5 * MIN, warmupMs: 2 * MIN })) {
    if (ev.kind === 'request-event') {
      requests.push(ev.value)
      req.push({ key: ev.key, value: codec.encodeRequestEvent(ev.value), timestamp: String(ev.value.completed_at + 300) })
    } else {
      samples.push(ev.value)
      gpu.push({ key: ev.key, value: codec.encodeGpuSample(ev.value), timestamp: String(ev.value.sampled_at + 200) })
    }
  }
  const producer = testKafka().producer()
  await producer.connect()
  for (let at = 0; at < req.length; at += 1000) await producer.send({ topic: h.kafka.topics.requests, acks: -1, messages: req.slice(at, at + 1000) })
  for (let at = 0; at < gpu.length; at += 1000) await producer.send({ topic: h.kafka.topics.gpuSamples, acks: -1, messages: gpu.slice(at, at + 1000) })
  await producer.disconnect()
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/install-chromium.sh (Debian's chromium package)`)
  h = await createPipelineHarness({ partitions: 2, env: { WINDOW_SECONDS: '10' } })
  await produce()
  await h.startTransformer()
  await waitForCommitted(h.kafka.admin, h.groupId, [h.kafka.topics.requests, h.kafka.topics.gpuSamples])
  const slo = parseSloFile({ slos: [{ name: 'fleet-availability', objective: 99.5, window: '30d', kind: 'availability', filters: {} }] })
  api = await buildApi({ clickhouse: h.clickhouse, database: h.database, docs: false, slo })
  base = await api.listen({ host: '127.0.0.1', port: 0 })
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
  page = await browser.newPage({ viewport: { width: 1440, height: 1000 } })
})

afterAll(async () => {
  await browser?.close()
  await api?.close()
  await h?.close()
})

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers are checked field by field below
type Json = any
type Dataset = { dataset: Record<string, string | undefined> }

async function apiJson(path: string): Promise<Json> {
  const res = await fetch(`${base}${path}`)
  expect(res.status, path).toBe(200)
  return res.json()
}

/** Rows of a dashboard table as { column: data-value } objects. */
async function tableRows(id: string): Promise<Record<string, string>[]> {
  return page.$$eval(`#${id} tbody tr`, (trs) =>
    trs.map((tr) => Object.fromEntries([...tr.querySelectorAll('td')].map((td) => [(td as unknown as Dataset).dataset['col'] ?? '', (td as unknown as Dataset).dataset['value'] ?? '']))),
  )
}

const inRange = (e: RequestEvent) => e.completed_at >= FROM && e.completed_at < TO

describe('dashboard in chromium over pipeline data', () => {
  it('loads and shows the API numbers, equal to those of the produced events', async () => {
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(e.message))
    await page.goto(`${base}/?range=15m&from=${iso(FROM)}&to=${iso(TO)}&refresh=0`)
    await page.waitForSelector('body[data-loads="1"]', { timeout: 30_000 })
    expect(errors).toEqual([])
    expect(await page.getAttribute('body', 'data-from')).toBe(iso(FROM))
    expect(await page.getAttribute('body', 'data-to')).toBe(iso(TO))
    const q = `from=${iso(FROM)}&to=${iso(TO)}`

    // Throughput: the key figure counts every produced request.
    expect(await page.getAttribute('#kpi-rps', 'data-requests')).toBe(String(requests.filter(inRange).length))
    const thr = await apiJson(`/v1/throughput?${q}&step=30s`)
    const thrRows = await tableRows('table-throughput')
    expect(thrRows.map((r) => Number(r['requests']))).toEqual(thr.series[0].points.map((p: { requests: number }) => p.requests))

    // Errors by type: page = API = produced.
    const exp = expectedErrors(requests, FROM, TO)
    const errRows = await tableRows('table-errors')
    expect(errRows.length).toBeGreaterThan(0)
    expect(new Map(errRows.map((r) => [r['error_type'], Number(r['count'])]))).toEqual(
      new Map(Object.entries(exp.by_type).filter(([, n]) => n > 0)),
    )

    // Latency series: page = API; bucket counts = successful produced requests per 30 s.
    const lat = await apiJson(`/v1/latency/series?${q}&step=30s&quantiles=0.5,0.95,0.99`)
    const latRows = await tableRows('table-latency')
    expect(latRows.map((r) => [r['time'], Number(r['count']), r['p95']])).toEqual(
      lat.series[0].points.map((p: { time: string; count: number; values_ms: Array<number | null> }) => [p.time, p.count, p.values_ms[1] === null ? '' : String(p.values_ms[1])]),
    )
    for (const r of latRows) {
      const t = Date.parse(r['time']!)
      expect(Number(r['count'])).toBe(requests.filter((e) => e.status === 'ok' && e.completed_at >= Math.max(t, FROM) && e.completed_at < Math.min(t + 30_000, TO)).length)
    }

    // GPU heat map: one cell per GPU and minute holding the API's value; per-GPU means = samples'.
    const gpuSeries = await apiJson(`/v1/gpu/series?${q}&step=1m&metric=util`)
    const cells = await page.$$eval('#heatmap .hm-cell', (els) => els.map((el) => [(el as unknown as Dataset).dataset['gpu'], (el as unknown as Dataset).dataset['time'], (el as unknown as Dataset).dataset['value']]))
    expect(cells).toEqual(gpuSeries.gpus.flatMap((g: { gpu_uuid: string; points: Array<{ time: string; value: number | null }> }) => g.points.map((p) => [g.gpu_uuid, p.time, p.value === null ? '' : String(p.value)])))
    const gpus = expectedGpus(samples, FROM, TO)
    expect(gpus.size).toBe(12)
    expect(cells.length).toBe(gpus.size * ((TO - FROM) / MIN))
    for (const r of await tableRows('table-heatmap')) expect(Number(r['mean_util_pct'])).toBeCloseTo(gpus.get(r['gpu']!)!.util_mean, 6)

    // OOM table: the top rows of the produced OOM counts per model × resolution × batch.
    const oom = expectedOom(requests, FROM, TO)
    const oomRows = await tableRows('table-oom')
    expect(oomRows.length).toBe(Math.min(12, oom.size))
    for (const r of oomRows) expect(oom.get(`${r['model']}|${r['resolution']}|${r['batch_size']}`)).toEqual({ requests: Number(r['requests']), ooms: Number(r['ooms']) })

    // SLO panel: events and bad events over the SLO's 30 days (all produced requests), client
    // errors excluded as the availability SLI defines them; the budget left as the API says.
    const CLIENT = new Set(['invalid_input', 'safety_blocked', 'cancelled'])
    const counted = requests.filter((e) => e.status === 'ok' || !CLIENT.has(e.error_type ?? ''))
    const bad = counted.filter((e) => e.status !== 'ok').length
    const [sloRow] = await tableRows('table-slo')
    expect(sloRow).toMatchObject({ slo: 'fleet-availability', events: String(counted.length), bad: String(bad) })
    const sloApi = (await apiJson('/v1/slo')).slos[0]
    expect(Number(sloRow!['budget_remaining'])).toBe(sloApi.budget_remaining)
    expect(sloApi.budget_remaining).toBeCloseTo(1 - bad / (counted.length * 0.005), 9)

    mkdirSync('test-results', { recursive: true })
    await page.screenshot({ path: SCREENSHOT, fullPage: true })
    console.log(`dashboard screenshot: ${SCREENSHOT}`)
  })

  it('filters by model from the picker', async () => {
    const model = [...new Set(requests.map((e) => e.model))].sort()[0]!
    await page.waitForSelector(`#model option[value="${model}"]`, { state: 'attached' })
    await page.selectOption('#model', model)
    await page.waitForSelector('body[data-loads="2"]', { timeout: 30_000 })
    expect(await page.getAttribute('#kpi-rps', 'data-requests')).toBe(String(requests.filter((e) => inRange(e) && e.model === model).length))
  })
})

describe('percentile rollups over pipeline data', () => {
  it('agree with raw events and with the exact percentiles of the produced events', async () => {
    // Unaligned edges: whole minutes from the rollup, the rest from raw events.
    const from = START + 25_500
    const to = START + 95_250
    for (const metric of ['e2e', 'queue', 'inference', 'ms_per_step'] as const) {
      const values = new Map<string, number[]>()
      for (const e of requests) {
        const v = metricValue(e, metric)
        if (e.status !== 'ok' || v === null || e.completed_at < from || e.completed_at >= to) continue
        values.set(e.model, [...(values.get(e.model) ?? []), v])
      }
      for (const list of values.values()) list.sort((a, b) => a - b)
      for (const source of ['raw', 'rollup']) {
        const body = await apiJson(`/v1/latency/percentiles?from=${iso(from)}&to=${iso(to)}&metric=${metric}&groupBy=model&quantiles=0.5,0.9,0.99&source=${source}`)
        expect(body.source).toBe(source === 'raw' ? 'raw' : 'rollup_1m')
        expect(new Map(body.groups.map((g: { group: string; count: number }) => [g.group, g.count]))).toEqual(new Map([...values].map(([m, v]) => [m, v.length])))
        for (const g of body.groups) {
          for (const p of g.percentiles) {
            const [lo, hi] = digestBounds(values.get(g.group)!, p.quantile)
            expect(p.value_ms).toBeGreaterThanOrEqual(lo)
            expect(p.value_ms).toBeLessThanOrEqual(hi)
          }
        }
      }
    }
  })
})

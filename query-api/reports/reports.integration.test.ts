/**
 * The capacity and cost reports over data that went through the real pipeline: simulated Avro
 * events produced to Kafka, the transformer writing them into embedded ClickHouse, the reports
 * read back through the API routes. Expectations are computed from the produced events.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApi } from '../app.ts'
import { digestBounds } from '../test-support/fleet-data.ts'
import { fleetTraffic, sendTraffic, type FleetTraffic } from '../../test/support/fleet-truth.ts'
import { testKafka, waitForCommitted } from '../../test/support/kafka.ts'
import { createPipelineHarness, type PipelineHarness } from '../../test/support/pipeline.ts'
import type { ReportDocument } from './document.ts'
import { expectedPools } from './test-support/capacity-expected.ts'

const MIN = 60_000
const START = Math.floor(Date.now() / MIN) * MIN - 8 * MIN
const FROM = START - MIN
const TO = START + 7 * MIN
const iso = (ms: number) => new Date(ms).toISOString()
let h: PipelineHarness
let traffic: FleetTraffic

async function report(path: string): Promise<ReportDocument> {
  const api = await buildApi({ clickhouse: h.clickhouse, database: h.database, docs: false, dashboard: false, now: () => TO })
  try {
    const res = await api.inject({ method: 'GET', url: path })
    expect(res.statusCode, res.body).toBe(200)
    return res.json()
  } finally {
    await api.close()
  }
}

const rows = (doc: ReportDocument, id: string) => doc.sections.find((s) => s.id === id)!.table!.rows

beforeAll(async () => {
  h = await createPipelineHarness({ partitions: 2 })
  traffic = fleetTraffic({ seed: 77, startMs: START, durationMs: 6 * MIN, requestRate: 12 })
  const producer = testKafka().producer()
  await producer.connect()
  await sendTraffic(producer, h.kafka.topics, traffic, 1000)
  await producer.disconnect()
  await h.startTransformer()
  await waitForCommitted(h.kafka.admin, h.groupId, [h.kafka.topics.requests, h.kafka.topics.gpuSamples])
})

afterAll(async () => {
  await h?.close()
})

describe('reports over the real pipeline', () => {
  it('capacity: per-pool service time, GPUs and peak load as produced', async () => {
    const doc = await report(`/v1/reports/capacity?from=${iso(FROM)}&to=${iso(TO)}&peakWindow=1m&targetLoad=1.5x`)
    const expected = expectedPools(traffic.requests, FROM, TO, MIN, (e) => `${e.model}|${e.gpu_type}`)
    const pools = rows(doc, 'pools')
    expect(pools.length).toBe(expected.size)
    expect(pools.reduce((s, r) => s + (r['requests'] as number), 0)).toBe(traffic.requests.length)
    for (const r of pools) {
      const e = expected.get(`${String(r['model'])}|${String(r['gpu_type'])}`)!
      expect([r['requests'], r['gpus']]).toEqual([e.requests, e.gpus])
      expect(r['service_mean_ms']).toBeCloseTo(e.serviceMeanMs, 6)
      const [lo, hi] = digestBounds(e.serviceSorted, 0.5)
      expect(r['service_p50_ms']).toBeGreaterThanOrEqual(lo)
      expect(r['service_p50_ms']).toBeLessThanOrEqual(hi)
      expect(r['peak_rps']).toBeCloseTo(e.peakArrivals / 60, 12)
      expect(r['busy_fraction']).toBeCloseTo(e.serviceSumMs / (e.gpus * (TO - FROM)), 9)
    }
  })

  it('cost: every GPU billed its sampled time at the built-in price', async () => {
    const doc = await report(`/v1/reports/cost?from=${iso(FROM)}&to=${iso(TO)}`)
    const byGpu = new Map<string, number[]>()
    for (const s of traffic.samples) if (s.sampled_at >= FROM && s.sampled_at < TO) byGpu.set(s.gpu_uuid, [...(byGpu.get(s.gpu_uuid) ?? []), s.sampled_at])
    const typeOf = new Map(traffic.requests.map((e) => [e.gpu_uuid, e.gpu_type]))
    const hourly: Record<string, number> = { 'H100-80GB': 2.49, 'A100-40GB': 1.29, 'L4-24GB': 0.44 }
    let seconds = 0
    let cost = 0
    for (const [uuid, ts] of byGpu) {
      ts.sort((a, b) => a - b)
      const ms = ts.reduce((s, t, i) => s + Math.min(i + 1 < ts.length ? ts[i + 1]! - t : i > 0 ? t - ts[i - 1]! : 60_000, 60_000), 0)
      seconds += ms / 1000
      cost += (ms / 3_600_000) * hourly[typeOf.get(uuid)!]!
    }
    const [summary] = rows(doc, 'summary')
    expect(summary!['gpus']).toBe(byGpu.size)
    expect(summary!['unpriced_gpus']).toBe(0)
    expect(summary!['gpu_seconds']).toBeCloseTo(seconds, 6)
    expect(summary!['cost']).toBeCloseTo(cost, 9)
    const images = traffic.requests.filter((e) => e.status === 'ok' && e.completed_at >= FROM && e.completed_at < TO).reduce((s, e) => s + e.images, 0)
    expect(summary!['images']).toBe(images)
    expect(summary!['cost_per_image']).toBeCloseTo(cost / images, 12)
  })
})

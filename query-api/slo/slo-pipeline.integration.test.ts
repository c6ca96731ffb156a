/**
 * SLOs over data that went through the whole pipeline: traffic with known bad fractions encoded
 * as Avro and produced to a real Kafka broker, the transformer writing raw rows and its own
 * windowed aggregates into embedded ClickHouse, then SLO status, the evaluator (with a real
 * local webhook) and GET /v1/slo read what landed. Expectations come from the produced events.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCodec } from '../../schemas/codec.ts'
import type { RequestEvent } from '../../schemas/generated/types.ts'
import { testKafka, waitForCommitted } from '../../test/support/kafka.ts'
import { createPipelineHarness, type PipelineHarness } from '../../test/support/pipeline.ts'
import { buildApi } from '../app.ts'
import { createStore } from '../store.ts'
import { parseSloFile, type SloConfig } from './config.ts'
import { createSloEvaluator } from './evaluator.ts'
import { sloStatuses } from './status-query.ts'
import { burn, expectedAvailability, expectedLatency, HOUR, MIN, NOW, traffic } from './test-traffic.ts'

const codec = createCodec()
const events: RequestEvent[] = [
  ...traffic('sdxl', NOW - 6 * HOUR, NOW - HOUR, 600, 0.02),
  ...traffic('sdxl', NOW - HOUR, NOW - 5 * MIN, 550, 0.05),
  ...traffic('sdxl', NOW - 5 * MIN, NOW, 100, 0.9),
  ...traffic('flux', NOW - 6 * HOUR, NOW, 400, 0.01),
]
const posted: Array<Record<string, unknown>> = []
const hook = createServer((req, res) => {
  let body = ''
  req.on('data', (c: Buffer) => { body += c.toString() })
  req.on('end', () => { posted.push(JSON.parse(body) as Record<string, unknown>); res.writeHead(200).end() })
})
let h: PipelineHarness
let api: FastifyInstance
let config: SloConfig

beforeAll(async () => {
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve))
  config = parseSloFile({
    slos: [
      { name: 'sdxl-availability', objective: 99, window: '30d', kind: 'availability', filters: { model: ['sdxl'] } },
      { name: 'fleet-availability', objective: 99.5, window: '30d', kind: 'availability' },
      { name: 'sdxl-e2e', objective: 90, window: '28d', kind: 'latency', metric: 'e2e', thresholdMs: 8000, filters: { model: ['sdxl'] } },
      { name: 'fleet-norm', objective: 80, window: '30d', kind: 'latency', metric: 'inference', normalizedThresholdMs: 150 },
    ],
    alerting: { webhookUrl: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/`, minRequests: 100 },
  })
  h = await createPipelineHarness({ partitions: 2, env: { WINDOW_SECONDS: '10' } })
  const producer = testKafka().producer()
  await producer.connect()
  const messages = events.map((e) => ({ key: e.worker_id, value: codec.encodeRequestEvent(e), timestamp: String(e.completed_at + 300) }))
  for (let at = 0; at < messages.length; at += 1000) await producer.send({ topic: h.kafka.topics.requests, acks: -1, messages: messages.slice(at, at + 1000) })
  await producer.disconnect()
  await h.startTransformer()
  await waitForCommitted(h.kafka.admin, h.groupId, [h.kafka.topics.requests])
  const store = createStore(h.clickhouse, h.database, 30)
  api = await buildApi({ clickhouse: h.clickhouse, database: h.database, docs: false, dashboard: false, slo: config, now: () => NOW })
})

afterAll(async () => {
  await api?.close()
  await h?.close()
  await new Promise<void>((resolve) => hook.close(() => resolve()))
})

describe('SLOs over the pipeline', () => {
  it('computes SLI, budget and burn rates from the transformer output as from the produced events', async () => {
    const store = createStore(h.clickhouse, h.database, 30)
    for (const status of await sloStatuses(store, config, NOW)) {
      const slo = status.slo
      const expected = (from: number) => (slo.kind === 'availability' ? expectedAvailability : expectedLatency)(events, slo, from, NOW)
      const w = expected(NOW - slo.windowMs)
      expect(status.budget.events, slo.name).toEqual(w)
      expect(status.budget.budgetRemaining).toBeCloseTo(1 - w.bad / ((1 - slo.objective) * w.total), 9)
      for (const p of status.pairs) {
        const [short, long] = [expected(NOW - p.pair.shortMs), expected(NOW - p.pair.longMs)]
        expect([p.short, p.long], `${slo.name} ${p.pair.id}`).toEqual([short, long])
        expect(p.firing).toBe(long.total >= 100 && (burn(short, slo.objective) ?? 0) > p.pair.factor && (burn(long, slo.objective) ?? 0) > p.pair.factor)
      }
    }
  })

  it('fires the sdxl page alerts, records them and posts them; /v1/slo lists them as firing', async () => {
    const store = createStore(h.clickhouse, h.database, 30)
    const sdxl = config.slos[0]!
    // The scenario: the 90 % burst lifts both the 5 min and the 1 h window over 14.4×.
    expect(burn(expectedAvailability(events, sdxl, NOW - HOUR, NOW), 0.99)).toBeGreaterThan(14.4)
    const evaluator = createSloEvaluator({ store, config, log: { info() {}, warn() {}, error() {} }, now: () => NOW })
    const fired = await evaluator.evaluateOnce()
    expect(await evaluator.evaluateOnce()).toEqual([])
    await evaluator.idle()
    await evaluator.close()
    const statuses = await sloStatuses(store, config, NOW)
    const expectedFiring = statuses.flatMap((s) => s.pairs.filter((p) => p.firing).map((p) => `${s.slo.name} ${p.pair.id}`))
    expect(fired.map((t) => `${t.slo} ${t.pair}`)).toEqual(expectedFiring)
    expect(expectedFiring).toContain('sdxl-availability 5m/1h')
    expect(posted.map((b) => `${String(b['slo'])} ${String(b['pair'])}`)).toEqual(expectedFiring)
    const body = (await api.inject({ method: 'GET', url: '/v1/slo?slo=sdxl-availability' })).json() as { slos: Array<{ firing_alerts: Array<{ pair: string }> }> }
    expect(body.slos[0]?.firing_alerts.map((a) => a.pair).sort()).toEqual(fired.filter((t) => t.slo === 'sdxl-availability').map((t) => t.pair).sort())
    // The clock is frozen at NOW, when the rows were recorded: `to` is exclusive, so end after it.
    const history = (await api.inject({ method: 'GET', url: `/v1/slo/alerts?from=-1d&to=${new Date(NOW + MIN).toISOString()}` })).json() as { alerts: Array<{ slo: string; pair: string; state: string }> }
    expect(history.alerts.map((a) => `${a.slo} ${a.pair} ${a.state}`).sort()).toEqual(expectedFiring.map((f) => `${f} firing`).sort())
  })
})

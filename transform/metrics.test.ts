import { afterEach, describe, expect, it } from 'vitest'
import { startHealthServer, type HealthServer } from './health-server.ts'
import { METRIC_NAMES, TransformerStats } from './stats.ts'

/** `name{labels} value` lines of a Prometheus text exposition, without comments. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    out.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return out
}

describe('transformer metrics and health endpoints', () => {
  let server: HealthServer | null = null
  afterEach(async () => {
    await server?.close()
    server = null
  })

  it('exports the stats as Prometheus counters, gauges and a histogram, and counters only grow', async () => {
    const stats = new TransformerStats()
    server = await startHealthServer({ stats, ready: () => true }, { host: '127.0.0.1', port: 0 })
    stats.eventsProcessed = 120
    stats.retries = 3
    stats.lateEvents = 4
    stats.deadLetter('TRF_FUTURE_EVENT')
    stats.deadLetter('TRF_FUTURE_EVENT')
    stats.deadLetter('SCH_BAD_MAGIC')
    stats.committed.set('t-requests:2', 500)
    stats.setLag(new Map([['t-requests:0', 7], ['t-requests:1', 0]]))
    stats.observeInsert(0.02)
    stats.observeInsert(0.3)
    const res = await fetch(`${server.url}/metrics`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/plain')
    const m = samples(await res.text())
    expect(m.get(METRIC_NAMES.eventsProcessed)).toBe(120)
    expect(m.get(METRIC_NAMES.retries)).toBe(3)
    expect(m.get(METRIC_NAMES.lateEvents)).toBe(4)
    expect(m.get(`${METRIC_NAMES.deadLetters}{code="TRF_FUTURE_EVENT"}`)).toBe(2)
    expect(m.get(`${METRIC_NAMES.deadLetters}{code="SCH_BAD_MAGIC"}`)).toBe(1)
    expect(m.get(`${METRIC_NAMES.committedOffset}{topic="t-requests",partition="2"}`)).toBe(500)
    expect(m.get(`${METRIC_NAMES.consumerLag}{topic="t-requests",partition="0"}`)).toBe(7)
    expect(m.get(`${METRIC_NAMES.consumerLag}{topic="t-requests",partition="1"}`)).toBe(0)
    expect(m.get(`${METRIC_NAMES.chunkInsertSeconds}_count`)).toBe(2)
    expect(m.get(`${METRIC_NAMES.chunkInsertSeconds}_bucket{le="0.025"}`)).toBe(1)
    expect(m.get(`${METRIC_NAMES.chunkInsertSeconds}_sum`)).toBeCloseTo(0.32, 9)
    expect(m.get(METRIC_NAMES.ready)).toBe(1)

    // a second scrape adds only what happened since: no double counting of totals
    stats.eventsProcessed = 150
    stats.deadLetter('SCH_BAD_MAGIC')
    const m2 = samples(await (await fetch(`${server.url}/metrics`)).text())
    expect(m2.get(METRIC_NAMES.eventsProcessed)).toBe(150)
    expect(m2.get(`${METRIC_NAMES.deadLetters}{code="SCH_BAD_MAGIC"}`)).toBe(2)
    expect(m2.get(`${METRIC_NAMES.chunkInsertSeconds}_count`)).toBe(2)
  })

  it('answers /readyz (503 when not ready), /healthz (503 once the consumer died) and 404 for anything else', async () => {
    const stats = new TransformerStats()
    let ready = true
    let alive = true
    server = await startHealthServer({ stats, ready: () => ready, alive: () => alive }, { host: '127.0.0.1', port: 0 })
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200)
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200)
    ready = false
    const r = await fetch(`${server.url}/readyz`)
    expect(r.status).toBe(503)
    expect(((await r.json()) as { status: string }).status).toBe('not ready')
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200)
    alive = false
    expect((await fetch(`${server.url}/healthz`)).status).toBe(503)
    expect((await fetch(`${server.url}/nope`)).status).toBe(404)
  })
})

describe('TransformerStats.stalled: readiness follows progress, not connections', () => {
  it('is not stalled without lag, however long ago the last commit was', () => {
    const s = new TransformerStats()
    s.lastProgressAtMs = 0
    s.setLag(new Map([['t:0', 0]]), 1_000_000)
    expect(s.stalled(60_000, 1_000_000)).toBe(false)
  })

  it('gives fresh lag the stall period before failing, and recovers on the next commit', () => {
    const s = new TransformerStats()
    s.lastProgressAtMs = 0
    s.setLag(new Map([['t:0', 5]]), 1_000_000) // lag appears after a long idle period
    expect(s.stalled(60_000, 1_030_000)).toBe(false)
    expect(s.stalled(60_000, 1_060_001)).toBe(true)
    s.lastProgressAtMs = 1_070_000 // a chunk committed
    s.setLag(new Map([['t:0', 3]]), 1_070_000)
    expect(s.stalled(60_000, 1_100_000)).toBe(false)
    s.setLag(new Map([['t:0', 0]]), 1_200_000)
    expect(s.stalled(60_000, 1_300_000)).toBe(false)
  })
})

describe('registerTransformerRoutes: the same answers inside the query API', () => {
  it('serves /metrics (and only what it was asked for) from a Fastify app', async () => {
    const { default: Fastify } = await import('fastify')
    const { registerTransformerRoutes } = await import('./health-server.ts')
    const stats = new TransformerStats()
    stats.eventsProcessed = 42
    const app = Fastify()
    registerTransformerRoutes(app, { stats, ready: () => true }, { paths: ['/metrics'] })
    const res = await app.inject({ method: 'GET', url: '/metrics' })
    expect(res.statusCode).toBe(200)
    expect(samples(res.body).get(METRIC_NAMES.eventsProcessed)).toBe(42)
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(404)
    await app.close()
  })
})

/**
 * The routes through Fastify's inject against an embedded ClickHouse (chdb) in a temp folder of
 * this file: a freshly migrated database, a small hand-made data set, and expected answers
 * computed here, independently of the SQL under test.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ClickHouseClient } from '@clickhouse/client'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openClickHouse } from '../migrations/clickhouse.ts'
import { migrate } from '../migrations/runner.ts'
import { buildApi } from './app.ts'

// A recent hour boundary: the tables' TTLs drop rows older than 30 days at insert time.
const NOW = Math.floor(Date.now() / 3_600_000) * 3_600_000
const MIN = 60_000
const iso = (ms: number) => new Date(ms).toISOString()
const root = mkdtempSync(join(tmpdir(), 'dw-query-api-test-'))
const database = 'query_api_test'
let client: ClickHouseClient
let api: FastifyInstance

const chTime = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '')

type Event = { model: string; worker_id: string; status: 'ok' | 'error'; completedMs: number; e2e: number; queue: number | null }

/** Deterministic, unsorted values: sdxl e2e = 100 + 5k ms (200 ok), flux 1000 + 20k ms (50 ok). */
function events(): Event[] {
  const out: Event[] = []
  for (let i = 0; i < 200; i++) {
    const k = (i * 73) % 200 // a permutation of 0..199, so insert order is not value order
    out.push({ model: 'sdxl', worker_id: `w${i % 3}`, status: 'ok', completedMs: NOW - 30 * MIN + i * 1000, e2e: 100 + 5 * k, queue: k % 2 === 0 ? 10 + k : null })
  }
  for (let i = 0; i < 50; i++) {
    const k = (i * 7) % 50
    out.push({ model: 'flux', worker_id: 'w9', status: 'ok', completedMs: NOW - 20 * MIN + i * 1000, e2e: 1000 + 20 * k, queue: 5 })
  }
  for (let i = 0; i < 10; i++) {
    out.push({ model: 'sdxl', worker_id: 'w0', status: 'error', completedMs: NOW - 10 * MIN + i, e2e: 50_000, queue: null })
  }
  // Outside the default range (last hour): must never be counted.
  out.push({ model: 'sdxl', worker_id: 'w0', status: 'ok', completedMs: NOW - 2 * 60 * MIN, e2e: 999_999, queue: 1 })
  return out
}

function eventRow(e: Event, i: number): Record<string, unknown> {
  return {
    event_id: `e${i}`, request_id: `r${i}`, tenant: 'acme', region: 'eu-west', deployment: 'prod', worker_id: e.worker_id,
    host: 'h1', gpu_uuid: 'GPU-1', gpu_type: 'H100-80GB', model: e.model, model_version: 'v1', pipeline: 'txt2img',
    sampler: 'euler', steps: 30, guidance_scale: 7, width: 1024, height: 1024, images: 1, batch_size: 1, cold_start: false,
    received_at: chTime(e.completedMs - e.e2e),
    dequeued_at: e.queue === null ? null : chTime(e.completedMs - e.e2e + e.queue),
    completed_at: chTime(e.completedMs),
    status: e.status, error_type: e.status === 'error' ? 'oom' : null,
  }
}

type WindowRow = { at: number; model: string; worker_id: string; requests: number; successes: number; errors: number; images: number }
// Several partial rows for one key (11:50:00, sdxl, w1) on purpose: the API must re-aggregate.
const WINDOWS: WindowRow[] = [
  { at: NOW - 10 * MIN, model: 'sdxl', worker_id: 'w1', requests: 10, successes: 9, errors: 1, images: 10 },
  { at: NOW - 10 * MIN, model: 'sdxl', worker_id: 'w1', requests: 5, successes: 5, errors: 0, images: 5 },
  { at: NOW - 10 * MIN + 10_000, model: 'sdxl', worker_id: 'w2', requests: 7, successes: 7, errors: 0, images: 14 },
  { at: NOW - 9 * MIN, model: 'flux', worker_id: 'w3', requests: 4, successes: 2, errors: 2, images: 2 },
  { at: NOW - 2 * 60 * MIN, model: 'sdxl', worker_id: 'w1', requests: 100, successes: 100, errors: 0, images: 100 },
]

beforeAll(async () => {
  client = await openClickHouse({ dataPath: join(root, 'clickhouse'), database })
  await migrate(client, { database })
  await client.insert({ table: `${database}.request_events`, values: events().map(eventRow), format: 'JSONEachRow' })
  await client.insert({
    table: `${database}.request_windows`,
    format: 'JSONEachRow',
    values: WINDOWS.map((w) => ({
      window_start: chTime(w.at).slice(0, 19), window_seconds: 10, model: w.model, model_version: 'v1', worker_id: w.worker_id,
      pipeline: 'txt2img', gpu_type: 'H100-80GB', region: 'eu-west', tenant: 'acme', deployment: 'prod',
      requests: w.requests, successes: w.successes, images: w.images, errors: w.errors, agg_version: 1,
    })),
  })
  api = await buildApi({ clickhouse: client, database, now: () => NOW })
})

afterAll(async () => {
  await api?.close()
  await client?.close()
  rmSync(root, { recursive: true, force: true })
})

/** Exact quantile with linear interpolation between closest ranks (type 7). */
function exactQuantile(sorted: number[], q: number): number {
  const h = (sorted.length - 1) * Math.min(1, Math.max(0, q))
  const lo = Math.floor(h)
  const a = sorted[lo] ?? NaN
  const b = sorted[Math.min(lo + 1, sorted.length - 1)] ?? NaN
  return a + (h - lo) * (b - a)
}

/**
 * The TDigest tolerance documented in routes/latency.ts: rank error ±1 % of the count, at least
 * one value (small groups answer an observed value rather than interpolating), Float32 values.
 */
function expectWithinDigestError(value: number, sorted: number[], q: number): void {
  const rankError = Math.max(0.01, 1 / (sorted.length - 1))
  const lo = exactQuantile(sorted, q - rankError)
  const hi = exactQuantile(sorted, q + rankError)
  expect(value).toBeGreaterThanOrEqual(lo * (1 - 1e-6))
  expect(value).toBeLessThanOrEqual(hi * (1 + 1e-6))
}

async function get(url: string) {
  return api.inject({ method: 'GET', url })
}

describe('GET /v1/latency/percentiles', () => {
  it('gives exact counts and percentiles within the sketch error, per model, successful requests only', async () => {
    const res = await get('/v1/latency/percentiles?groupBy=model&quantiles=0.5,0.95,0.99')
    expect(res.statusCode).toBe(200)
    const body = res.json()
    expect(body.truncated).toBe(false)
    expect(body.groups.map((g: { group: string; count: number }) => [g.group, g.count])).toEqual([['sdxl', 200], ['flux', 50]])

    const inRange = events().filter((e) => e.status === 'ok' && e.completedMs >= NOW - 60 * MIN)
    for (const group of body.groups) {
      const sorted = inRange.filter((e) => e.model === group.group).map((e) => e.e2e).sort((a, b) => a - b)
      expect(group.percentiles.map((p: { label: string }) => p.label)).toEqual(['p50', 'p95', 'p99'])
      for (const p of group.percentiles) expectWithinDigestError(p.value_ms, sorted, p.quantile)
    }
  })

  it('counts errors with status=all and only values present for the metric', async () => {
    const all = (await get('/v1/latency/percentiles?status=all')).json()
    expect(all.groups).toEqual([expect.objectContaining({ group: null, count: 260 })])
    const errors = (await get('/v1/latency/percentiles?status=error&quantiles=0.5')).json()
    expect(errors.groups[0].count).toBe(10)
    expect(errors.groups[0].percentiles[0].value_ms).toBe(50_000)

    const queue = (await get('/v1/latency/percentiles?metric=queue&groupBy=model')).json()
    const expected = events().filter((e) => e.status === 'ok' && e.completedMs >= NOW - 60 * MIN && e.queue !== null)
    expect(queue.groups.map((g: { group: string; count: number }) => [g.group, g.count])).toEqual([
      ['sdxl', expected.filter((e) => e.model === 'sdxl').length],
      ['flux', 50],
    ])
  })

  it('answers no groups for an empty range', async () => {
    const body = (await get('/v1/latency/percentiles?from=-5h&to=-4h')).json()
    expect(body.groups).toEqual([])
  })

  it('answers CSV with a header row', async () => {
    const res = await get('/v1/latency/percentiles?groupBy=model&quantiles=0.5,0.999&format=csv')
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/^text\/csv/)
    const lines = res.body.trimEnd().split('\r\n')
    expect(lines[0]).toBe('group,count,p50,p99.9')
    expect(lines.slice(1).map((l) => l.split(',').slice(0, 2).join(','))).toEqual(['sdxl,200', 'flux,50'])
  })
})

describe('GET /v1/throughput', () => {
  it('re-aggregates partial windows into zero-filled buckets with rates and totals', async () => {
    const res = await get('/v1/throughput?from=-15m&step=1m')
    expect(res.statusCode).toBe(200)
    const body = res.json()
    expect(body.step).toBe('1m')
    expect(body.totals).toEqual({ requests: 26, successes: 23, errors: 3, images: 31, requests_per_s: 26 / 900, images_per_s: 31 / 900, error_rate: 3 / 26 })
    expect(body.series).toHaveLength(1)
    const points = body.series[0].points
    expect(points).toHaveLength(15)
    const at = (iso: string) => points.find((p: { time: string }) => p.time === iso)
    expect(at(iso(NOW - 10 * MIN))).toEqual({
      time: iso(NOW - 10 * MIN), seconds: 60, requests: 22, successes: 21, errors: 1, images: 29,
      requests_per_s: 22 / 60, images_per_s: 29 / 60, error_rate: 1 / 22,
    })
    expect(at(iso(NOW - 9 * MIN))).toMatchObject({ requests: 4, successes: 2, errors: 2, images: 2, error_rate: 0.5 })
    expect(at(iso(NOW - 15 * MIN))).toMatchObject({ requests: 0, error_rate: null, requests_per_s: 0 })
  })

  it('groups by model, busiest first', async () => {
    const body = (await get('/v1/throughput?from=-15m&step=5m&groupBy=model')).json()
    expect(body.series.map((s: { group: string; totals: { requests: number } }) => [s.group, s.totals.requests])).toEqual([['sdxl', 22], ['flux', 4]])
    expect(body.series[0].points).toHaveLength(3)
  })

  it('answers CSV with a header row and one line per bucket', async () => {
    const res = await get('/v1/throughput?from=-15m&step=5m&format=csv')
    expect(res.headers['content-type']).toMatch(/^text\/csv/)
    const lines = res.body.trimEnd().split('\r\n')
    expect(lines[0]).toBe('time,group,seconds,requests,successes,errors,images,requests_per_s,images_per_s,error_rate')
    expect(lines).toHaveLength(4)
    expect(lines[2]).toBe(`${iso(NOW - 10 * MIN)},,300,26,23,3,31,${26 / 300},${31 / 300},${3 / 26}`)
    expect(lines[1]).toBe(`${iso(NOW - 15 * MIN)},,300,0,0,0,0,0,0,`)
  })
})

describe('bad input is a problem+json 400 that says what to fix', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['/v1/throughput?colour=red', 'API_BAD_REQUEST', /unknown query parameter 'colour'/],
    ['/v1/latency/percentiles?from=now&to=-1h', 'API_BAD_TIME_RANGE', /must be before to/],
    ['/v1/throughput?step=15s', 'API_BAD_STEP', /multiple of 10s/],
    ['/v1/throughput?from=-7d&step=10s', 'API_BAD_STEP', /use step=310s or larger \(e\.g\. 10m\)/],
    ['/v1/latency/percentiles?groupBy=colour', 'API_BAD_REQUEST', /'groupBy' must be one of: none, model, worker_id, pipeline, gpu_type/],
    ['/v1/latency/percentiles?quantiles=0.5,1.5', 'API_BAD_REQUEST', /"1.5" is not between 0 and 1/],
    ['/v1/latency/percentiles?metric=speed', 'API_BAD_REQUEST', /'metric' must be one of: e2e, queue/],
    ['/v1/latency/percentiles?from=-40d', 'API_BAD_TIME_RANGE', /more than the 31d allowed/],
    ['/v1/latency/percentiles?from=yesterday', 'API_BAD_TIME_RANGE', /from="yesterday" is not a time/],
  ]
  it.each(cases)('%s → %s', async (url, code, detail) => {
    const res = await get(url)
    expect(res.statusCode).toBe(400)
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
    const body = res.json()
    expect(Object.keys(body).sort()).toEqual(['code', 'detail', 'status', 'title', 'type'])
    expect(body).toMatchObject({ status: 400, code })
    expect(body.detail).toMatch(detail)
  })

  it('answers an unknown route with a problem+json 404', async () => {
    const res = await get('/v1/nope')
    expect(res.statusCode).toBe(404)
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(res.json()).toMatchObject({ status: 404, code: 'API_NOT_FOUND' })
  })
})

describe('health and docs', () => {
  it('is alive and ready when ClickHouse answers', async () => {
    expect((await get('/healthz')).json()).toEqual({ status: 'ok' })
    const ready = await get('/readyz')
    expect(ready.statusCode).toBe(200)
    expect(ready.json()).toEqual({ status: 'ready' })
  })

  it('is not ready when the readiness callback says no', async () => {
    const other = await buildApi({ clickhouse: client, database, readiness: () => false, docs: false })
    try {
      const res = await other.inject({ method: 'GET', url: '/readyz' })
      expect(res.statusCode).toBe(503)
      expect(res.json()).toMatchObject({ code: 'API_NOT_READY', detail: expect.stringContaining('not ready') })
    } finally {
      await other.close()
    }
  })

  it('lists the routes in /openapi.json and serves /docs', async () => {
    const res = await get('/openapi.json')
    expect(res.statusCode).toBe(200)
    const doc = res.json()
    expect(doc.openapi).toBe('3.1.0')
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/healthz', '/readyz', '/v1/availability', '/v1/errors', '/v1/gpu/series', '/v1/gpu/utilization', '/v1/hosts', '/v1/hosts/series',
      '/v1/latency/percentiles', '/v1/latency/series', '/v1/oom', '/v1/reports/capacity', '/v1/reports/cost', '/v1/reports/slo', '/v1/reports/trend',
      '/v1/requests/gpu', '/v1/slo', '/v1/slo/alerts', '/v1/sql', '/v1/throughput',
    ])
    const params = doc.paths['/v1/throughput'].get.parameters.map((p: { name: string }) => p.name)
    expect(params).toEqual(expect.arrayContaining(['from', 'to', 'step', 'groupBy', 'format']))
    expect(Object.keys(doc.paths['/v1/latency/percentiles'].get.responses['200'].content)).toEqual(['application/json', 'text/csv'])
    const docs = await get('/docs/')
    expect(docs.statusCode).toBe(200)
  })
})

describe('failures of ClickHouse', () => {
  async function withFailingClient(error: Error) {
    const failing = { query: async () => Promise.reject(error) } as unknown as ClickHouseClient
    const failingApi = await buildApi({ clickhouse: failing, database, docs: false, now: () => NOW })
    try {
      return await failingApi.inject({ method: 'GET', url: '/v1/throughput' })
    } finally {
      await failingApi.close()
    }
  }

  it('answers 503 when ClickHouse is unreachable, without leaking the cause', async () => {
    const res = await withFailingClient(Object.assign(new Error('connect ECONNREFUSED 10.0.0.7:8123'), { code: 'ECONNREFUSED' }))
    expect(res.statusCode).toBe(503)
    expect(res.json()).toMatchObject({ code: 'API_STORE_UNAVAILABLE' })
    expect(res.body).not.toContain('10.0.0.7')
  })

  it('answers 500 for a refused query, the detail kept in the log only', async () => {
    const res = await withFailingClient(Object.assign(new Error('Syntax error near secret_table'), { code: '62', type: 'SYNTAX_ERROR' }))
    expect(res.statusCode).toBe(500)
    expect(res.json()).toMatchObject({ code: 'API_INTERNAL', status: 500 })
    expect(res.body).not.toContain('secret_table')
  })
})

describe('validation messages', () => {
  it('names a wrongly typed or out-of-bounds parameter', async () => {
    expect((await get('/v1/throughput?limit=abc')).json().detail).toBe("query parameter 'limit' must be an integer, given once")
    expect((await get('/v1/throughput?limit=0')).json().detail).toBe("query parameter 'limit' must be >= 1")
    expect((await get('/v1/throughput?step=1m&step=5m')).json().detail).toBe("query parameter 'step' must be a string, given once")
  })
})

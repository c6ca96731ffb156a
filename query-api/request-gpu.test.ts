/**
 * GET /v1/requests/gpu over 12 simulated minutes (1 s GPU samples) written into an embedded
 * ClickHouse. Every seventh request names no GPU (gpu_uuid ''), so it must be matched through
 * its worker. Each answer is recomputed here from the simulator's samples: those of the
 * request's GPU (or worker) stamped t with start < t < end + interval.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RequestEvent } from '../schemas/generated/types.ts'
import { simulateFleet, type Fleet } from './test-support/fleet-data.ts'
import { seededApi, type SeededApi } from './test-support/seeded-api.ts'

const MIN = 60_000
const INTERVAL = 1000
const END = Math.floor(Date.now() / (10 * MIN)) * 10 * MIN
const START = END - 12 * MIN
const MAX_GROUPS = 2000
const iso = (ms: number) => new Date(ms).toISOString()
const database = 'request_gpu_route'
let seeded: SeededApi
let fleet: Fleet
let badEventId: string

beforeAll(async () => {
  const sim = simulateFleet({ seed: 31, requestRate: 1.5, hosts: 2, gpusPerHost: 3, sampleIntervalMs: INTERVAL, errorScale: 3 }, START, 12 * MIN)
  const requests = sim.requests.map((e, i) => (i % 7 === 3 ? { ...e, gpu_uuid: '' } : e))
  // A producer with a clock bug: inference ends a minute before it starts. Listed, with no samples.
  const bad = requests.findIndex((e) => e.inference_start_at !== null && e.completed_at >= START + MIN)
  requests[bad] = { ...requests[bad]!, inference_end_at: requests[bad]!.inference_start_at! - 60_000 }
  badEventId = requests[bad]!.event_id
  fleet = { samples: sim.samples, requests }
  seeded = await seededApi({ database, fleet, api: { limits: { maxGroups: MAX_GROUPS }, now: () => END } })
}, 60_000) // chdb start-up and migrations take seconds on a busy 2-core machine

afterAll(async () => {
  await seeded?.close()
})

const get = (url: string) => seeded.get(url)

const f32 = (x: number) => Math.fround(x)
const inRange = (e: RequestEvent, from = START, to = END) => e.completed_at >= from && e.completed_at < to

/** What the route must answer for `e`, from the simulator's samples alone. */
function expectedFor(e: RequestEvent) {
  const start = e.inference_start_at
  const end = e.inference_end_at
  const byGpu = e.gpu_uuid !== ''
  const list = start === null || end === null ? [] : fleet.samples.filter((s) =>
    (byGpu ? s.gpu_uuid === e.gpu_uuid : s.worker_id === e.worker_id) && s.sampled_at > start && s.sampled_at < end + INTERVAL)
  const util = list.map((s) => f32(s.util_gpu_pct!))
  const power = list.map((s) => f32(s.power_w!))
  const n = list.length
  return {
    matched_by: byGpu ? 'gpu_uuid' : 'worker_id', samples: n,
    util_mean_pct: n ? util.reduce((a, b) => a + b, 0) / n : null, util_max_pct: n ? Math.max(...util) : null,
    mem_used_max_mb: n ? Math.max(...list.map((s) => s.mem_used_mb!)) : null, power_mean_w: n ? power.reduce((a, b) => a + b, 0) / n : null,
    temp_max_c: n ? Math.max(...list.map((s) => f32(s.temperature_c!))) : null, throttled_samples: list.filter((s) => s.throttle_reasons.length > 0).length,
  }
}

type Row = Record<string, unknown> & { event_id: string }

function expectRow(r: Row, e: RequestEvent) {
  const x = expectedFor(e)
  expect({ ...r, util_mean_pct: null, power_mean_w: null }).toEqual({
    event_id: e.event_id, request_id: e.request_id, completed_at: iso(e.completed_at), model: e.model, worker_id: e.worker_id, host: e.host,
    gpu_uuid: e.gpu_uuid, gpu_type: e.gpu_type, tenant: e.tenant, pipeline: e.pipeline, status: e.status, error_type: e.error_type,
    width: e.width, height: e.height, steps: e.steps, images: e.images, received_at: iso(e.received_at),
    inference_start_at: e.inference_start_at === null ? null : iso(e.inference_start_at), inference_end_at: e.inference_end_at === null ? null : iso(e.inference_end_at),
    e2e_ms: e.completed_at - e.received_at, queue_ms: e.dequeued_at === null ? null : e.dequeued_at - e.received_at,
    inference_ms: e.inference_start_at === null || e.inference_end_at === null ? null : e.inference_end_at - e.inference_start_at,
    peak_gpu_mem_mb: e.peak_gpu_mem_mb, ...x, util_mean_pct: null, power_mean_w: null,
  })
  for (const k of ['util_mean_pct', 'power_mean_w'] as const) {
    if (x[k] === null) expect(r[k]).toBeNull()
    else expect(r[k] as number).toBeCloseTo(x[k], 6)
  }
}

describe('GET /v1/requests/gpu', () => {
  it('joins every request of the range with the samples of its GPU (or worker) during inference', async () => {
    const body = (await get(`/v1/requests/gpu?from=${iso(START)}&to=${iso(END)}&limit=${MAX_GROUPS}`)).json()
    const expected = fleet.requests.filter((e) => inRange(e)).sort((a, b) => b.completed_at - a.completed_at || (a.event_id < b.event_id ? -1 : 1))
    expect(expected.length).toBeGreaterThan(500)
    expect(body.truncated).toBe(false)
    expect(body.requests.map((r: Row) => r.event_id)).toEqual(expected.map((e) => e.event_id))
    const byId = new Map(expected.map((e) => [e.event_id, e]))
    for (const r of body.requests as Row[]) expectRow(r, byId.get(r.event_id)!)
    // The data exercises every path: worker fallback, no inference, several samples per request.
    const rows = body.requests as { matched_by: string; samples: number; inference_start_at: string | null }[]
    expect(rows.filter((r) => r.matched_by === 'worker_id' && r.samples > 0).length).toBeGreaterThan(50)
    expect(rows.some((r) => r.inference_start_at === null)).toBe(true)
    expect(body.requests.find((r: Row) => r.event_id === badEventId).samples).toBe(0)
    expect(rows.reduce((s, r) => s + r.samples, 0)).toBeGreaterThan(2 * rows.length)
  })

  it('orders by end-to-end latency with sort=slowest, cuts at limit and says so', async () => {
    const body = (await get(`/v1/requests/gpu?from=${iso(START)}&to=${iso(END)}&sort=slowest&limit=25`)).json()
    const e2e = (e: RequestEvent) => e.completed_at - e.received_at
    const expected = fleet.requests.filter((e) => inRange(e))
      .sort((a, b) => e2e(b) - e2e(a) || b.completed_at - a.completed_at || (a.event_id < b.event_id ? -1 : 1)).slice(0, 25)
    expect(body.truncated).toBe(true)
    expect(body.requests.map((r: Row) => r.event_id)).toEqual(expected.map((e) => e.event_id))
    for (const [i, r] of (body.requests as Row[]).entries()) expectRow(r, expected[i]!)
  })

  it('filters by model, worker, status, tenant, gpu_type and event id', async () => {
    const some = fleet.requests.filter((e) => inRange(e))
    const first = some[0]!
    const cases: [string, (e: RequestEvent) => boolean][] = [
      [`model=${encodeURIComponent(first.model)}&status=error`, (e) => e.model === first.model && e.status === 'error'],
      [`worker=${encodeURIComponent(first.worker_id)},nope`, (e) => e.worker_id === first.worker_id],
      [`tenant=${encodeURIComponent(first.tenant)}&gpu_type=${encodeURIComponent(first.gpu_type)}`, (e) => e.tenant === first.tenant && e.gpu_type === first.gpu_type],
      [`event_id=${encodeURIComponent(first.event_id)}`, (e) => e.event_id === first.event_id],
    ]
    for (const [query, keep] of cases) {
      const body = (await get(`/v1/requests/gpu?from=${iso(START)}&to=${iso(END)}&limit=${MAX_GROUPS}&${query}`)).json()
      const expected = some.filter(keep)
      expect(expected.length, query).toBeGreaterThan(0)
      expect(expected.length, query).toBeLessThan(some.length)
      expect(body.requests.map((r: Row) => r.event_id).sort(), query).toEqual(expected.map((e) => e.event_id).sort())
    }
    const none = (await get(`/v1/requests/gpu?from=${iso(START)}&to=${iso(END)}&event_id=no-such-event`)).json()
    expect([none.requests, none.truncated]).toEqual([[], false])
  })

  it('answers CSV with the JSON columns', async () => {
    const lines = (await get(`/v1/requests/gpu?from=${iso(START)}&to=${iso(END)}&limit=10&format=csv`)).body.trimEnd().split('\r\n')
    expect(lines).toHaveLength(11)
    const header = lines[0]!.split(',')
    expect(header.slice(0, 3)).toEqual(['event_id', 'request_id', 'completed_at'])
    const json = (await get(`/v1/requests/gpu?from=${iso(START)}&to=${iso(END)}&limit=10`)).json()
    const cells = lines[1]!.split(',')
    expect(cells[header.indexOf('event_id')]).toBe(json.requests[0].event_id)
    expect(Number(cells[header.indexOf('samples')])).toBe(json.requests[0].samples)
  })

  it('refuses unknown parameters, bad statuses, limits over the maximum and bad ranges', async () => {
    for (const url of [
      `/v1/requests/gpu?worker_id=w1`, `/v1/requests/gpu?status=failed`, `/v1/requests/gpu?sort=fastest`,
      `/v1/requests/gpu?limit=${MAX_GROUPS + 1}`, `/v1/requests/gpu?sample_interval_ms=0`, `/v1/requests/gpu?from=-1h&to=-2h`,
    ]) {
      const res = await seeded.api.inject({ method: 'GET', url })
      expect(res.statusCode, url).toBe(400)
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
      expect(res.json().code).toMatch(/^API_BAD_(REQUEST|TIME_RANGE)$/)
    }
  })

  it('is described in the OpenAPI document', async () => {
    const doc = (await get('/openapi.json')).json()
    for (const path of ['/v1/requests/gpu']) expect(doc.paths[path]?.get?.responses?.['200'], path).toBeDefined()
  })
})

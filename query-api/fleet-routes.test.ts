/**
 * The errors, availability, GPU and OOM routes over one simulated hour of a fleet written into
 * an embedded ClickHouse (windows filled from raw rows by test-support/windows-fill.ts). Every
 * expected number is computed in test-support/expected.ts from the simulated events.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ERROR_TYPES } from '../schemas/generated/types.ts'
import { expectedAvailability, expectedErrors, expectedGpus, expectedOom } from './test-support/expected.ts'
import { simulateFleet, type Fleet } from './test-support/fleet-data.ts'
import { seededApi, type SeededApi } from './test-support/seeded-api.ts'

const MIN = 60_000
const END = Math.floor(Date.now() / (10 * MIN)) * 10 * MIN
const START = END - 60 * MIN
const iso = (ms: number) => new Date(ms).toISOString()
const database = 'fleet_routes'
let seeded: SeededApi
let fleet: Fleet

beforeAll(async () => {
  // errorScale 4: enough OOMs and other errors in an hour to make every rate non-trivial.
  fleet = simulateFleet({ seed: 11, requestRate: 3, hosts: 3, gpusPerHost: 2, sampleIntervalMs: 5_000, errorScale: 4 }, START, 60 * MIN)
  seeded = await seededApi({ database, fleet, windows: true, api: { now: () => END } })
})

afterAll(async () => {
  await seeded?.close()
})

const get = (url: string) => seeded.get(url)

describe('GET /v1/errors and /v1/availability', () => {
  it('counts every error type and its rate, in total and per 5-minute bucket', async () => {
    const body = (await get(`/v1/errors?from=${iso(START)}&to=${iso(END)}&step=5m`)).json()
    const exp = expectedErrors(fleet.requests, START, END)
    expect(exp.errors).toBeGreaterThan(20)
    expect(body.totals).toMatchObject({ requests: exp.requests, errors: exp.errors, by_type: exp.by_type, error_rate: exp.errors / exp.requests })
    for (const t of ERROR_TYPES) expect(body.totals.rate_by_type[t]).toBeCloseTo(exp.by_type[t] / exp.requests, 12)
    const points = body.series[0].points
    expect(points).toHaveLength(12)
    for (const p of points) {
      const t = Date.parse(p.time)
      const e = expectedErrors(fleet.requests, t, t + 5 * MIN)
      expect([p.requests, p.errors, p.by_type]).toEqual([e.requests, e.errors, e.by_type])
    }
  })

  it('groups and filters by model', async () => {
    const models = [...new Set(fleet.requests.map((e) => e.model))].sort()
    const body = (await get(`/v1/errors?from=${iso(START)}&to=${iso(END)}&step=1h&groupBy=model`)).json()
    const got = new Map(body.series.map((s: { group: string; totals: { errors: number } }) => [s.group, s.totals.errors]))
    expect(got).toEqual(new Map(models.map((m) => [m, expectedErrors(fleet.requests.filter((e) => e.model === m), START, END).errors])))
    const one = (await get(`/v1/errors?from=${iso(START)}&to=${iso(END)}&model=${encodeURIComponent(models[0]!)}`)).json()
    expect(one.totals.requests).toBe(expectedErrors(fleet.requests.filter((e) => e.model === models[0]), START, END).requests)
  })

  it('answers availability = successes / (requests − client errors)', async () => {
    const body = (await get(`/v1/availability?from=${iso(START)}&to=${iso(END)}&step=10m`)).json()
    const exp = expectedErrors(fleet.requests, START, END)
    const client = exp.by_type.invalid_input + exp.by_type.safety_blocked + exp.by_type.cancelled
    expect(body.totals).toEqual({
      requests: exp.requests, successes: exp.requests - exp.errors, client_errors: client, server_errors: exp.errors - client,
      eligible: exp.requests - client, availability: expectedAvailability(exp),
    })
    expect(body.series[0].points).toHaveLength(6)
    const csv = (await get(`/v1/availability?from=${iso(START)}&to=${iso(END)}&step=10m&format=csv`)).body.trimEnd().split('\r\n')
    expect(csv[0]).toBe('time,group,requests,successes,client_errors,server_errors,eligible,availability')
    expect(csv).toHaveLength(7)
  })
})

describe('GET /v1/gpu/utilization and /v1/gpu/series', () => {
  it('answers per GPU the mean and p95 utilization, headroom, temperature, throttling and idleness of the samples', async () => {
    const body = (await get(`/v1/gpu/utilization?from=${iso(START)}&to=${iso(END)}`)).json()
    const exp = expectedGpus(fleet.samples, START, END)
    expect(exp.size).toBe(6)
    expect(body.groups.map((g: { group: string }) => g.group).sort()).toEqual([...exp.keys()].sort())
    for (const g of body.groups) {
      const e = exp.get(g.group)!
      expect(g.samples).toBe(e.samples)
      expect(g.util_mean_pct).toBeCloseTo(e.util_mean, 6)
      expect(g.util_p95_pct).toBeCloseTo(e.util_p95, 6)
      expect(g.busy_fraction).toBeCloseTo(e.busy / e.samples, 12)
      expect(g.mem_headroom_min_mb).toBeCloseTo(e.mem_headroom_min, 6)
      expect(g.temp_max_c).toBeCloseTo(e.temp_max, 6)
      expect(g.throttled_fraction).toBeCloseTo(e.throttled_fraction, 12)
      expect(g.idle_gpus).toBe(e.idle ? 1 : 0)
    }
  })

  it('sums GPUs per host and per model', async () => {
    const exp = expectedGpus(fleet.samples, START, END)
    const hostOf = new Map(fleet.samples.map((s) => [s.gpu_uuid, s.host]))
    const body = (await get(`/v1/gpu/utilization?from=${iso(START)}&to=${iso(END)}&groupBy=host`)).json()
    for (const g of body.groups) {
      const gpus = [...exp].filter(([uuid]) => hostOf.get(uuid) === g.group).map(([, e]) => e)
      expect([g.gpus, g.samples, g.idle_gpus]).toEqual([gpus.length, gpus.reduce((s, e) => s + e.samples, 0), gpus.filter((e) => e.idle).length])
    }
    const byModel = (await get(`/v1/gpu/utilization?from=${iso(START)}&to=${iso(END)}&groupBy=model`)).json()
    const workerModel = new Map(fleet.requests.map((e) => [e.worker_id, e.model]))
    const gpuModel = new Map(fleet.samples.map((s) => [s.gpu_uuid, workerModel.get(s.worker_id ?? '') ?? '(idle)']))
    const expected = new Map<string, number>()
    for (const uuid of exp.keys()) expected.set(gpuModel.get(uuid)!, (expected.get(gpuModel.get(uuid)!) ?? 0) + 1)
    expect(new Map(byModel.groups.map((g: { group: string; gpus: number }) => [g.group, g.gpus]))).toEqual(expected)

    const gpuType = fleet.requests[0]!.gpu_type
    const workers = new Set(fleet.requests.filter((e) => e.gpu_type === gpuType && e.completed_at >= START && e.completed_at < END).map((e) => e.worker_id))
    const uuids = new Set(fleet.samples.filter((s) => workers.has(s.worker_id ?? '')).map((s) => s.gpu_uuid))
    const filtered = (await get(`/v1/gpu/utilization?from=${iso(START)}&to=${iso(END)}&gpu_type=${encodeURIComponent(gpuType)}`)).json()
    expect(filtered.groups.map((g: { group: string }) => g.group).sort()).toEqual([...uuids].sort())
    expect(uuids.size).toBeLessThan(exp.size)
  })

  it('gives one utilization series per GPU for the heat map', async () => {
    const body = (await get(`/v1/gpu/series?from=${iso(START)}&to=${iso(END)}&step=10m`)).json()
    expect(body.gpus).toHaveLength(expectedGpus(fleet.samples, START, END).size)
    for (const g of body.gpus) {
      expect(g.points).toHaveLength(6)
      for (const p of g.points) {
        const t = Date.parse(p.time)
        const e = expectedGpus(fleet.samples.filter((s) => s.gpu_uuid === g.gpu_uuid), t, t + 10 * MIN).get(g.gpu_uuid)!
        expect(p.samples).toBe(e.samples)
        expect(p.value).toBeCloseTo(e.util_mean, 6)
      }
    }
  })
})

describe('CSV answers', () => {
  it('has a header row and one line per point or row, with the JSON numbers', async () => {
    const q = `from=${iso(START)}&to=${iso(END)}`
    const lines = async (url: string) => (await get(url)).body.trimEnd().split('\r\n')
    const errors = await lines(`/v1/errors?${q}&step=10m&format=csv`)
    expect(errors[0]).toBe(`time,group,requests,errors,error_rate,${ERROR_TYPES.join(',')}`)
    expect(errors).toHaveLength(7)
    const exp = expectedErrors(fleet.requests, START, START + 10 * MIN)
    expect(errors[1]!.split(',').slice(2, 4).map(Number)).toEqual([exp.requests, exp.errors])
    const gpu = await lines(`/v1/gpu/utilization?${q}&format=csv`)
    expect(gpu[0]!.split(',').slice(0, 4)).toEqual(['group', 'gpus', 'idle_gpus', 'samples'])
    expect(gpu).toHaveLength(7)
    const oom = await lines(`/v1/oom?${q}&format=csv`)
    expect(oom[0]).toBe('model,width,height,resolution,resolution_bucket,batch_size,requests,ooms,oom_rate')
    expect(oom).toHaveLength(expectedOom(fleet.requests, START, END).size + 1)
    const series = await lines(`/v1/latency/series?${q}&step=10m&quantiles=0.5,0.99&format=csv`)
    expect(series[0]).toBe('time,group,count,p50,p99')
    expect(series).toHaveLength(7)
  })
})

describe('GET /v1/oom', () => {
  it('counts OOMs per model × resolution × batch size, most OOMs first', async () => {
    const body = (await get(`/v1/oom?from=${iso(START)}&to=${iso(END)}`)).json()
    const exp = expectedOom(fleet.requests, START, END)
    const ooms = [...exp.values()].reduce((s, v) => s + v.ooms, 0)
    expect(ooms).toBeGreaterThan(0)
    expect(body.totals).toEqual({ requests: fleet.requests.filter((e) => e.completed_at >= START && e.completed_at < END).length, ooms, oom_rate: body.totals.requests > 0 ? ooms / body.totals.requests : null })
    const got = new Map(body.rows.map((r: { model: string; resolution: string; batch_size: number; requests: number; ooms: number }) => [`${r.model}|${r.resolution}|${r.batch_size}`, { requests: r.requests, ooms: r.ooms }]))
    expect(got).toEqual(exp)
    const counts = body.rows.map((r: { ooms: number }) => r.ooms)
    expect(counts).toEqual([...counts].sort((a, b) => b - a))
  })
})

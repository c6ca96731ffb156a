/**
 * GET /v1/hosts and /v1/hosts/series over 30 simulated minutes of three hosts written into an
 * embedded ClickHouse. Host 0 keeps one of its four GPUs, so a figure counted per GPU sample
 * would weigh it a quarter of the others; each GPU line of a round is stamped a few ms apart,
 * as nvidia-smi does. Expectations are computed here from the samples the simulator produced.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { GpuSample } from '../schemas/generated/types.ts'
import { exactQuantile } from './test-support/fleet-data.ts'
import { simulateFleet, type Fleet } from './test-support/fleet-data.ts'
import { seededApi, type SeededApi } from './test-support/seeded-api.ts'

const MIN = 60_000
const END = Math.floor(Date.now() / (10 * MIN)) * 10 * MIN
const START = END - 30 * MIN
const iso = (ms: number) => new Date(ms).toISOString()
const database = 'hosts_routes'
let seeded: SeededApi
let fleet: Fleet
let host0: string

beforeAll(async () => {
  const sim = simulateFleet({ seed: 23, requestRate: 3, hosts: 3, gpusPerHost: 4, sampleIntervalMs: 5_000 }, START, 30 * MIN)
  host0 = sim.samples[0]!.host
  const samples = sim.samples
    .filter((s) => s.host !== host0 || s.gpu_index === 0)
    // One round of another host read no CPU ([N/A]): it counts as an instant, its CPU is skipped.
    .map((s) => ({ ...s, sampled_at: s.sampled_at + s.gpu_index * 3, host_cpu_pct: s.host !== host0 && s.sampled_at === START + 10 * MIN ? null : s.host_cpu_pct }))
  fleet = { requests: sim.requests, samples }
  seeded = await seededApi({ database, fleet, api: { now: () => END } })
}, 60_000) // chdb start-up and migrations take seconds on a busy 2-core machine

afterAll(async () => {
  await seeded?.close()
})

const get = (url: string) => seeded.get(url)

type Instant = { host: string; cpu: number | null; used: number | null; total: number | null }
const mean = (xs: readonly number[]) => (xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length)

/** One value per host per second of sampled_at: the mean of its GPU lines' readings. */
function instants(samples: readonly GpuSample[], fromMs: number, toMs: number): Instant[] {
  const by = new Map<string, GpuSample[]>()
  for (const s of samples) {
    if (s.sampled_at < fromMs || s.sampled_at >= toMs) continue
    const key = `${s.host}|${Math.floor(s.sampled_at / 1000)}`
    by.set(key, [...(by.get(key) ?? []), s])
  }
  const pick = (list: GpuSample[], f: (s: GpuSample) => number | null) => list.map(f).filter((v): v is number => v !== null)
  return [...by.values()].map((list) => ({
    host: list[0]!.host,
    cpu: mean(pick(list, (s) => s.host_cpu_pct)),
    used: mean(pick(list, (s) => s.host_mem_used_mb)),
    total: pick(list, (s) => s.host_mem_total_mb).reduce((a, b) => Math.max(a, b), -Infinity),
  }))
}

function expectedGroup(list: readonly Instant[], samples: readonly GpuSample[]) {
  const cpu = list.map((i) => i.cpu).filter((v): v is number => v !== null).sort((a, b) => a - b)
  const used = list.map((i) => i.used).filter((v): v is number => v !== null)
  const hosts = new Set(list.map((i) => i.host))
  const totals = [...hosts].map((h) => Math.max(...list.filter((i) => i.host === h).map((i) => i.total ?? 0)))
  return {
    hosts: hosts.size, samples: list.length, gpus: new Set(samples.filter((s) => hosts.has(s.host)).map((s) => s.gpu_uuid)).size,
    cpu_mean: mean(cpu), cpu_p95: exactQuantile(cpu, 0.95), cpu_max: Math.max(...cpu), used_mean: mean(used), used_max: Math.max(...used),
    total: totals.reduce((a, b) => a + b, 0), headroom: Math.min(...list.map((i) => (i.total ?? 0) - (i.used ?? 0))),
  }
}

function expectGroup(got: Record<string, number | null>, e: ReturnType<typeof expectedGroup>) {
  expect([got['hosts'], got['samples'], got['gpus']]).toEqual([e.hosts, e.samples, e.gpus])
  expect(got['cpu_mean_pct']).toBeCloseTo(e.cpu_mean!, 9)
  expect(got['cpu_p95_pct']).toBeCloseTo(e.cpu_p95, 9)
  expect(got['cpu_max_pct']).toBeCloseTo(e.cpu_max, 9)
  expect(got['mem_used_mean_mb']).toBeCloseTo(e.used_mean!, 6)
  expect(got['mem_used_max_mb']).toBe(e.used_max)
  expect(got['mem_total_mb']).toBe(e.total)
  expect(got['mem_headroom_min_mb']).toBe(e.headroom)
}

describe('GET /v1/hosts', () => {
  it('answers per host over host instants: CPU mean / p95 / max, memory used, total, headroom and GPUs', async () => {
    const body = (await get(`/v1/hosts?from=${iso(START)}&to=${iso(END)}`)).json()
    const all = instants(fleet.samples, START, END)
    const hosts = [...new Set(all.map((i) => i.host))].sort()
    expect(body.groups.map((g: { group: string }) => g.group)).toEqual(hosts)
    for (const g of body.groups) {
      const e = expectedGroup(all.filter((i) => i.host === g.group), fleet.samples)
      expect(e.samples).toBe(360) // 30 min / 5 s: one instant per round, however many GPUs
      expectGroup(g, e)
    }
    expect(body.groups.find((g: { group: string }) => g.group === host0).gpus).toBe(1)
    expect(new Set(fleet.samples.map((s) => s.gpu_name)).size).toBeGreaterThan(1)
    expect(fleet.samples.filter((s) => s.host_cpu_pct === null).length).toBe(8)
  })

  it('weighs each host once per instant over the fleet, not once per GPU sample', async () => {
    const body = (await get(`/v1/hosts?from=${iso(START)}&to=${iso(END)}&groupBy=none`)).json()
    const e = expectedGroup(instants(fleet.samples, START, END), fleet.samples)
    expect(body.groups).toHaveLength(1)
    expect(body.groups[0].group).toBeNull()
    expectGroup(body.groups[0], e)
    const perSample = mean(fleet.samples.filter((s) => s.sampled_at >= START && s.sampled_at < END).map((s) => s.host_cpu_pct!))!
    // The data tells the two definitions apart: host 0 (one GPU) weighs 1/9 per sample, 1/3 per instant.
    expect(Math.abs(perSample - e.cpu_mean!)).toBeGreaterThan(0.05)
  })

  it('filters by host and by GPU product', async () => {
    const one = (await get(`/v1/hosts?from=${iso(START)}&to=${iso(END)}&host=${encodeURIComponent(host0)}`)).json()
    expect(one.groups.map((g: { group: string }) => g.group)).toEqual([host0])
    const name = fleet.samples.find((s) => s.host !== host0)!.gpu_name
    const matching = fleet.samples.filter((s) => s.gpu_name === name)
    const body = (await get(`/v1/hosts?from=${iso(START)}&to=${iso(END)}&gpu_name=${encodeURIComponent(name)}&groupBy=none`)).json()
    expectGroup(body.groups[0], expectedGroup(instants(matching, START, END), matching))
    const none = (await get(`/v1/hosts?from=${iso(START)}&to=${iso(END)}&host=no-such-host`)).json()
    expect(none.groups).toEqual([])
  })

  it('refuses unknown parameters, group-bys and bad ranges with a problem document', async () => {
    for (const url of [`/v1/hosts?bogus=1`, `/v1/hosts?groupBy=gpu`, `/v1/hosts?from=${iso(END)}&to=${iso(START)}`, `/v1/hosts/series?metric=power`, `/v1/hosts/series?step=7s`]) {
      const res = await seeded.api.inject({ method: 'GET', url })
      expect(res.statusCode, url).toBe(400)
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
      expect(res.json().code).toMatch(/^API_BAD_(REQUEST|TIME_RANGE|STEP)$/)
    }
  })
})

describe('GET /v1/hosts/series', () => {
  it('gives per host and 5-minute bucket the mean CPU and memory used of its instants', async () => {
    for (const metric of ['cpu', 'mem_used'] as const) {
      const body = (await get(`/v1/hosts/series?from=${iso(START)}&to=${iso(END)}&step=5m&metric=${metric}`)).json()
      expect(body.hosts).toHaveLength(3)
      for (const h of body.hosts) {
        expect(h.points).toHaveLength(6)
        for (const p of h.points) {
          const t = Date.parse(p.time)
          const list = instants(fleet.samples.filter((s) => s.host === h.host), t, t + 5 * MIN)
          expect(p.samples).toBe(list.length)
          expect(p.value).toBeCloseTo(mean(list.map((i) => (metric === 'cpu' ? i.cpu : i.used)).filter((v): v is number => v !== null))!, 6)
        }
      }
    }
  })

  it('answers CSV with a header row and one line per host and bucket', async () => {
    const lines = (await get(`/v1/hosts/series?from=${iso(START)}&to=${iso(END)}&step=10m&format=csv`)).body.trimEnd().split('\r\n')
    expect(lines[0]).toBe('time,host,samples,cpu')
    expect(lines).toHaveLength(1 + 3 * 3)
    const summary = (await get(`/v1/hosts?from=${iso(START)}&to=${iso(END)}&format=csv`)).body.trimEnd().split('\r\n')
    expect(summary[0]).toBe('group,hosts,gpus,samples,cpu_mean_pct,cpu_p95_pct,cpu_max_pct,mem_used_mean_mb,mem_used_max_mb,mem_total_mb,mem_headroom_min_mb')
    expect(summary).toHaveLength(4)
  })

  it('is described in the OpenAPI document', async () => {
    const doc = (await get('/openapi.json')).json()
    for (const path of ['/v1/hosts', '/v1/hosts/series']) expect(doc.paths[path]?.get?.responses?.['200'], path).toBeDefined()
  })
})

import { describe, expect, it } from 'vitest'
import { GPU_TYPES, MODELS } from './catalog.ts'
import { createFleetSimulator } from './event-generator.ts'
import { buildFleet, DEFAULT_FLEET_CONFIG, hostsForEventRate, requiredMemMb, usableMemMb } from './fleet-model.ts'
import { planFleet } from './fleet-plan.ts'
import { runAtLoad } from './test-helpers.ts'

describe('buildFleet', () => {
  it('builds the default fleet: 4 hosts x 2 GPUs, H100 / A100 / L4 hosts in turn, five models', () => {
    const fleet = buildFleet(DEFAULT_FLEET_CONFIG)
    expect(fleet.workers.map((w) => `${w.id} ${w.gpu.type} ${w.model.name}`)).toEqual([
      'useast-gpu-001-w0 H100-80GB sdxl-base',
      'useast-gpu-001-w1 H100-80GB flux-schnell',
      'euwest-gpu-002-w0 A100-40GB sdxl-base',
      'euwest-gpu-002-w1 A100-40GB sd-x4-upscaler',
      'uswest-gpu-003-w0 L4-24GB sdxl-turbo',
      'uswest-gpu-003-w1 L4-24GB sd15',
      'useast-gpu-004-w0 H100-80GB sdxl-base',
      'useast-gpu-004-w1 H100-80GB flux-schnell',
    ])
    for (const w of fleet.workers) expect(w.gpuUuid).toMatch(/^GPU-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(new Set(fleet.workers.map((w) => w.gpuUuid)).size).toBe(8)
    expect(fleet.capacity).toBeCloseTo(fleet.workers.reduce((s, w) => s + w.capacity, 0), 9)
  })

  it('only places a model on a GPU that holds its weights with room for a 1-megapixel image', () => {
    for (const gpu of Object.values(GPU_TYPES)) {
      for (const name of gpu.servedModels) {
        expect(requiredMemMb(MODELS[name]!, 1024, 1024, 1)).toBeLessThan(usableMemMb(gpu))
      }
    }
  })

  it('rates faster GPUs and lighter models with a higher capacity', () => {
    const fleet = buildFleet(DEFAULT_FLEET_CONFIG)
    const cap = (gpu: string, model: string) => fleet.workers.find((w) => w.gpu.type === gpu && w.model.name === model)!.capacity
    expect(cap('H100-80GB', 'sdxl-base')).toBeGreaterThan(cap('A100-40GB', 'sdxl-base'))
    expect(cap('L4-24GB', 'sdxl-turbo')).toBeGreaterThan(cap('L4-24GB', 'sd15'))
  })
})

describe('out-of-memory errors', () => {
  const { requests } = runAtLoad(0.5, 20_000, { seed: 5 })

  it('happen exactly for the requests whose memory need exceeds the GPU', () => {
    let ooms = 0
    for (const r of requests) {
      if (r.inference_start_at === null) continue
      const exceeds = requiredMemMb(MODELS[r.model]!, r.width, r.height, r.batch_size) > usableMemMb(GPU_TYPES[r.gpu_type]!)
      expect(r.error_type === 'oom').toBe(exceeds)
      if (exceeds) ooms++
    }
    expect(ooms).toBeGreaterThan(20)
  })

  it('happen at large resolution x batch: never at batch 1 or below one megapixel', () => {
    for (const r of requests.filter((x) => x.error_type === 'oom')) {
      expect(r.batch_size).toBeGreaterThan(1)
      expect(r.width * r.height).toBeGreaterThan(1024 * 1024)
      expect(r.peak_gpu_mem_mb).toBeLessThanOrEqual(GPU_TYPES[r.gpu_type]!.memTotalMb)
    }
  })
})

describe('planFleet', () => {
  it('keeps the default 4 x 2 fleet for a small rate and gives requests what samples leave', () => {
    const plan = planFleet({ eventRate: 10, seed: 1, hosts: 0, targetLoad: 0.6 })
    expect(plan.config.hosts).toBe(4)
    expect(plan.sampleRate).toBe(8)
    expect(plan.config.requestRate).toBe(2)
  })

  it('grows the fleet for a large rate so that the offered load is close to the target', () => {
    const plan = planFleet({ eventRate: 20_000, seed: 1, hosts: 0, targetLoad: 0.6 })
    expect(Math.abs(plan.offeredLoad - 0.6)).toBeLessThan(0.01)
    expect(plan.config.requestRate + plan.sampleRate).toBeCloseTo(20_000, 6)
    const smaller = hostsForEventRate(20_000, 0.6, plan.config)
    expect(smaller).toBe(plan.config.hosts)
  })

  it('refuses a rate the GPU samples alone exceed, saying what to change', () => {
    expect(() => planFleet({ eventRate: 5, seed: 1, hosts: 4, targetLoad: 0.6 })).toThrow(/--rate/)
  })

  it('matches the simulator: the planned request rate is what the simulator runs', () => {
    const plan = planFleet({ eventRate: 100, seed: 3, hosts: 0, targetLoad: 0.6 })
    const sim = createFleetSimulator(plan.config)
    expect(sim.offeredLoad).toBeCloseTo(plan.offeredLoad, 12)
    expect(sim.sampleRate).toBe(plan.sampleRate)
  })
})

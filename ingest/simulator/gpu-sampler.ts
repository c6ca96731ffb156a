/**
 * GPU samples of the simulated fleet, one per GPU per sampling tick, read from what the workers
 * actually did: utilization is the share of the interval the GPU ran inference (times a kernel
 * duty cycle, plus noise), memory follows the loaded model and the running batch, power follows
 * utilization up to the power limit (then sw_power_cap), temperature follows power with a lag,
 * and Xid / ECC counters follow the GPU faults. Host CPU and memory come from the host's GPUs.
 */
import type { GpuSample } from '../../schemas/generated/types.ts'
import type { HostSpec } from './fleet-model.ts'
import type { Rng } from './prng.ts'
import type { WorkerRuntime } from './worker-sim.ts'

/** Share of inference time during which a kernel runs (Python and launch gaps between steps). */
const KERNEL_DUTY = 0.97
/** Temperature time constant (ms). */
const THERMAL_TAU_MS = 30_000

interface GpuThermalState {
  temperatureC: number
}

export interface HostRuntime {
  readonly spec: HostSpec
  readonly workers: readonly WorkerRuntime[]
  readonly thermal: GpuThermalState[]
}

export function createHostRuntime(spec: HostSpec, workers: readonly WorkerRuntime[]): HostRuntime {
  return { spec, workers, thermal: workers.map((w) => ({ temperatureC: w.spec.gpu.tempIdleC })) }
}

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x
}

interface GpuReading {
  readonly worker: WorkerRuntime
  readonly util: number
  readonly memMb: number
  readonly loading: boolean
}

/** Samples of every GPU of `host` at `at`, covering [at - intervalMs, at). */
export function sampleHost(rng: Rng, host: HostRuntime, at: number, intervalMs: number): GpuSample[] {
  const readings: GpuReading[] = []
  let utilSum = 0
  let loadedWeightsMb = 0
  for (const worker of host.workers) {
    const { busyMs, memMb, loading } = worker.timeline.sample(at - intervalMs, at)
    const share = busyMs / intervalMs
    const util = share === 0 ? (loading ? rng.int(1, 3) : 0) : Math.round(clamp(share * KERNEL_DUTY * 100 + rng.normal() * 1.5, 1, 100))
    readings.push({ worker, util, memMb, loading })
    utilSum += util
    if (memMb > worker.spec.model.weightsMb) loadedWeightsMb += worker.spec.model.weightsMb
  }
  // One worker process per GPU: Python, image encoding and uploads cost CPU in proportion to load.
  const hostCpu = Math.fround(Math.round(clamp(3 + utilSum * 0.07 + rng.normal() * 1.2, 0.5, 100) * 10) / 10)
  const hostMem = Math.round(18_000 + 1.15 * loadedWeightsMb + host.workers.length * 2500 + rng.normal() * 300)
  const alpha = 1 - Math.exp(-intervalMs / THERMAL_TAU_MS)
  return readings.map((r, i) => gpuSample(rng, host, host.thermal[i] as GpuThermalState, r, at, alpha, hostCpu, hostMem))
}

function gpuSample(
  rng: Rng,
  host: HostRuntime,
  thermal: GpuThermalState,
  r: GpuReading,
  at: number,
  alpha: number,
  hostCpu: number,
  hostMem: number,
): GpuSample {
  const { worker, util, loading } = r
  const gpu = worker.spec.gpu
  const model = worker.spec.model
  const utilMem = util === 0 ? 0 : Math.round(clamp(util * model.memBusyRatio + rng.normal() * 2, 0, 100))
  const wantedW = gpu.powerIdleW * rng.lognormal(0.03) + (gpu.powerLimitW - gpu.powerIdleW) * (util / 100) * model.powerIntensity * gpu.busyPowerFactor * rng.lognormal(0.04)
  const powerCapped = wantedW >= gpu.powerLimitW * 0.985
  // Float fields hold float32 values, so what is written is exactly what a reader decodes.
  const powerW = Math.fround(Math.round(Math.min(wantedW, gpu.powerLimitW * (0.985 + 0.015 * rng.next())) * 100) / 100)
  const targetC = gpu.tempIdleC + (powerW - gpu.powerIdleW) * gpu.tempPerW
  thermal.temperatureC += (targetC - thermal.temperatureC) * alpha
  const temperatureC = Math.round(thermal.temperatureC + rng.normal() * 0.4)
  const thermalSlow = temperatureC >= gpu.thermalSlowdownC
  const hwSlowdown = util > 0 && rng.chance(0.0005)
  const throttle: string[] = []
  if (util === 0 && !loading) throttle.push('gpu_idle')
  if (powerCapped) throttle.push('sw_power_cap')
  if (thermalSlow) throttle.push('sw_thermal')
  if (hwSlowdown) throttle.push('hw_slowdown')
  let clock = gpu.smClockIdleMhz
  if (util > 0) {
    const factor = (powerCapped ? 0.86 + 0.08 * rng.next() : 1) * (thermalSlow ? 0.9 : 1) * (hwSlowdown ? 0.5 : 1)
    clock = Math.round((gpu.smClockMaxMhz * factor) / 15) * 15
  }
  return {
    sampled_at: at,
    host: host.spec.name,
    worker_id: worker.spec.id,
    gpu_index: worker.spec.gpuIndex,
    gpu_uuid: worker.spec.gpuUuid,
    gpu_name: gpu.productName,
    util_gpu_pct: util,
    util_mem_pct: utilMem,
    mem_used_mb: Math.round(r.memMb),
    mem_total_mb: gpu.memTotalMb,
    temperature_c: temperatureC,
    power_w: powerW,
    power_limit_w: gpu.powerLimitW,
    sm_clock_mhz: clock,
    throttle_reasons: throttle,
    ecc_uncorrected: worker.timeline.eccUncorrected,
    last_xid: worker.timeline.lastXid,
    host_cpu_pct: hostCpu,
    host_mem_used_mb: hostMem,
    host_mem_total_mb: host.spec.memTotalMb,
    source: 'simulated',
  }
}

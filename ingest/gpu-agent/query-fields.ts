/**
 * What the agent asks nvidia-smi for, in the order of the CSV columns it gets back. Drivers from
 * R535 on call the clock reasons `clocks_event_reasons.*`; older ones `clocks_throttle_reasons.*`
 * and reject the new name ("is not a valid field to query"), so the agent probes for it once.
 */

export type ReasonPrefix = 'clocks_event_reasons' | 'clocks_throttle_reasons'

export const BASE_FIELDS = [
  'timestamp',
  'index',
  'uuid',
  'name',
  'pci.bus_id',
  'utilization.gpu',
  'utilization.memory',
  'memory.used',
  'memory.total',
  'temperature.gpu',
  'power.draw',
  'power.limit',
  'clocks.sm',
  'ecc.errors.uncorrected.volatile.total',
  'mig.mode.current',
] as const

/** nvidia-smi reason suffix → name in GpuSample.throttle_reasons (the simulator's vocabulary). */
export const REASONS = {
  gpu_idle: 'gpu_idle',
  applications_clocks_setting: 'applications_clocks_setting',
  sw_power_cap: 'sw_power_cap',
  hw_slowdown: 'hw_slowdown',
  hw_thermal_slowdown: 'hw_thermal',
  hw_power_brake_slowdown: 'hw_power_brake',
  sw_thermal_slowdown: 'sw_thermal',
  sync_boost: 'sync_boost',
} as const

export type ReasonSuffix = keyof typeof REASONS
export const REASON_SUFFIXES = Object.keys(REASONS) as ReasonSuffix[]

export function queryFields(prefix: ReasonPrefix): string[] {
  return [...BASE_FIELDS, ...REASON_SUFFIXES.map((s) => `${prefix}.${s}`)]
}

/** Arguments of one nvidia-smi call; with `loopMs`, one long-lived process printing every loopMs. */
export function smiArgs(prefix: ReasonPrefix, loopMs?: number): string[] {
  const args = [`--query-gpu=${queryFields(prefix).join(',')}`, '--format=csv,noheader,nounits']
  if (loopMs !== undefined) args.push(`-lms=${loopMs}`)
  return args
}

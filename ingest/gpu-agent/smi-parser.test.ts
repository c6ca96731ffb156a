import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseSmiLine, parseSmiTimestamp, type LineOutcome } from './smi-parser.ts'

const fixture = (name: string): LineOutcome[] =>
  readFileSync(join(import.meta.dirname, 'fixtures', name), 'utf8')
    .split('\n')
    .map(parseSmiLine)
    .filter((o) => o.kind !== 'blank')

const local = (y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number): number => new Date(y, mo - 1, d, h, mi, s, ms).getTime()

function samples(outcomes: LineOutcome[]) {
  return outcomes.map((o) => {
    if (o.kind !== 'sample') throw new Error(`expected a sample, got ${o.kind}`)
    return o
  })
}

describe('parseSmiLine on recorded nvidia-smi output', () => {
  it('H100 SXM5, four GPUs: every field, power cap and idle reasons', () => {
    const s = samples(fixture('h100-sxm5-4gpu.csv'))
    expect(s).toHaveLength(4)
    expect(s[0]!.row).toEqual({
      sampled_at: local(2026, 11, 28, 10, 15, 2, 118),
      gpu_index: 0,
      gpu_uuid: 'GPU-5c8a1e2f-93b4-4d7e-8a61-0f2c7d9e4b13',
      gpu_name: 'NVIDIA H100 80GB HBM3',
      busId: '00000000:18:00.0',
      util_gpu_pct: 98,
      util_mem_pct: 61,
      mem_used_mb: 71234,
      mem_total_mb: 81559,
      temperature_c: 67,
      power_w: Math.fround(612.45),
      power_limit_w: 700,
      sm_clock_mhz: 1980,
      ecc_uncorrected: 0,
      migMode: 'Disabled',
      throttle_reasons: [],
    })
    expect(s.map((x) => x.row.throttle_reasons)).toEqual([[], ['sw_power_cap'], ['gpu_idle'], []])
    expect(s.map((x) => x.row.gpu_index)).toEqual([0, 1, 2, 3])
    expect(s.every((x) => x.unavailable.length === 0)).toBe(true)
  })

  it('A100 on an older driver (clocks_throttle_reasons): ECC count and power cap', () => {
    const s = samples(fixture('a100-sxm4-driver470.csv'))
    expect(s.map((x) => [x.row.gpu_name, x.row.mem_total_mb, x.row.power_limit_w, x.row.ecc_uncorrected, x.row.throttle_reasons])).toEqual([
      ['NVIDIA A100-SXM4-40GB', 40960, 400, 0, ['sw_power_cap']],
      ['NVIDIA A100-SXM4-40GB', 40960, 400, 2, []],
    ])
    expect(s[1]!.row.power_w).toBe(Math.fround(96.2))
  })

  it('L4: MIG mode [N/A] is unavailable, power cap and software thermal slowdown at once', () => {
    const [s] = samples(fixture('l4.csv'))
    expect(s!.row).toMatchObject({ gpu_name: 'NVIDIA L4', mem_used_mb: 19876, mem_total_mb: 23034, power_limit_w: 72, sm_clock_mhz: 1620, migMode: null, throttle_reasons: ['sw_power_cap', 'sw_thermal'] })
    expect(s!.unavailable).toEqual(['mig.mode.current'])
  })

  it('RTX 4090 (consumer): no ECC, no MIG', () => {
    const [s] = samples(fixture('rtx4090-consumer.csv'))
    expect(s!.row).toMatchObject({ gpu_name: 'NVIDIA GeForce RTX 4090', util_gpu_pct: 96, mem_total_mb: 24564, power_w: Math.fround(431.27), power_limit_w: 450, sm_clock_mhz: 2745, ecc_uncorrected: null })
    expect(s!.unavailable).toEqual(['ecc.errors.uncorrected.volatile.total', 'mig.mode.current'])
  })

  it('A100 with MIG enabled: utilization is [N/A] on the MIG GPU only', () => {
    const s = samples(fixture('a100-mig.csv'))
    expect(s.map((x) => [x.row.migMode, x.row.util_gpu_pct, x.row.util_mem_pct, x.row.mem_used_mb])).toEqual([
      ['Enabled', null, null, 30211],
      ['Disabled', 64, 31, 52400],
    ])
    expect(s.map((x) => x.unavailable)).toEqual([['utilization.gpu', 'utilization.memory'], []])
  })

  it('a GPU that fell off the bus: its neighbours still parse, [Unknown Error] values are null', () => {
    const o = fixture('gpu-fell-off-bus.csv')
    expect(o.map((x) => x.kind)).toEqual(['sample', 'gpu-lost', 'sample'])
    expect(o[1]).toEqual({ kind: 'gpu-lost', busId: '0000:2A:00.0', message: 'GPU is lost.  Reboot the system to recover this GPU' })
    const third = o[2]
    if (third?.kind !== 'sample') throw new Error('expected a sample')
    expect([third.row.power_w, third.row.ecc_uncorrected, third.unavailable]).toEqual([null, null, ['power.draw', 'ecc.errors.uncorrected.volatile.total']])
  })

  it('no GPU, no driver, and lines it cannot read', () => {
    expect(fixture('no-devices.txt').map((o) => o.kind)).toEqual(['no-devices'])
    expect(fixture('driver-not-loaded.txt').map((o) => o.kind)).toEqual(['driver-error'])
    const h100 = readFileSync(join(import.meta.dirname, 'fixtures', 'h100-sxm5-4gpu.csv'), 'utf8').split('\n')[0]!
    const bad = [h100.replace(', 98,', ', ninety-eight,'), h100.split(',').slice(0, 10).join(','), h100.replace('Not Active', 'Maybe'), h100.replace('2026/11/28', '28.11.2026')]
    expect(bad.map((l) => {
      const o = parseSmiLine(l)
      return o.kind === 'malformed' ? o.reason.split(' ')[0] : o.kind
    })).toEqual(['utilization.gpu', '10', 'reason', 'timestamp'])
  })

  it('reads timestamps with and without milliseconds, in local time', () => {
    expect(parseSmiTimestamp('2026/01/02 03:04:05.6')).toBe(local(2026, 1, 2, 3, 4, 5, 600))
    expect(parseSmiTimestamp('2026/01/02 03:04:05')).toBe(local(2026, 1, 2, 3, 4, 5, 0))
    expect(parseSmiTimestamp('Sat Nov 28 10:15:02 2026')).toBeNull()
  })
})

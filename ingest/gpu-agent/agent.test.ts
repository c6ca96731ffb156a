import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createCodec } from '../../schemas/codec.ts'
import type { GpuSample } from '../../schemas/generated/types.ts'
import type { EventSink, TopicBatch } from '../simulator/kafka-sink.ts'
import { runGpuAgent } from './agent.ts'
import { cpuPercent, createHostStatsReader, parseMeminfo, parseProcStat, type HostStatsReader } from './host-stats.ts'
import type { SmiEvent } from './smi-process.ts'

const codec = createCodec()
const lines = (name: string): string[] => readFileSync(join(import.meta.dirname, 'fixtures', name), 'utf8').split('\n').filter((l) => l !== '')
const fixedHost: HostStatsReader = { read: async () => ({ cpuPct: Math.fround(12.5), memUsedMb: 30_000, memTotalMb: 515_000 }) }

function sink(fail: (call: number) => boolean = () => false): EventSink & { got: { key: string; sample: GpuSample }[] } {
  let calls = 0
  const got: { key: string; sample: GpuSample }[] = []
  return {
    got,
    async send(batches: readonly TopicBatch[]) {
      calls += 1
      if (fail(calls)) throw new Error('broker down')
      for (const m of batches.flatMap((b) => b.messages)) {
        const d = codec.decodeAs('gpu-sample', m.value)
        if (!d.ok) throw new Error(d.reason)
        got.push({ key: m.key, sample: d.value })
      }
    },
    async close() {},
  }
}

async function* events(...rounds: string[][]): AsyncGenerator<SmiEvent> {
  for (const r of rounds) for (const text of r) yield { kind: 'line', text }
}

describe('runGpuAgent', () => {
  it('turns rounds of nvidia-smi lines into keyed GpuSamples with host stats', async () => {
    const s = sink()
    const h100 = lines('h100-sxm5-4gpu.csv')
    const stats = await runGpuAgent({ events: events(h100, h100, h100), host: 'gpu-node-7', expectedGpus: 4, sink: s, topic: 't', hostStats: fixedHost, workers: new Map([[1, 'w-1']]) })
    expect([stats.rounds, stats.samples, stats.produced, stats.gpusMissing, stats.malformed]).toEqual([3, 12, 12, 0, 0])
    expect(s.got.map((g) => g.key)).toEqual([...Array(3)].flatMap(() => h100.map((l) => l.split(', ')[2])))
    expect(s.got[1]!.sample).toMatchObject({ host: 'gpu-node-7', worker_id: 'w-1', gpu_index: 1, source: 'nvidia_smi', host_cpu_pct: 12.5, host_mem_used_mb: 30_000, host_mem_total_mb: 515_000, throttle_reasons: ['sw_power_cap'] })
  })

  it('counts a lost GPU, a GPU gone missing, unavailable fields and unreadable lines, and keeps going', async () => {
    const s = sink()
    const h100 = lines('h100-sxm5-4gpu.csv')
    const lostLine = lines('gpu-fell-off-bus.csv')[1]!
    expect(h100[1]).toContain('00000000:2A:00.0') // the bus of the GPU that falls off
    const rounds = [
      h100,
      h100.slice(0, 3), // GPU 3 does not answer, and nothing says why: missing
      ['garbage, 1, 2', h100[0]!.replace('612.45', '[N/A]'), lostLine, h100[2]!, h100[3]!], // GPU 1 fell off the bus: lost, not missing
    ]
    const stats = await runGpuAgent({ events: events(...rounds), host: 'h', expectedGpus: 4, sink: s, topic: 't', hostStats: fixedHost })
    const sampleLines = rounds.flat().filter((l) => l.startsWith('2026/'))
    expect([stats.rounds, stats.samples, stats.produced, s.got.length]).toEqual([3, sampleLines.length, sampleLines.length, sampleLines.length])
    expect([stats.gpusLost, stats.gpusMissing, stats.malformed]).toEqual([1, 1, 1])
    expect(stats.unavailable).toEqual({ 'power.draw': 1 })
    expect(s.got.map((g) => g.key)).toEqual(sampleLines.map((l) => l.split(', ')[2]))
  })

  it('drops a round whose produce failed, counts it, and produces the next', async () => {
    const s = sink((call) => call === 1)
    const l4 = lines('l4.csv')
    const stats = await runGpuAgent({ events: events(l4, l4), host: 'h', expectedGpus: 1, sink: s, topic: 't', hostStats: fixedHost })
    expect([stats.rounds, stats.produced, stats.dropped, s.got.length]).toEqual([2, 1, 1, 1])
    expect(stats.lastProblem).toContain('broker down')
  })

  it('stops after maxRounds', async () => {
    const l4 = lines('l4.csv')
    const stats = await runGpuAgent({ events: events(l4, l4, l4, l4), host: 'h', expectedGpus: 1, sink: sink(), topic: 't', hostStats: fixedHost, maxRounds: 2 })
    expect(stats.rounds).toBe(2)
  })
})

describe('host stats from /proc', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dw-proc-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('computes CPU busy share from /proc/stat deltas and memory from /proc/meminfo', async () => {
    const a = 'cpu  4705 356 584 3699 23 0 27 0 0 0\ncpu0 2000 100 200 1800 10 0 10 0 0 0\n'
    const b = 'cpu  5705 356 834 4449 23 0 27 0 12 0\n'
    // busy delta = (1000 user + 250 system), idle delta = 750: 1250 / 2000
    expect(cpuPercent(parseProcStat(a)!, parseProcStat(b)!)).toBe(62.5)
    const meminfo = 'MemTotal:       263855116 kB\nMemFree:         1000000 kB\nMemAvailable:   200000000 kB\n'
    expect(parseMeminfo(meminfo)).toEqual({ totalMb: Math.round(263855116 / 1024), usedMb: Math.round((263855116 - 200000000) / 1024) })
    writeFileSync(join(dir, 'stat'), a)
    writeFileSync(join(dir, 'meminfo'), meminfo)
    const reader = createHostStatsReader({ stat: join(dir, 'stat'), meminfo: join(dir, 'meminfo') })
    expect((await reader.read()).cpuPct).toBeNull()
    writeFileSync(join(dir, 'stat'), b)
    expect(await reader.read()).toEqual({ cpuPct: 62.5, memUsedMb: Math.round((263855116 - 200000000) / 1024), memTotalMb: Math.round(263855116 / 1024) })
  })

  it('gives nulls when /proc cannot be read', async () => {
    const reader = createHostStatsReader({ stat: join(dir, 'none'), meminfo: join(dir, 'none') })
    expect(await reader.read()).toEqual({ cpuPct: null, memUsedMb: null, memTotalMb: null })
  })
})

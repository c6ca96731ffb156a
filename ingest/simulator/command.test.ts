import { describe, expect, it } from 'vitest'
import { flagsToEnv, formatSummary, simulateCommand } from './command.ts'
import { loadSimulatorConfig } from './config.ts'

function captureIo() {
  const out = { stdout: '', stderr: '' }
  return {
    out,
    io: {
      stdout: { write: (t: string) => (out.stdout += t), isTTY: false },
      stderr: { write: (t: string) => (out.stderr += t), isTTY: false },
    },
  }
}

describe('simulate flags', () => {
  it('map onto the environment variables, flags winning over the environment', () => {
    const { env } = flagsToEnv(
      ['--rate', '500', '--duration', '30', '--seed', '7', '--no-realtime', '--brokers', 'k1:9092,k2:9092', '--topic-prefix', 'bench.', '--ground-truth', '/tmp/gt.ndjson', '--hosts', '12', '--start', '2025-01-06T12:00:00Z'],
      { SIM_RATE: '10', SIM_SEED: '3', SIM_ERROR_SCALE: '2' },
    )
    const c = loadSimulatorConfig(env)
    expect(c).toMatchObject({
      SIM_RATE: 500,
      SIM_DURATION_SEC: 30,
      SIM_SEED: 7,
      SIM_REALTIME: false,
      KAFKA_BROKERS: 'k1:9092,k2:9092',
      TOPIC_PREFIX: 'bench.',
      SIM_GROUND_TRUTH: '/tmp/gt.ndjson',
      SIM_HOSTS: 12,
      SIM_START_MS: Date.UTC(2025, 0, 6, 12),
      SIM_ERROR_SCALE: 2,
    })
  })

  it('have documented defaults: real time, 50 events/s for 60 s, seed 1, fleet sized for the rate', () => {
    const c = loadSimulatorConfig(flagsToEnv([], {}).env)
    expect(c).toMatchObject({ SIM_REALTIME: true, SIM_RATE: 50, SIM_DURATION_SEC: 60, SIM_SEED: 1, SIM_HOSTS: 0, SIM_GPUS_PER_HOST: 2, SIM_SAMPLE_INTERVAL_MS: 1000, SIM_COMPRESSION: 'none' })
  })

  it('reject unknown flags and bad values with exit code 2 and the usage', async () => {
    for (const argv of [['--frobnicate'], ['--rate', 'fast'], ['--realtime', '--no-realtime'], ['--start', 'yesterday']]) {
      const { io, out } = captureIo()
      expect(await simulateCommand(argv, {}, io)).toBe(2)
      expect(out.stderr).toContain('usage: diffwatch simulate')
    }
  })

  it('list every bad variable at once', async () => {
    const { io, out } = captureIo()
    expect(await simulateCommand(['--rate', '-3'], { SIM_SEED: 'x', SIM_GPU_MIX: 'H100-80GB,TPU' }, io)).toBe(2)
    expect(out.stderr).toContain('SIM_RATE')
    expect(out.stderr).toContain('SIM_SEED')
  })

  it('print the usage for --help and exit 0', async () => {
    const { io, out } = captureIo()
    expect(await simulateCommand(['--help'], {}, io)).toBe(0)
    expect(out.stdout).toContain('--ground-truth FILE')
  })

  it('exit 2 with a hint when the rate cannot cover the GPU samples', async () => {
    const { io, out } = captureIo()
    expect(await simulateCommand(['--rate', '4', '--hosts', '4', '--no-realtime'], {}, io)).toBe(2)
    expect(out.stderr).toContain('ING_SIM_RATE_TOO_LOW')
  })
})

describe('formatSummary', () => {
  it('shows totals, fleet, per-model lines and errors', () => {
    const text = formatSummary(
      { SIM_GROUND_TRUTH: 'gt.ndjson' },
      {
        events: 12345,
        requestEvents: 2345,
        gpuSamples: 10000,
        bytes: 3_000_000,
        byModel: { 'sdxl-base': { requests: 2000, errors: 90, images: 3500 }, sd15: { requests: 345, errors: 10, images: 600 } },
        byErrorType: { oom: 40, safety_blocked: 60 },
        fleet: { hosts: 4, gpus: 8, requestRate: 2.5, offeredLoad: 0.62, startMs: 0, endMs: 60_000 },
        elapsedMs: 2000,
        eventsPerSec: 6172.5,
        aborted: false,
      },
    )
    expect(text).toContain('done: 12,345 events in 2.0 s (6,173 events/s), 3.0 MB')
    expect(text).toContain('fleet: 4 hosts, 8 GPUs, 2.50 requests/s, offered load 0.62')
    expect(text).toMatch(/sdxl-base\s+2,000 requests\s+90 errors\s+3,500 images/)
    expect(text).toContain('errors: safety_blocked 60, oom 40')
    expect(text).toContain('ground truth: gt.ndjson')
  })
})

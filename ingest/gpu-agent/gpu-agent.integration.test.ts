/**
 * `diffwatch gpu-agent` as a process path: a fake `nvidia-smi` on PATH prints recorded output
 * (fixtures/), the agent produces to the real broker, and the test reads back exactly the
 * samples the fixture holds, keyed by GPU uuid.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCodec } from '../../schemas/codec.ts'
import type { GpuSample } from '../../schemas/generated/types.ts'
import { createTestTopics, kafkaBrokers, testKafka, uniqueGroupId, type TestTopics } from '../../test/support/kafka.ts'
import { gpuAgentCommand } from './command.ts'

const codec = createCodec()
const FAKE = `#!/usr/bin/env bash
# Fake nvidia-smi: prints the recorded fixture for the query; -lms=N repeats it every N ms.
case "$*" in *clocks_event_reasons*) if [ "$FAKE_SMI_OLD" = 1 ]; then echo 'Field "clocks_event_reasons.gpu_idle" is not a valid field to query.'; echo; exit 2; fi;; esac
lms=""
for a in "$@"; do case "$a" in -lms=*) lms="\${a#-lms=}";; esac; done
if [ -z "$lms" ]; then cat "$FAKE_SMI_FIXTURE"; exit 0; fi
while true; do cat "$FAKE_SMI_FIXTURE"; sleep "$(awk "BEGIN{print $lms/1000}")"; done
`

function output(): { io: { stdout: { write(t: string): boolean }; stderr: { write(t: string): boolean } }; text: () => string } {
  let text = ''
  const write = (t: string): boolean => ((text += t), true)
  return { io: { stdout: { write }, stderr: { write } }, text: () => text }
}

async function readSamples(topic: string, count: number): Promise<{ key: string; sample: GpuSample }[]> {
  const consumer = testKafka().consumer({ groupId: uniqueGroupId('gpu-agent') })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  const got: { key: string; sample: GpuSample }[] = []
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${got.length} of ${count} samples arrived`)), 30_000)
    void consumer.run({
      eachMessage: async ({ message }) => {
        const d = codec.decodeAs('gpu-sample', message.value as Buffer)
        if (!d.ok) throw new Error(d.reason)
        got.push({ key: message.key?.toString() ?? '', sample: d.value })
        if (got.length === count) {
          clearTimeout(timer)
          resolve()
        }
      },
    })
  })
  await consumer.disconnect()
  return got
}

describe('diffwatch gpu-agent → Kafka', () => {
  let kafka: TestTopics
  const bin = mkdtempSync(join(tmpdir(), 'dw-fake-smi-'))
  const savedPath = process.env.PATH
  let env: Record<string, string>

  beforeAll(async () => {
    kafka = await createTestTopics({ partitions: 2 })
    writeFileSync(join(bin, 'nvidia-smi'), FAKE)
    chmodSync(join(bin, 'nvidia-smi'), 0o755)
    env = { KAFKA_BROKERS: kafkaBrokers().join(','), TOPIC_PREFIX: kafka.prefix, GPU_AGENT_HOST: 'gpu-node-9', GPU_AGENT_INTERVAL_MS: '100' }
  })
  afterAll(async () => {
    process.env.PATH = savedPath
    rmSync(bin, { recursive: true, force: true })
    await kafka?.cleanup()
  })

  it('samples a long-lived nvidia-smi (old driver, a GPU off the bus) and produces exactly its rows', async () => {
    process.env.PATH = `${bin}:${savedPath}`
    process.env.FAKE_SMI_FIXTURE = join(import.meta.dirname, 'fixtures', 'gpu-fell-off-bus.csv')
    process.env.FAKE_SMI_OLD = '1'
    const out = output()
    expect(await gpuAgentCommand(['--rounds', '3', '--workers', '0=w0,2=w2'], env, out.io)).toBe(0)
    expect(out.text()).toContain('3 GPUs (clocks_throttle_reasons)')
    expect(out.text()).toContain('gpu-agent: 3 rounds, 6 samples, 6 produced, 0 dropped')
    expect(out.text()).toContain('3 GPU-lost messages')
    const got = await readSamples(kafka.topics.gpuSamples, 6)
    const row = (g: { key: string; sample: GpuSample }) => [g.key, g.sample.gpu_uuid, g.sample.gpu_index, g.sample.worker_id, g.sample.mem_used_mb, g.sample.power_w, g.sample.ecc_uncorrected, g.sample.host, g.sample.source]
    const a = ['GPU-2f6a9c3e-81d7-4e05-b2a8-c9d1e4f7a063', 'GPU-2f6a9c3e-81d7-4e05-b2a8-c9d1e4f7a063', 0, 'w0', 73001, Math.fround(655.1), 0, 'gpu-node-9', 'nvidia_smi']
    const b = ['GPU-a7c4e0b2-6d19-4f83-95e1-3b8f2d7c6a40', 'GPU-a7c4e0b2-6d19-4f83-95e1-3b8f2d7c6a40', 2, 'w2', 70112, null, null, 'gpu-node-9', 'nvidia_smi']
    expect(got.map(row).sort()).toEqual([a, a, a, b, b, b].sort())
    for (const g of got) {
      expect(g.sample.host_mem_total_mb).toBeGreaterThan(0)
      expect(g.sample.host_mem_used_mb).toBeLessThanOrEqual(g.sample.host_mem_total_mb!)
    }
    // CPU share needs two reads of /proc/stat: null in the first round only
    expect(got.filter((g) => g.sample.host_cpu_pct === null).length).toBe(2)
  })

  it('polls with one nvidia-smi call per interval (--mode poll) on a newer driver', async () => {
    process.env.PATH = `${bin}:${savedPath}`
    process.env.FAKE_SMI_FIXTURE = join(import.meta.dirname, 'fixtures', 'h100-sxm5-4gpu.csv')
    process.env.FAKE_SMI_OLD = '0'
    const out = output()
    expect(await gpuAgentCommand(['--mode', 'poll', '--rounds', '2'], env, out.io)).toBe(0)
    expect(out.text()).toContain('4 GPUs (clocks_event_reasons)')
    expect(out.text()).toContain('gpu-agent: 2 rounds, 8 samples, 8 produced, 0 dropped')
    expect(out.text()).toContain('0 GPU-lost messages, 0 missing GPU answers, 0 unreadable lines, 0 nvidia-smi restarts')
  })

  it('says there is no nvidia-smi and exits 1, or simulates with --simulate', async () => {
    process.env.PATH = '/nonexistent'
    const none = output()
    expect(await gpuAgentCommand([], env, none.io)).toBe(1)
    expect(none.text()).toContain('ING_GPU_NO_SMI')
    const sim = output()
    expect(await gpuAgentCommand(['--simulate', '--rounds', '2'], { ...env, GPU_AGENT_SIM_GPUS: '3' }, sim.io)).toBe(0)
    expect(sim.text()).toContain('gpu-agent: 2 rounds, 6 samples, 6 produced')
  })

  it('reports a host whose driver sees no GPU', async () => {
    process.env.PATH = `${bin}:${savedPath}`
    process.env.FAKE_SMI_FIXTURE = join(import.meta.dirname, 'fixtures', 'no-devices.txt')
    const out = output()
    expect(await gpuAgentCommand([], env, out.io)).toBe(1)
    expect(out.text()).toContain('ING_GPU_NO_DEVICES: nvidia-smi: No devices were found')
  })
})

import { describe, expect, it } from 'vitest'
import { gpuAgentCommand, loadGpuAgentArgs, parseWorkers } from './command.ts'

function io() {
  let err = ''
  return { io: { stdout: { write: () => true }, stderr: { write: (t: string) => ((err += t), true) } }, err: () => err }
}

describe('diffwatch gpu-agent (command line)', () => {
  it('maps flags onto the configuration', () => {
    const { config } = loadGpuAgentArgs(['--interval', '250', '--mode', 'poll', '--simulate', '--workers', '0=a,3=b'], {})
    expect([config.GPU_AGENT_INTERVAL_MS, config.GPU_AGENT_MODE, config.GPU_AGENT_SIMULATE]).toEqual([250, 'poll', true])
    expect(parseWorkers(config.GPU_AGENT_WORKERS)).toEqual(new Map([[0, 'a'], [3, 'b']]))
  })

  it('refuses bad settings, all at once, with exit 2', async () => {
    const out = io()
    expect(await gpuAgentCommand(['--interval', '5', '--mode', 'sometimes', '--workers', 'gpu0:a'], {}, out.io)).toBe(2)
    expect(out.err()).toContain('GPU_AGENT_INTERVAL_MS')
    expect(out.err()).toContain('GPU_AGENT_MODE')
  })

  it('says there is no nvidia-smi and exits 1 without touching Kafka', async () => {
    const out = io()
    expect(await gpuAgentCommand(['--nvidia-smi', '/nonexistent/nvidia-smi'], { KAFKA_BROKERS: '127.0.0.1:1' }, out.io)).toBe(1)
    expect(out.err()).toContain('ING_GPU_NO_SMI: /nonexistent/nvidia-smi not found')
  })
})

/**
 * `diffwatch gpu-agent`: the GPU-host sidecar. Probes nvidia-smi once (exists? GPUs? which name
 * for clock reasons?), then samples every interval and produces GpuSamples keyed by GPU uuid.
 * With no nvidia-smi or no GPU it says so and exits 1, unless `--simulate`. Flags map onto the
 * GPU_AGENT_* variables, validated with the environment in one pass.
 * Exit codes: 0 stopped (Ctrl-C, SIGTERM or --rounds reached), 1 no GPU / Kafka failure, 2 usage.
 */
import { hostname } from 'node:os'
import { parseArgs } from 'node:util'
import { Type, type Static } from '@sinclair/typebox'
import { loadConfig } from '../../schemas/config.ts'
import { DiffwatchError, errorMessage, isDiffwatchError } from '../../schemas/errors.ts'
import { topicSet } from '../../schemas/topics.ts'
import { connectKafkaSink, type EventSink } from '../simulator/kafka-sink.ts'
import { createCodec } from '../../schemas/codec.ts'
import { emptyStats, runGpuAgent, type AgentStats } from './agent.ts'
import { createHostStatsReader } from './host-stats.ts'
import { simulatedRounds } from './simulated-source.ts'
import { probeSmi, smiEvents } from './smi-process.ts'

export const GpuAgentConfigSchema = Type.Object({
  KAFKA_BROKERS: Type.String({ default: '127.0.0.1:19092', description: 'Comma-separated bootstrap brokers.' }),
  KAFKA_CLIENT_ID: Type.String({ default: 'diffwatch-gpu-agent' }),
  TOPIC_PREFIX: Type.String({ default: '', description: 'Prefix of the diffwatch topics (isolated test runs).' }),
  GPU_AGENT_INTERVAL_MS: Type.Integer({ default: 1000, minimum: 100, maximum: 3_600_000, description: 'Sampling interval.' }),
  GPU_AGENT_MODE: Type.Union([Type.Literal('loop'), Type.Literal('poll')], { default: 'loop', description: 'loop: one long-lived `nvidia-smi -lms`; poll: one nvidia-smi call per interval.' }),
  GPU_AGENT_NVIDIA_SMI: Type.String({ default: 'nvidia-smi', description: 'nvidia-smi command (looked up on PATH) or path.' }),
  GPU_AGENT_HOST: Type.String({ default: '', description: 'Host name in the samples; empty: the OS host name.' }),
  GPU_AGENT_WORKERS: Type.String({ default: '', description: 'Worker id per GPU index, e.g. 0=sdxl-w0,1=sdxl-w1; empty: none.' }),
  GPU_AGENT_ROUNDS: Type.Integer({ default: 0, minimum: 0, description: 'Stop after this many sampling rounds; 0: run until stopped.' }),
  GPU_AGENT_SIMULATE: Type.Boolean({ default: false, description: 'Produce simulated samples (no GPU needed).' }),
  GPU_AGENT_SIM_GPUS: Type.Integer({ default: 2, minimum: 1, maximum: 16, description: 'GPUs of the simulated host.' }),
})
export type GpuAgentConfig = Static<typeof GpuAgentConfigSchema>

const USAGE = `usage: diffwatch gpu-agent [flags]

Samples this host's NVIDIA GPUs with nvidia-smi and produces GpuSamples to Kafka (key: GPU uuid).

  --interval MS        sampling interval                         (GPU_AGENT_INTERVAL_MS, 1000)
  --mode loop|poll     one long-lived nvidia-smi -lms, or a call per interval (GPU_AGENT_MODE, loop)
  --nvidia-smi PATH    nvidia-smi to run                         (GPU_AGENT_NVIDIA_SMI, nvidia-smi)
  --host NAME          host name in the samples                  (GPU_AGENT_HOST, OS host name)
  --workers MAP        worker id per GPU index: 0=w0,1=w1        (GPU_AGENT_WORKERS)
  --rounds N           stop after N sampling rounds              (GPU_AGENT_ROUNDS, 0 = never)
  --simulate           simulated samples, no GPU needed          (GPU_AGENT_SIMULATE)
  --brokers LIST       host:port[,host:port]                     (KAFKA_BROKERS)
  --topic-prefix P     prefix of the topic names                 (TOPIC_PREFIX)
`

const FLAG_ENV: Readonly<Record<string, keyof GpuAgentConfig>> = {
  interval: 'GPU_AGENT_INTERVAL_MS',
  mode: 'GPU_AGENT_MODE',
  'nvidia-smi': 'GPU_AGENT_NVIDIA_SMI',
  host: 'GPU_AGENT_HOST',
  workers: 'GPU_AGENT_WORKERS',
  rounds: 'GPU_AGENT_ROUNDS',
  brokers: 'KAFKA_BROKERS',
  'topic-prefix': 'TOPIC_PREFIX',
}

export interface CommandIo {
  readonly stdout: { write(text: string): unknown }
  readonly stderr: { write(text: string): unknown }
}

export function parseWorkers(text: string): Map<number, string> {
  const map = new Map<number, string>()
  for (const part of text.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const m = /^(\d+)=(\S+)$/.exec(part)
    if (!m) throw new DiffwatchError('CFG_INVALID', `GPU_AGENT_WORKERS entries must be INDEX=WORKER_ID, got ${JSON.stringify(part)}`)
    map.set(Number(m[1]), m[2] as string)
  }
  return map
}

export function loadGpuAgentArgs(argv: string[], env: Record<string, string | undefined>): { config: Readonly<GpuAgentConfig>; help: boolean } {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: { ...Object.fromEntries(Object.keys(FLAG_ENV).map((k) => [k, { type: 'string' as const }])), simulate: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    })
  } catch (err) {
    throw new DiffwatchError('CFG_INVALID', (err as Error).message, { cause: err })
  }
  const values = parsed.values as Record<string, string | boolean | undefined>
  const merged: Record<string, string | undefined> = { ...env }
  for (const [flag, name] of Object.entries(FLAG_ENV)) if (typeof values[flag] === 'string') merged[name] = values[flag] as string
  if (values.simulate === true) merged.GPU_AGENT_SIMULATE = 'true'
  const config = loadConfig(GpuAgentConfigSchema, merged, [
    (c) => (c.KAFKA_BROKERS.split(',').every((b) => /^[^\s:]+:\d+$/.test(b.trim())) ? [] : [`KAFKA_BROKERS must be host:port[,host:port...], got ${JSON.stringify(c.KAFKA_BROKERS)}`]),
    (c) => {
      try {
        parseWorkers(c.GPU_AGENT_WORKERS)
        return []
      } catch (err) {
        return [errorMessage(err)]
      }
    },
  ])
  return { config, help: values.help === true }
}

export async function gpuAgentCommand(argv: string[], env: Record<string, string | undefined> = process.env, io: CommandIo = process): Promise<number> {
  let config: Readonly<GpuAgentConfig>
  try {
    const a = loadGpuAgentArgs(argv, env)
    if (a.help) {
      io.stdout.write(USAGE)
      return 0
    }
    config = a.config
  } catch (err) {
    io.stderr.write(`diffwatch gpu-agent: ${errorMessage(err)}\n\n${USAGE}`)
    return 2
  }
  const host = config.GPU_AGENT_HOST || hostname()
  const probe = config.GPU_AGENT_SIMULATE ? null : await probeSmi(config.GPU_AGENT_NVIDIA_SMI)
  if (probe !== null && !probe.ok) {
    io.stderr.write(`diffwatch gpu-agent: error ${probe.code}: ${probe.message}\n`)
    return 1
  }
  const abort = new AbortController()
  const stop = (): void => abort.abort()
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  let sink: EventSink | null = null
  try {
    sink = await connectKafkaSink({ brokers: config.KAFKA_BROKERS.split(',').map((b) => b.trim()), clientId: config.KAFKA_CLIENT_ID, compression: 'none' })
    const topic = topicSet(config.TOPIC_PREFIX).gpuSamples
    const seenProblems = new Set<string>()
    const onProblem = (m: string): void => {
      // The same lost GPU is reported every round: say it once.
      if (seenProblems.has(m)) return
      seenProblems.add(m)
      io.stderr.write(`diffwatch gpu-agent: ${m}\n`)
    }
    io.stderr.write(`diffwatch gpu-agent: ${probe === null ? `simulating ${config.GPU_AGENT_SIM_GPUS} GPUs` : `${probe.gpus} GPUs (${probe.prefix})`} on ${host}, every ${config.GPU_AGENT_INTERVAL_MS} ms, to ${topic}\n`)
    const stats =
      probe === null
        ? await runSimulated(config, host, sink, topic, abort.signal)
        : await runGpuAgent({
            events: smiEvents({ binary: config.GPU_AGENT_NVIDIA_SMI, prefix: probe.prefix, intervalMs: config.GPU_AGENT_INTERVAL_MS, mode: config.GPU_AGENT_MODE, signal: abort.signal }),
            host,
            expectedGpus: probe.gpus,
            sink,
            topic,
            hostStats: createHostStatsReader(),
            workers: parseWorkers(config.GPU_AGENT_WORKERS),
            maxRounds: config.GPU_AGENT_ROUNDS,
            onProblem,
          })
    io.stdout.write(formatStats(stats))
    return 0
  } catch (err) {
    if (isDiffwatchError(err)) {
      io.stderr.write(`diffwatch gpu-agent: error ${err.code}: ${err.message}\n`)
      return 1
    }
    throw err
  } finally {
    abort.abort()
    process.removeListener('SIGINT', stop)
    process.removeListener('SIGTERM', stop)
    await sink?.close().catch(() => undefined)
  }
}

async function runSimulated(c: Readonly<GpuAgentConfig>, host: string, sink: EventSink, topic: string, signal: AbortSignal): Promise<AgentStats> {
  const codec = createCodec()
  const stats = emptyStats()
  for await (const round of simulatedRounds({ gpus: c.GPU_AGENT_SIM_GPUS, intervalMs: c.GPU_AGENT_INTERVAL_MS, seed: 1, host, signal })) {
    stats.rounds += 1
    stats.samples += round.length
    await sink.send([{ topic, messages: round.map((s) => ({ key: s.gpu_uuid, value: codec.encodeGpuSample(s) })) }])
    stats.produced += round.length
    if (c.GPU_AGENT_ROUNDS > 0 && stats.rounds >= c.GPU_AGENT_ROUNDS) break
  }
  return stats
}

export function formatStats(s: Readonly<AgentStats>): string {
  const lines = [`gpu-agent: ${s.rounds} rounds, ${s.samples} samples, ${s.produced} produced, ${s.dropped} dropped`]
  const problems = [`${s.gpusLost} GPU-lost messages`, `${s.gpusMissing} missing GPU answers`, `${s.malformed} unreadable lines`, `${s.restarts} nvidia-smi restarts`]
  lines.push(`  ${problems.join(', ')}`)
  const na = Object.entries(s.unavailable)
  if (na.length > 0) lines.push(`  unavailable fields: ${na.map(([f, n]) => `${f} ${n}`).join(', ')}`)
  return `${lines.join('\n')}\n`
}

/**
 * The GPU agent loop: nvidia-smi output lines → sampling rounds → GpuSamples (keyed by GPU
 * uuid) → Kafka, one produce call per round, with the host's CPU and memory added.
 *
 * Guarantees:
 * - nothing nvidia-smi prints stops the agent: each line's outcome (smi-parser.ts) is counted
 *   in `AgentStats`: samples, fields unavailable by name, GPUs lost (fell off the bus), GPUs
 *   missing (seen before, absent from a round without a lost message), malformed lines, process
 *   restarts;
 * - a round ends when every GPU the probe found has answered, when a GPU index repeats (the next
 *   round began), or when a polling call ended;
 * - a failed produce drops that round's samples (counted in `dropped`) and the agent goes on:
 *   a sidecar must not take its host down, and the next round carries fresh values.
 */
import type { GpuSample } from '../../schemas/generated/types.ts'
import { createCodec } from '../../schemas/codec.ts'
import { errorMessage } from '../../schemas/errors.ts'
import type { EventSink } from '../simulator/kafka-sink.ts'
import type { HostStatsReader } from './host-stats.ts'
import { parseSmiLine, type GpuRow } from './smi-parser.ts'
import type { SmiEvent } from './smi-process.ts'

export interface AgentStats {
  rounds: number
  samples: number
  produced: number
  dropped: number
  unavailable: Record<string, number>
  gpusLost: number
  gpusMissing: number
  malformed: number
  restarts: number
  lastProblem: string | null
}

export interface AgentOptions {
  readonly events: AsyncIterable<SmiEvent>
  readonly host: string
  readonly expectedGpus: number
  readonly sink: EventSink
  readonly topic: string
  readonly hostStats: HostStatsReader
  /** GPU index → worker id, when the host runs one worker per GPU. */
  readonly workers?: ReadonlyMap<number, string>
  /** Stop after this many rounds (0: until the events end). */
  readonly maxRounds?: number
  readonly onProblem?: (message: string) => void
  readonly onRound?: (samples: readonly GpuSample[], stats: Readonly<AgentStats>) => void
}

/** pci.bus_id prints an 8-digit PCI domain, the lost-GPU message a 4-digit one: compare without it. */
function busKey(busId: string | null): string {
  return (busId ?? '').toLowerCase().replace(/^[0-9a-f]+:(?=[0-9a-f]{2}:)/, '')
}

export function emptyStats(): AgentStats {
  return { rounds: 0, samples: 0, produced: 0, dropped: 0, unavailable: {}, gpusLost: 0, gpusMissing: 0, malformed: 0, restarts: 0, lastProblem: null }
}

export async function runGpuAgent(o: AgentOptions): Promise<AgentStats> {
  const stats = emptyStats()
  const codec = createCodec()
  const known = new Map<string, string | null>() // uuid → PCI bus id
  let rows: GpuRow[] = []
  let lostBusIds: (string | null)[] = []
  const problem = (m: string): void => {
    stats.lastProblem = m
    o.onProblem?.(m)
  }

  const closeRound = async (): Promise<boolean> => {
    if (rows.length === 0 && lostBusIds.length === 0) return false
    const seen = new Set(rows.map((r) => r.gpu_uuid))
    const lostBuses = new Set(lostBusIds.map(busKey))
    const lostUuids = new Set([...known].filter(([, bus]) => bus !== null && lostBuses.has(busKey(bus))).map(([uuid]) => uuid))
    for (const uuid of known.keys()) if (!seen.has(uuid) && !lostUuids.has(uuid)) stats.gpusMissing += 1
    for (const r of rows) known.set(r.gpu_uuid, r.busId)
    const h = await o.hostStats.read()
    const samples: GpuSample[] = rows.map(({ busId: _b, migMode: _m, ...r }) => ({
      ...r,
      host: o.host,
      worker_id: o.workers?.get(r.gpu_index) ?? null,
      last_xid: null,
      host_cpu_pct: h.cpuPct,
      host_mem_used_mb: h.memUsedMb,
      host_mem_total_mb: h.memTotalMb,
      source: 'nvidia_smi',
    }))
    rows = []
    lostBusIds = []
    stats.rounds += 1
    stats.samples += samples.length
    if (samples.length > 0) {
      try {
        await o.sink.send([{ topic: o.topic, messages: samples.map((s) => ({ key: s.gpu_uuid, value: codec.encodeGpuSample(s) })) }])
        stats.produced += samples.length
      } catch (err) {
        stats.dropped += samples.length
        problem(`produce failed, ${samples.length} samples dropped: ${errorMessage(err)}`)
      }
    }
    o.onRound?.(samples, stats)
    return o.maxRounds !== undefined && o.maxRounds > 0 && stats.rounds >= o.maxRounds
  }

  for await (const ev of o.events) {
    if (ev.kind === 'restart') {
      stats.restarts += 1
      problem(`nvidia-smi ${ev.reason}; restarting it`)
      if (await closeRound()) break
      continue
    }
    if (ev.kind === 'round-end') {
      if (await closeRound()) break
      continue
    }
    const out = parseSmiLine(ev.text)
    if (out.kind === 'blank') continue
    if (out.kind === 'sample') {
      // An index seen again means the previous round is over (some GPU did not answer).
      if (rows.some((r) => r.gpu_index >= out.row.gpu_index) && (await closeRound())) break
      rows.push(out.row)
      for (const f of out.unavailable) stats.unavailable[f] = (stats.unavailable[f] ?? 0) + 1
    } else if (out.kind === 'gpu-lost') {
      stats.gpusLost += 1
      lostBusIds.push(out.busId)
      problem(`GPU ${out.busId ?? '?'} lost: ${out.message}`)
    } else if (out.kind === 'malformed') {
      stats.malformed += 1
      problem(`unreadable nvidia-smi line (${out.reason}): ${out.line.slice(0, 200)}`)
    } else {
      problem(`nvidia-smi: ${out.message}`)
    }
    if (rows.length + lostBusIds.length >= o.expectedGpus && (await closeRound())) break
  }
  await closeRound()
  return stats
}

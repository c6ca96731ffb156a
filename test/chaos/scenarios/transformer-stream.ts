/**
 * What the transformer and ClickHouse fault scenarios share: a simulated fleet stream produced to
 * Kafka in bounded slices (1 M events never sit in memory), the ground truth computed here from
 * the produced events alone (counts, per-window request counts by model, GPU samples by window),
 * and the comparison of what ClickHouse stored with that truth. Duplicates are counted from the
 * stored raw rows (rows minus distinct ids), never assumed.
 */
import type { ClickHouseClient } from '@clickhouse/client'
import type { Producer } from 'kafkajs'
import { createFleetSimulator } from '../../../ingest/simulator/event-generator.ts'
import { DEFAULT_FLEET_CONFIG, hostsForEventRate } from '../../../ingest/simulator/fleet-model.ts'
import { Rng } from '../../../ingest/simulator/prng.ts'
import { createCodec } from '../../../schemas/codec.ts'
import type { TopicSet } from '../../../schemas/topics.ts'
import { windowStartSec } from '../../../transform/window-aggregator.ts'
import type { KafkaMessage } from '../../support/fleet-truth.ts'

export const WINDOW_S = 10
/** Simulated events per second (requests + GPU samples); sets how much event time a stream spans. */
const SIM_EVENT_RATE = 300

export type StreamTruth = {
  requests: number
  samples: number
  /** `<window>|<model>` → [requests, successes, errors, images] */
  requestWindows: Map<string, [number, number, number, number]>
  /** `<window>|<gpu uuid>` → samples */
  gpuWindows: Map<string, number>
}

export function emptyTruth(): StreamTruth {
  return { requests: 0, samples: 0, requestWindows: new Map(), gpuWindows: new Map() }
}

export type StreamOptions = {
  producer: Producer
  topics: TopicSet
  seed: number
  events: number
  /** Spread the sends over about this long (0: as fast as the broker takes them). */
  spreadMs: number
  /** Called after each slice with the events sent so far. */
  onSent?: (sent: number) => void
  /** Stops producing early (the truth then covers what was sent). */
  shouldStop?: () => boolean
}

/**
 * Produces `events` simulated events, ending about now (recent enough for every TTL), in slices
 * of 2 000 per send, acks=all, and returns the truth of exactly what was acknowledged.
 */
export async function produceStream(o: StreamOptions): Promise<StreamTruth> {
  const base = { ...DEFAULT_FLEET_CONFIG, gpusPerHost: 2 }
  const hosts = hostsForEventRate(SIM_EVENT_RATE, 0.7, base)
  const sim = createFleetSimulator({ seed: o.seed, hosts, gpusPerHost: 2, requestRate: SIM_EVENT_RATE - (hosts * 2 * 1000) / base.sampleIntervalMs })
  const durationMs = Math.ceil((o.events / SIM_EVENT_RATE) * 1000 * 1.1)
  const startMs = Math.floor((Date.now() - durationMs - 120_000) / 1000) * 1000
  const codec = createCodec()
  const truth = emptyTruth()
  const slice = 2_000
  const began = Date.now()
  let requests: KafkaMessage[] = []
  let samples: KafkaMessage[] = []
  let sent = 0
  const flush = async () => {
    await Promise.all([
      requests.length > 0 ? o.producer.send({ topic: o.topics.requests, acks: -1, messages: requests }) : undefined,
      samples.length > 0 ? o.producer.send({ topic: o.topics.gpuSamples, acks: -1, messages: samples }) : undefined,
    ])
    sent += requests.length + samples.length
    requests = []
    samples = []
    o.onSent?.(sent)
    // pace: the share of the stream sent should not run ahead of the share of spreadMs elapsed
    const due = began + (o.spreadMs * sent) / o.events
    if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()))
  }
  for (const ev of sim.generate({ startMs, durationMs })) {
    if (sent + requests.length + samples.length >= o.events || o.shouldStop?.()) break
    if (ev.kind === 'request-event') {
      const e = ev.value
      requests.push({ key: ev.key, value: codec.encodeRequestEvent(e), timestamp: String(e.completed_at + 500) })
      const k = `${windowStartSec(e.completed_at, WINDOW_S)}|${e.model}`
      const w = truth.requestWindows.get(k) ?? [0, 0, 0, 0]
      w[0] += 1
      if (e.status === 'ok') {
        w[1] += 1
        w[3] += e.images
      } else w[2] += 1
      truth.requestWindows.set(k, w)
      truth.requests += 1
    } else {
      const s = ev.value
      samples.push({ key: ev.key, value: codec.encodeGpuSample(s), timestamp: String(s.sampled_at + 200) })
      const k = `${windowStartSec(s.sampled_at, WINDOW_S)}|${s.gpu_uuid}`
      truth.gpuWindows.set(k, (truth.gpuWindows.get(k) ?? 0) + 1)
      truth.samples += 1
    }
    if (requests.length + samples.length >= slice) await flush()
  }
  await flush()
  if (truth.requests + truth.samples !== sent) throw new Error(`produced ${sent} but the truth holds ${truth.requests + truth.samples}`)
  return truth
}

export type StoredCheck = {
  produced: number
  /** Distinct produced events found (requests by event_id, samples by gpu uuid + time). */
  delivered: number
  lost: number
  /** Stored raw rows beyond one per distinct event. */
  duplicated: number
  problems: string[]
}

async function rows<T>(client: ClickHouseClient, query: string): Promise<T[]> {
  return (await client.query({ query, format: 'JSONEachRow' })).json<T>()
}

/** Compares raw rows and every window of `database` with the truth. */
export async function checkStored(client: ClickHouseClient, database: string, truth: StreamTruth): Promise<StoredCheck> {
  const [r] = await rows<{ n: number; ids: number }>(client, `SELECT count() AS n, uniqExact(event_id) AS ids FROM ${database}.request_events`)
  const [g] = await rows<{ n: number; ids: number }>(client, `SELECT count() AS n, uniqExact(gpu_uuid, sampled_at) AS ids FROM ${database}.gpu_samples`)
  const produced = truth.requests + truth.samples
  const distinct = (r?.ids ?? 0) + (g?.ids ?? 0)
  const problems: string[] = []
  const reqWindows = await rows<{ k: string; a: number; b: number; c: number; d: number }>(client,
    `SELECT concat(toString(toUnixTimestamp(window_start)), '|', model) AS k, sum(requests) AS a, sum(successes) AS b, sum(errors) AS c, sum(images) AS d
     FROM ${database}.request_windows GROUP BY k`)
  const gpuWindows = await rows<{ k: string; n: number }>(client,
    `SELECT concat(toString(toUnixTimestamp(window_start)), '|', gpu_uuid) AS k, sum(samples) AS n FROM ${database}.gpu_windows GROUP BY k`)
  let badRequestWindows = 0
  const seen = new Set<string>()
  for (const w of reqWindows) {
    seen.add(w.k)
    const want = truth.requestWindows.get(w.k)
    if (!want || want[0] !== w.a || want[1] !== w.b || want[2] !== w.c || want[3] !== w.d) badRequestWindows += 1
  }
  badRequestWindows += [...truth.requestWindows.keys()].filter((k) => !seen.has(k)).length
  let badGpuWindows = 0
  const seenGpu = new Set<string>()
  for (const w of gpuWindows) {
    seenGpu.add(w.k)
    if (truth.gpuWindows.get(w.k) !== w.n) badGpuWindows += 1
  }
  badGpuWindows += [...truth.gpuWindows.keys()].filter((k) => !seenGpu.has(k)).length
  if (badRequestWindows > 0) problems.push(`${badRequestWindows} of ${truth.requestWindows.size} request windows differ from the produced events`)
  if (badGpuWindows > 0) problems.push(`${badGpuWindows} of ${truth.gpuWindows.size} GPU windows differ from the produced events`)
  if (distinct > produced) problems.push(`${distinct - produced} stored events were never produced`)
  return {
    produced,
    delivered: Math.min(distinct, produced),
    lost: Math.max(0, produced - distinct),
    duplicated: (r?.n ?? 0) - (r?.ids ?? 0) + (g?.n ?? 0) - (g?.ids ?? 0),
    problems,
  }
}

/** Dead letters on the stream's DLQ topic (the end offsets of its partitions). */
/**
 * The count fields of a fault row: what the stored check found, and the dead letters on the
 * topic, of which a fault scenario expects none (every event it produces is valid).
 */
export async function faultRowCounts(stored: StoredCheck, admin: import('kafkajs').Admin, dlqTopic: string) {
  return {
    produced: stored.produced, delivered: stored.delivered, lost: stored.lost, duplicated: stored.duplicated,
    deadLettered: await deadLetterCount(admin, dlqTopic), expectedDeadLetters: 0,
  }
}

export async function deadLetterCount(admin: import('kafkajs').Admin, dlqTopic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(dlqTopic)
  return offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0)
}

/** Resident memory of a process in MiB (/proc/<pid>/status VmRSS), or NaN once it is gone. */
export async function rssMiB(pid: number | undefined): Promise<number> {
  if (pid === undefined) return Number.NaN
  try {
    const { readFile } = await import('node:fs/promises')
    const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))
    return m?.[1] === undefined ? Number.NaN : Number(m[1]) / 1024
  } catch {
    return Number.NaN
  }
}

/** Uniform [0, 1) from the simulator's seeded generator, so a fault schedule replays with CHAOS_SEED. */
export function seededRandom(seed: number): () => number {
  const rng = new Rng(seed)
  return () => rng.next()
}

export function chaosSeed(): number {
  return Number(process.env.CHAOS_SEED ?? Date.now() % 1_000_000)
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

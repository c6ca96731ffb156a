/**
 * `runSimulation`: simulated fleet -> Avro -> Kafka. Events are encoded with the schemas' codec
 * and sent in batches (one sendBatch carries both topics), keyed by worker id (requests) or GPU
 * uuid (samples), with a bounded number of batches awaiting acks. In real-time mode events are
 * released when the wall clock reaches their event time (event time = now); otherwise as fast as
 * the broker takes them, over a simulated span that ends now (or starts at `startMs`).
 *
 * When a ground-truth file is asked for, a batch's lines are written before the batch is sent,
 * and the totals count only acknowledged batches; an aborted run stops taking new events,
 * waits for the batches in flight and closes the client.
 */
import { createCodec } from '../../schemas/codec.ts'
import type { TopicSet } from '../../schemas/topics.ts'
import { createFleetSimulator, type SimEvent } from './event-generator.ts'
import { planFleet } from './fleet-plan.ts'
import type { FleetConfig } from './fleet-model.ts'
import { openGroundTruth, type GroundTruthWriter } from './ground-truth.ts'
import { connectKafkaSink, type Compression, type EventSink, type OutgoingMessage } from './kafka-sink.ts'
import { paceRealtime } from './realtime.ts'
import { createTotals, type SimulationTotals, type TotalsCounter } from './totals.ts'

export type { SimulationTotals } from './totals.ts'

export interface SimulationProgress {
  readonly eventsSent: number
  readonly requestEvents: number
  readonly gpuSamples: number
  /** Acknowledged events per second over the last report interval. */
  readonly eventsPerSec: number
  readonly elapsedMs: number
}

export interface RunSimulationOptions {
  readonly brokers: readonly string[]
  readonly topics: Pick<TopicSet, 'requests' | 'gpuSamples'> & Partial<TopicSet>
  /** Events per second, requests and GPU samples together. */
  readonly rate: number
  readonly durationSec: number
  readonly seed: number
  readonly realtime: boolean
  readonly onProgress?: (progress: SimulationProgress) => void
  readonly groundTruthPath?: string
  /** Simulated start (epoch ms) when not real-time; default now - duration. */
  readonly startMs?: number
  /** 0 or absent: sized for the rate at `targetLoad`. */
  readonly hosts?: number
  readonly targetLoad?: number
  readonly fleet?: Partial<Omit<FleetConfig, 'seed' | 'hosts' | 'requestRate'>>
  readonly compression?: Compression
  readonly batchMessages?: number
  readonly maxInFlight?: number
  readonly clientId?: string
  /** Creates missing topics (all three, when `topics` has deadLetter) with this many partitions. */
  readonly partitions?: number
  readonly signal?: AbortSignal
  /** Sends here instead of Kafka (tests, another client). */
  readonly sink?: EventSink
  readonly progressIntervalMs?: number
  /** Simulated time before the window, not produced, so the run opens in steady state (default 60 s). */
  readonly warmupMs?: number
}

async function openSink(o: RunSimulationOptions): Promise<EventSink> {
  if (o.sink !== undefined) return o.sink
  const t = o.topics
  return connectKafkaSink({
    brokers: o.brokers,
    clientId: o.clientId ?? 'diffwatch-simulator',
    compression: o.compression ?? 'none',
    ...(o.partitions !== undefined && t.deadLetter !== undefined
      ? { createTopics: { topics: { requests: t.requests, gpuSamples: t.gpuSamples, deadLetter: t.deadLetter }, partitions: o.partitions } }
      : {}),
  })
}

export async function runSimulation(options: RunSimulationOptions): Promise<SimulationTotals> {
  const plan = planFleet({
    eventRate: options.rate,
    seed: options.seed,
    hosts: options.hosts ?? 0,
    targetLoad: options.targetLoad ?? 0.6,
    ...(options.fleet !== undefined ? { overrides: options.fleet } : {}),
  })
  const simulator = createFleetSimulator(plan.config)
  const durationMs = Math.round(options.durationSec * 1000)
  const startMs = options.realtime ? Date.now() : (options.startMs ?? Math.floor((Date.now() - durationMs) / 1000) * 1000)
  const events = simulator.generate({ startMs, durationMs, warmupMs: options.warmupMs ?? 60_000 })
  const totals = createTotals({ hosts: plan.config.hosts, gpus: plan.gpus, requestRate: plan.config.requestRate, offeredLoad: plan.offeredLoad, startMs, endMs: startMs + durationMs })

  const groundTruth = options.groundTruthPath ? openGroundTruth(options.groundTruthPath) : null
  const sink = await openSink(options)
  const batches = options.realtime
    ? paceRealtime(events, { maxBatch: options.batchMessages ?? 5000, ...(options.signal ? { signal: options.signal } : {}) })
    : chunk(events, options.batchMessages ?? 5000, options.signal)
  try {
    await pump(batches, sink, groundTruth, totals, options)
  } finally {
    await sink.close().catch(() => undefined)
    await groundTruth?.close()
  }
  return totals.finish(options.signal?.aborted === true)
}

async function* chunk(events: Iterable<SimEvent>, size: number, signal: AbortSignal | undefined): AsyncGenerator<SimEvent[]> {
  let batch: SimEvent[] = []
  for (const event of events) {
    batch.push(event)
    if (batch.length >= size) {
      yield batch
      batch = []
      if (signal?.aborted === true) return
    }
  }
  if (batch.length > 0) yield batch
}

/** Encodes and sends every batch, at most maxInFlight unacknowledged; reports progress. */
async function pump(
  batches: AsyncIterable<SimEvent[]>,
  sink: EventSink,
  groundTruth: GroundTruthWriter | null,
  totals: TotalsCounter,
  o: RunSimulationOptions,
): Promise<void> {
  const codec = createCodec()
  const maxInFlight = o.maxInFlight ?? 2
  const inFlight = new Set<Promise<void>>()
  let failure: unknown = null
  const reporter = startProgress(totals, o.onProgress, o.progressIntervalMs ?? 1000)
  try {
    for await (const batch of batches) {
      if (failure !== null) break
      const requests: OutgoingMessage[] = []
      const samples: OutgoingMessage[] = []
      let bytes = 0
      for (const e of batch) {
        const value = e.kind === 'request-event' ? codec.encodeRequestEvent(e.value) : codec.encodeGpuSample(e.value)
        bytes += value.length
        ;(e.kind === 'request-event' ? requests : samples).push({ key: e.key, value })
      }
      if (groundTruth !== null) await groundTruth.write(batch)
      const sent = sink
        .send([
          { topic: o.topics.requests, messages: requests },
          { topic: o.topics.gpuSamples, messages: samples },
        ])
        .then(
          () => totals.add(batch, bytes),
          (err: unknown) => {
            failure ??= err
          },
        )
      inFlight.add(sent)
      void sent.finally(() => inFlight.delete(sent))
      while (inFlight.size >= maxInFlight) await Promise.race(inFlight)
    }
    await Promise.all(inFlight)
  } finally {
    reporter.stop()
  }
  if (failure !== null) throw failure
}

function startProgress(totals: TotalsCounter, onProgress: RunSimulationOptions['onProgress'], intervalMs: number): { stop(): void } {
  if (onProgress === undefined) return { stop: () => undefined }
  const started = Date.now()
  let last = { at: started, events: 0 }
  const report = (): void => {
    const now = Date.now()
    const snap = totals.snapshot()
    const eventsPerSec = now > last.at ? ((snap.events - last.events) * 1000) / (now - last.at) : 0
    last = { at: now, events: snap.events }
    onProgress({ eventsSent: snap.events, requestEvents: snap.requestEvents, gpuSamples: snap.gpuSamples, eventsPerSec, elapsedMs: now - started })
  }
  const timer = setInterval(report, intervalMs)
  return {
    stop() {
      clearInterval(timer)
      report()
    },
  }
}

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createCodec } from '../../schemas/codec.ts'
import { newestSchemaVersion } from '../../schemas/test-fixtures.ts'
import { topicSet } from '../../schemas/topics.ts'
import { createFleetSimulator } from './event-generator.ts'
import { planFleet } from './fleet-plan.ts'
import { readGroundTruth, type GroundTruthLine } from './ground-truth.ts'
import type { EventSink, TopicBatch } from './kafka-sink.ts'
import { runSimulation, type SimulationProgress } from './producer.ts'
import { T0 } from './test-helpers.ts'

function memorySink(options: { failOnCall?: number } = {}): EventSink & { calls: TopicBatch[][]; closed: boolean } {
  const calls: TopicBatch[][] = []
  const sink = {
    calls,
    closed: false,
    async send(batches: readonly TopicBatch[]) {
      calls.push([...batches])
      if (options.failOnCall === calls.length) throw new Error('broker gone')
      await new Promise((resolve) => setImmediate(resolve))
    },
    async close() {
      sink.closed = true
    },
  }
  return sink
}

const dir = mkdtempSync(join(tmpdir(), 'diffwatch-sim-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('runSimulation (not real-time, memory sink)', () => {
  const topics = topicSet('t1.')
  const base = { brokers: ['unused:9092'], topics, rate: 40, durationSec: 300, seed: 9, realtime: false, startMs: T0, warmupMs: 30_000 }

  it('sends every generated event once, encoded and keyed, to its topic', async () => {
    const sink = memorySink()
    const totals = await runSimulation({ ...base, sink, batchMessages: 1000 })
    const plan = planFleet({ eventRate: 40, seed: 9, hosts: 0, targetLoad: 0.6 })
    const expected = [...createFleetSimulator(plan.config).generate({ startMs: T0, durationMs: 300_000, warmupMs: 30_000 })]
    const codec = createCodec()
    const sent = sink.calls.flatMap((call) => call.flatMap((b) => b.messages.map((m) => ({ topic: b.topic, ...m }))))
    const byTopic = (t: string) => sent.filter((m) => m.topic === t)
    const expReq = expected.filter((e) => e.kind === 'request-event')
    const expSam = expected.filter((e) => e.kind === 'gpu-sample')
    expect(byTopic(topics.requests).map((m) => m.key)).toEqual(expReq.map((e) => e.key))
    expect(byTopic(topics.gpuSamples).map((m) => m.key)).toEqual(expSam.map((e) => e.key))
    // The simulator writes the newest released RequestEvent schema (read from the file names).
    const version = newestSchemaVersion('request-event')
    expect(byTopic(topics.requests).map((m) => codec.decode(m.value))).toEqual(expReq.map((e) => ({ ok: true, kind: e.kind, version, value: e.value })))
    expect(sink.calls.every((call) => call.reduce((n, b) => n + b.messages.length, 0) <= 1000)).toBe(true)
    expect(sink.closed).toBe(true)
    expect(totals.events).toBe(expected.length)
    expect(totals.requestEvents).toBe(expReq.length)
    expect(totals.gpuSamples).toBe(expSam.length)
    expect(totals.bytes).toBe(sent.reduce((n, m) => n + m.value.length, 0))
    expect(totals.aborted).toBe(false)
    expect(totals.fleet).toEqual({ hosts: plan.config.hosts, gpus: plan.gpus, requestRate: plan.config.requestRate, offeredLoad: plan.offeredLoad, startMs: T0, endMs: T0 + 300_000 })
  })

  it('counts per model exactly what it sent', async () => {
    const totals = await runSimulation({ ...base, sink: memorySink() })
    const plan = planFleet({ eventRate: 40, seed: 9, hosts: 0, targetLoad: 0.6 })
    const byModel: Record<string, { requests: number; errors: number; images: number }> = {}
    for (const e of createFleetSimulator(plan.config).generate({ startMs: T0, durationMs: 300_000, warmupMs: 30_000 })) {
      if (e.kind !== 'request-event') continue
      const m = (byModel[e.value.model] ??= { requests: 0, errors: 0, images: 0 })
      m.requests++
      if (e.value.status === 'error') m.errors++
      else m.images += e.value.images
    }
    expect(totals.byModel).toEqual(byModel)
    expect(Object.values(totals.byErrorType).reduce((a, b) => a + b, 0)).toBe(Object.values(byModel).reduce((a, m) => a + m.errors, 0))
  })

  it('writes the ground truth: one line per event, the same events in the same order', async () => {
    const path = join(dir, 'truth.ndjson')
    const sink = memorySink()
    const totals = await runSimulation({ ...base, sink, groundTruthPath: path })
    const lines: GroundTruthLine[] = []
    for await (const line of readGroundTruth(path)) lines.push(line)
    const plan = planFleet({ eventRate: 40, seed: 9, hosts: 0, targetLoad: 0.6 })
    const expected = [...createFleetSimulator(plan.config).generate({ startMs: T0, durationMs: 300_000, warmupMs: 30_000 })]
    expect(lines).toHaveLength(totals.events)
    expect(lines).toEqual(expected.map((e) => ({ kind: e.kind, value: e.value })))
  })

  it('reports progress with the events acknowledged so far', async () => {
    const reports: SimulationProgress[] = []
    const totals = await runSimulation({ ...base, sink: memorySink(), onProgress: (p) => reports.push(p), progressIntervalMs: 5 })
    expect(reports.length).toBeGreaterThan(0)
    expect(reports.at(-1)!.eventsSent).toBe(totals.events)
    for (let i = 1; i < reports.length; i++) expect(reports[i]!.eventsSent).toBeGreaterThanOrEqual(reports[i - 1]!.eventsSent)
  })

  it('fails with the sink error, after closing the sink, when a send fails', async () => {
    const sink = memorySink({ failOnCall: 2 })
    await expect(runSimulation({ ...base, sink, batchMessages: 500 })).rejects.toThrow('broker gone')
    expect(sink.closed).toBe(true)
  })

  it('stops early when aborted and says so', async () => {
    const abort = new AbortController()
    abort.abort()
    const totals = await runSimulation({ ...base, sink: memorySink(), batchMessages: 100, signal: abort.signal })
    expect(totals.aborted).toBe(true)
    expect(totals.events).toBeLessThanOrEqual(100)
  })
})

describe('runSimulation (real time)', () => {
  it('releases events no earlier than their event time, which is close to now', async () => {
    const sink = memorySink()
    const started = Date.now()
    const arrivals: { at: number; maxEventTime: number }[] = []
    const codec = createCodec()
    const wrapped: EventSink = {
      async send(batches) {
        let max = 0
        for (const b of batches) for (const m of b.messages) {
          const d = codec.decode(m.value)
          if (d.ok) max = Math.max(max, d.kind === 'request-event' ? (d.value as { completed_at: number }).completed_at : (d.value as { sampled_at: number }).sampled_at)
        }
        arrivals.push({ at: Date.now(), maxEventTime: max })
        await sink.send(batches)
      },
      close: () => sink.close(),
    }
    const totals = await runSimulation({ brokers: [], topics: topicSet('rt.'), rate: 30, durationSec: 2.5, seed: 4, realtime: true, sink: wrapped })
    expect(totals.events).toBeGreaterThan(20)
    expect(totals.fleet.startMs).toBeGreaterThanOrEqual(started)
    for (const a of arrivals) expect(a.maxEventTime).toBeLessThanOrEqual(a.at)
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000)
  })
})

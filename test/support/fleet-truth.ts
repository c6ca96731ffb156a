/**
 * Simulated fleet traffic as Kafka messages, with the ground truth computed here from the
 * events themselves (never from what the pipeline stored): per-window request counts by model
 * and GPU-sample counts by window. Shared by the fault-injection suites.
 */
import type { Producer } from 'kafkajs'
import { createFleetSimulator } from '../../ingest/simulator/event-generator.ts'
import { createCodec } from '../../schemas/codec.ts'
import type { GpuSample, RequestEvent } from '../../schemas/generated/types.ts'
import type { TopicSet } from '../../schemas/topics.ts'
import { windowStartSec } from '../../transform/window-aggregator.ts'

export type KafkaMessage = { key: string; value: Buffer; timestamp: string; partition?: number }

export type FleetTraffic = {
  requests: RequestEvent[]
  samples: GpuSample[]
  requestMessages: KafkaMessage[]
  sampleMessages: KafkaMessage[]
}

const codec = createCodec()

/** Events of `durationMs` of simulated traffic from `startMs`, stamped 0.5 s after they happened. */
export function fleetTraffic(o: { seed: number; startMs: number; durationMs: number; requestRate?: number }): FleetTraffic {
  const sim = createFleetSimulator({ seed: o.seed, requestRate: o.requestRate ?? 30, hosts: 2, gpusPerHost: 2 })
  const out: FleetTraffic = { requests: [], samples: [], requestMessages: [], sampleMessages: [] }
  for (const ev of sim.generate({ startMs: o.startMs, durationMs: o.durationMs })) {
    if (ev.kind === 'request-event') {
      out.requests.push(ev.value)
      out.requestMessages.push({ key: ev.key, value: codec.encodeRequestEvent(ev.value), timestamp: String(ev.value.completed_at + 500) })
    } else {
      out.samples.push(ev.value)
      out.sampleMessages.push({ key: ev.key, value: codec.encodeGpuSample(ev.value), timestamp: String(ev.value.sampled_at + 200) })
    }
  }
  return out
}

/** Sends `messages` in slices of `batch`, acks=all, optionally pausing between slices. */
export async function sendAll(producer: Producer, topic: string, messages: KafkaMessage[], batch = 500, pauseMs = 0): Promise<void> {
  for (let at = 0; at < messages.length; at += batch) {
    await producer.send({ topic, acks: -1, messages: messages.slice(at, at + batch) })
    if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs))
  }
}

export async function sendTraffic(producer: Producer, topics: TopicSet, t: FleetTraffic, batch = 500, pauseMs = 0): Promise<void> {
  await Promise.all([
    sendAll(producer, topics.requests, t.requestMessages, batch, pauseMs),
    sendAll(producer, topics.gpuSamples, t.sampleMessages, batch, pauseMs),
  ])
}

export type WindowCounts = { requests: number; successes: number; errors: number; images: number }

/** `<window start s>|<model>` → counts, from the produced request events. */
export function expectedRequestWindows(requests: RequestEvent[], windowSeconds: number): Map<string, WindowCounts> {
  const m = new Map<string, WindowCounts>()
  for (const e of requests) {
    const key = `${windowStartSec(e.completed_at, windowSeconds)}|${e.model}`
    const w = m.get(key) ?? { requests: 0, successes: 0, errors: 0, images: 0 }
    w.requests += 1
    if (e.status === 'ok') {
      w.successes += 1
      w.images += e.images
    } else w.errors += 1
    m.set(key, w)
  }
  return m
}

/** `<window start s>|<gpu uuid>` → samples, from the produced GPU samples. */
export function expectedGpuWindows(samples: GpuSample[], windowSeconds: number): Map<string, number> {
  const m = new Map<string, number>()
  for (const s of samples) {
    const key = `${windowStartSec(s.sampled_at, windowSeconds)}|${s.gpu_uuid}`
    m.set(key, (m.get(key) ?? 0) + 1)
  }
  return m
}

/** The SQL that reads the stored windows back in the shapes of the two functions above. */
export function storedWindowsSql(database: string): { requests: string; gpus: string } {
  return {
    requests: `SELECT toUnixTimestamp(window_start) AS w, model, sum(requests) AS requests, sum(successes) AS successes,
                      sum(errors) AS errors, sum(images) AS images
               FROM ${database}.request_windows GROUP BY w, model`,
    gpus: `SELECT toUnixTimestamp(window_start) AS w, gpu_uuid, sum(samples) AS samples FROM ${database}.gpu_windows GROUP BY w, gpu_uuid`,
  }
}

export function requestWindowMap(rows: ({ w: number; model: string } & WindowCounts)[]): Map<string, WindowCounts> {
  return new Map(rows.map((r) => [`${r.w}|${r.model}`, { requests: r.requests, successes: r.successes, errors: r.errors, images: r.images }]))
}

export function gpuWindowMap(rows: { w: number; gpu_uuid: string; samples: number }[]): Map<string, number> {
  return new Map(rows.map((r) => [`${r.w}|${r.gpu_uuid}`, r.samples]))
}

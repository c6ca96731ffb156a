/**
 * The worker SDK with Kafka down: the scenario's own broker (port 19362) is stopped, then a
 * worker offers three times the SDK's buffer of request events. The buffer fills, the rest is
 * dropped and counted; the worker's memory stays within the buffer (heap measured after a forced
 * GC, with a full buffer and again after many more drops). The broker then returns and the SDK
 * delivers exactly what it buffered: the first `bufferSize` events (drop-newest), once each.
 *
 * Row: produced = offered; deadLettered = dropped by the SDK, expected = offered - bufferSize
 * (computed from what was offered: nothing can leave while Kafka is down); delivered = distinct
 * event ids found in Kafka afterwards, lost = the buffered ones missing from Kafka.
 */
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { createCodec } from '../../../schemas/codec.ts'
import { createTelemetry } from '../../../ingest/sdk/telemetry.ts'
import type { ChaosScenario } from '../scenario.ts'
import { round, seconds } from '../support/figures.ts'
import { localKafka } from '../support/local-kafka.ts'
import { recentTraffic } from '../support/paced-sdk.ts'
import { createScenarioTopics, readTopic } from '../support/topics.ts'

const PORT = 19362

/** Heap in use after a full garbage collection (the only fair reading of "held memory"). */
function heapAfterGc(): number {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  gc()
  gc()
  return process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers
}

export const ingestSdkKafkaDown: ChaosScenario = {
  name: 'ingest-sdk-kafka-down',
  group: 'fault',
  description: 'Stops Kafka, offers 3x the SDK buffer, checks counted drops, bounded memory, and exact delivery of the buffer once Kafka returns.',
  async run(ctx) {
    const bufferSize = ctx.quick ? 2_000 : 10_000
    const kafka = localKafka({ port: PORT, nodes: 1 })
    ctx.progress('starting a private broker')
    await kafka.start()
    const t = await createScenarioTopics(kafka.brokers, { name: 'sdk-down', partitions: 2 })
    const problems: string[] = []
    try {
      await kafka.stopNode(1)
      const traffic = recentTraffic(31, bufferSize * 13).requests
      const first = traffic.slice(0, bufferSize * 3)
      const later = traffic.slice(bufferSize * 3)
      const codec = createCodec()
      const avgBytes = first.reduce((n, e) => n + codec.encodeRequestEvent(e).length, 0) / first.length
      const sdk = createTelemetry({ brokers: kafka.brokers.split(','), topicPrefix: t.prefix, bufferSize, maxBackoffMs: 500 })
      const heap0 = heapAfterGc() // after the SDK exists: what follows is the buffer's own cost
      ctx.progress(`Kafka down: offering ${first.length} events to a ${bufferSize}-record buffer`)
      const t0 = performance.now()
      for (const e of first) sdk.recordRequest(e)
      const offerUs = ((performance.now() - t0) * 1000) / first.length
      const full = sdk.counters()
      const heapFull = heapAfterGc() - heap0
      // Many more records while full: each must be dropped without holding memory.
      for (const e of later) sdk.recordRequest(e)
      const heapLater = heapAfterGc() - heap0
      const whileDown = sdk.counters()
      if (whileDown.sent !== 0) problems.push(`the SDK reports ${whileDown.sent} sent while Kafka was down`)
      if (full.buffered !== bufferSize) problems.push(`buffered ${full.buffered} with a full buffer, expected ${bufferSize}`)
      if (heapLater > heapFull * 1.25 + 2 * 1024 * 1024) problems.push(`memory grew from ${round(heapFull / 2 ** 20)} to ${round(heapLater / 2 ** 20)} MiB while dropping`)

      ctx.progress('Kafka back: flushing the buffer')
      await kafka.startNode(1)
      const back = Date.now()
      const flushed = await sdk.flush(60_000)
      const drainS = seconds(back)
      if (!flushed) problems.push('flush() did not complete within 60 s of Kafka returning')
      const end = await sdk.close()
      const offered = first.length + later.length
      // The identity the SDK promises, checked on its own counters.
      if (end.sent + end.dropped + end.rejected + end.buffered !== offered) problems.push(`counters do not add up: ${JSON.stringify(end)} for ${offered} offered`)
      const inKafka = await readTopic(kafka.brokers, t.admin, t.topics.requests)
      const ids = new Map<string, number>()
      for (const m of inKafka) {
        const d = m.value ? codec.decode(m.value) : null
        const id = d?.ok ? String((d.value as { event_id: string }).event_id) : `(undecodable ${m.offset})`
        ids.set(id, (ids.get(id) ?? 0) + 1)
      }
      const expected = first.slice(0, bufferSize).map((e) => e.event_id)
      const delivered = expected.filter((id) => ids.has(id)).length
      const unexpected = [...ids.keys()].filter((id) => !expected.includes(id)).length
      if (unexpected > 0) problems.push(`${unexpected} events in Kafka that were not among the first ${bufferSize} offered (drop-newest)`)
      if (end.sent !== inKafka.length) problems.push(`the SDK counts ${end.sent} sent, Kafka holds ${inKafka.length}`)
      return [{
        scenario: 'ingest-sdk-kafka-down', case: `buffer ${bufferSize}, ${offered} offered while Kafka was down`, group: 'fault',
        produced: offered, delivered, lost: bufferSize - delivered,
        duplicated: [...ids.values()].reduce((n, c) => n + c - 1, 0),
        deadLettered: end.dropped, expectedDeadLetters: offered - bufferSize,
        figures: {
          bufferSize, sdkSent: end.sent, sdkDropped: end.dropped, sdkErrors: end.errors,
          recordBytes: round(avgBytes, 0), heapFullBufferMiB: round(heapFull / 2 ** 20), heapChangeWhileDroppingMiB: round((heapLater - heapFull) / 2 ** 20),
          heapBytesPerBufferedRecord: round(heapFull / bufferSize, 0), offerUsPerRecord: round(offerUs, 2), drainS,
        },
        problems,
      }]
    } finally {
      await t.cleanup().catch(() => undefined)
      await kafka.destroy().catch(() => undefined)
    }
  },
}

/**
 * ingest-throughput: N simulated events pre-produced to a fresh topic set, then the transformer
 * (in-process, default chunk sizes) consumes from the beginning until its committed offsets reach
 * the end offsets. Per sink (inline JSON, RowBinary file) and repeat: events/s, CPU seconds per
 * million events (the whole process: JS and the embedded engine's threads), peak RSS. Every repeat
 * uses a fresh consumer group and database, and checks that exactly the produced rows arrived.
 * The two ceilings run on the same topics and rows.
 */
import { join } from 'node:path'
import type { Admin } from 'kafkajs'
import { runSimulation } from '../../../ingest/simulator/producer.ts'
import { createCodec } from '../../../schemas/codec.ts'
import { loadTransformConfig } from '../../../transform/config.ts'
import { silentLogger } from '../../../transform/logger.ts'
import { createFileRowSink } from '../../../transform/row-sink-file.ts'
import { createRowSink, type RowSink } from '../../../transform/row-sink.ts'
import { startTransformer } from '../../../transform/transformer.ts'
import { committedOffsets, testKafka, topicEndOffsets, uniqueName } from '../../support/kafka.ts'
import { kafkaConsumerCeiling, storageCeiling } from '../ceilings.ts'
import { ROOT, transformerEnv, type BenchContext, type Scenario } from '../context.ts'
import { startProfile } from '../profile.ts'
import { median, progress, round } from '../report.ts'

const SIMULATED_SPAN_SEC = 600

async function behind(admin: Admin, groupId: string, topics: string[]): Promise<number> {
  let lag = 0
  for (const topic of topics) {
    const ends = await topicEndOffsets(admin, topic)
    const committed = await committedOffsets(admin, groupId, topic)
    for (const [p, end] of ends) lag += Math.max(0, end - Math.max(0, committed.get(p) ?? 0))
  }
  return lag
}

type Repeat = { sink: string; insertShareOfWall: Record<string, number>; eventsPerSec: number; steadyEventsPerSec: number; firstCommitSec: number; cpuSecPerM: number; peakRssMiB: number; seconds: number }

async function consumeAll(ctx: BenchContext, prefix: string, topics: string[], events: number, sinkKind: 'json' | 'file', profileTo: string | null) {
  const db = await ctx.database('ingest')
  const groupId = uniqueName('bench-transformer')
  const config = loadTransformConfig(transformerEnv(ctx, prefix, groupId, db.database))
  const inner = sinkKind === 'file' ? createFileRowSink(db.client) : createRowSink(db.client)
  // Wall time inside the sink (encoding, file write, the engine's insert): the profile sees the
  // engine's own threads only as idle time of the JS thread.
  const insertMs: Record<string, number> = {}
  const sink: RowSink = {
    async insert(write, token) {
      const s0 = performance.now()
      try {
        await inner.insert(write, token)
      } finally {
        insertMs[write.table] = (insertMs[write.table] ?? 0) + performance.now() - s0
      }
    },
  }
  const admin = testKafka('bench-admin').admin()
  await admin.connect()
  let peakRss = process.memoryUsage.rss()
  const stopProfile = profileTo ? await startProfile() : null
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const transformer = await startTransformer({ config, clickhouse: db.client, codec: createCodec(), log: silentLogger, sink })
  // The first commit marks the end of the group join and first fetch: the rate after it is the
  // steady rate, the one a long-running transformer sustains.
  let first: { at: number; done: number } | null = null
  try {
    for (;;) {
      peakRss = Math.max(peakRss, process.memoryUsage.rss())
      const lag = await behind(admin, groupId, topics)
      const done = events - lag
      if (first === null && done > 0) first = { at: performance.now(), done }
      progress(`ingest-throughput [${sinkKind}] ${done.toLocaleString('en-US')} / ${events.toLocaleString('en-US')} events, ${Math.round(done / ((performance.now() - t0) / 1000)).toLocaleString('en-US')} ev/s`)
      if (lag === 0) break
      if (!transformer.ready() && performance.now() - t0 > 120_000) throw new Error('transformer stopped making progress')
      await new Promise((r) => setTimeout(r, 100))
    }
  } finally {
    await transformer.stop()
    await admin.disconnect()
  }
  const tEnd = performance.now()
  const seconds = (tEnd - t0) / 1000
  const steadySec = first ? (tEnd - first.at) / 1000 : 0
  const cpu = process.cpuUsage(cpu0)
  const shares = stopProfile ? await stopProfile(profileTo!) : null
  const [stored] = await (await db.client.query({
    query: 'SELECT (SELECT count() FROM request_events) + (SELECT count() FROM gpu_samples) AS n',
    format: 'JSONEachRow',
  })).json<{ n: number }>()
  if (Number(stored?.n) !== events) throw new Error(`${sinkKind} sink stored ${stored?.n} rows of ${events} produced`)
  const repeat: Repeat = {
    sink: sinkKind,
    insertShareOfWall: Object.fromEntries(Object.entries(insertMs).map(([t, ms]) => [t, round(ms / (tEnd - t0), 3)])),
    eventsPerSec: events / seconds,
    steadyEventsPerSec: first && steadySec > 0 && first.done < events ? (events - first.done) / steadySec : NaN,
    firstCommitSec: first ? (first.at - t0) / 1000 : NaN,
    cpuSecPerM: ((cpu.user + cpu.system) / 1e6) * (1e6 / events),
    peakRssMiB: peakRss / 2 ** 20,
    seconds,
  }
  return { repeat, db, shares }
}

export const ingestThroughput: Scenario = {
  name: 'ingest-throughput',
  describe: 'pre-produced simulated events consumed end to end by the transformer, with the Kafka and storage ceilings',
  async run(ctx) {
    const { params } = ctx
    const t = await ctx.topics(params.partitions)
    const topics = [t.topics.requests, t.topics.gpuSamples]
    progress(`ingest-throughput: producing ${params.events.toLocaleString('en-US')} events`)
    const totals = await runSimulation({
      brokers: ctx.brokers, topics: t.topics, rate: params.events / SIMULATED_SPAN_SEC, durationSec: SIMULATED_SPAN_SEC,
      seed: 1337, realtime: false, clientId: 'bench-producer',
      onProgress: (p) => progress(`ingest-throughput: produced ${p.eventsSent.toLocaleString('en-US')} events`),
    })
    const events = totals.events
    ctx.detail('ingest.produced', { events, requestEvents: totals.requestEvents, gpuSamples: totals.gpuSamples, bytes: totals.bytes, partitions: params.partitions })

    progress('ingest-throughput: Kafka consumer ceiling')
    const kafka = kafkaConsumerCeiling(ctx, topics, events)
    ctx.report({ scenario: 'ceilings', name: 'kafka ConsumerPerformance', value: round(kafka.msgPerSec), unit: 'msg/s', note: `fetch-only ${round(kafka.fetchMsgPerSec)} msg/s` })
    ctx.detail('ceilings.kafka', kafka)

    const repeats: Repeat[] = []
    let lastDb: Awaited<ReturnType<typeof consumeAll>>['db'] | null = null
    for (const sinkKind of params.sinks) {
      for (let r = 0; r < params.repeats; r++) {
        const profileTo = params.profile && r === 0 ? join(ROOT, 'bench-results', `profile-${sinkKind}-${Date.now()}.cpuprofile`) : null
        const out = await consumeAll(ctx, t.prefix, topics, events, sinkKind, profileTo)
        repeats.push(out.repeat)
        lastDb = out.db
        if (out.shares) ctx.detail(`ingest.profile.${sinkKind}`, { file: profileTo, cpuShareByStage: out.shares })
      }
    }
    ctx.detail('ingest.repeats', repeats)

    progress('ingest-throughput: storage ceiling')
    const storage = await storageCeiling(ctx, lastDb!)
    ctx.report({ scenario: 'ceilings', name: 'chdb insert from RowBinary file', value: round(storage.rowsPerSec), unit: 'rows/s' })
    ctx.detail('ceilings.storage', storage)

    const bound = Math.min(kafka.msgPerSec, storage.rowsPerSec)
    const boundName = kafka.msgPerSec <= storage.rowsPerSec ? 'kafka ceiling' : 'storage ceiling'
    for (const sinkKind of params.sinks) {
      const mine = repeats.filter((r) => r.sink === sinkKind)
      const eps = median(mine.map((r) => r.eventsPerSec))
      ctx.report({ scenario: 'ingest-throughput', name: `events/s, ${sinkKind} sink (median of ${mine.length})`, value: round(eps), unit: 'ev/s', ceiling: { name: boundName, ratio: eps / bound } })
      const steady = median(mine.map((r) => r.steadyEventsPerSec))
      ctx.report({ scenario: 'ingest-throughput', name: `steady events/s after first commit, ${sinkKind} sink`, value: round(steady), unit: 'ev/s', ceiling: { name: 'kafka fetch-only', ratio: steady / kafka.fetchMsgPerSec } })
      ctx.report({ scenario: 'ingest-throughput', name: `CPU per million events, ${sinkKind} sink`, value: round(median(mine.map((r) => r.cpuSecPerM)), 2), unit: 'cpu-s/M' })
      ctx.report({ scenario: 'ingest-throughput', name: `peak RSS, ${sinkKind} sink`, value: round(Math.max(...mine.map((r) => r.peakRssMiB))), unit: 'MiB' })
    }
  },
}

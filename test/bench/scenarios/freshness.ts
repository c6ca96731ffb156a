/**
 * freshness: the simulator (a child process) producing in real time at a fixed rate while the
 * transformer (with the embedded default sink) runs; the figure is, per request event, the time from its
 * completion to the moment the engine stored it (`_ingested_at`, DEFAULT now64() evaluated by
 * ClickHouse at insert: when the row became visible to the query API's store). Every produced
 * request event must be stored before the distribution is read.
 */
import type { Admin } from 'kafkajs'
import { createCodec } from '../../../schemas/codec.ts'
import { loadTransformConfig } from '../../../transform/config.ts'
import { silentLogger } from '../../../transform/logger.ts'
import { createFileRowSink } from '../../../transform/row-sink-file.ts'
import { createRowSink } from '../../../transform/row-sink.ts'
import { startTransformer } from '../../../transform/transformer.ts'
import { committedOffsets, testKafka, topicEndOffsets, uniqueName } from '../../support/kafka.ts'
import { transformerEnv, type BenchContext, type Scenario } from '../context.ts'
import { progress, round } from '../report.ts'
import { runSimulationChild } from '../simulate-child.ts'

async function lag(admin: Admin, groupId: string, topics: string[]): Promise<number> {
  let n = 0
  for (const topic of topics) {
    const ends = await topicEndOffsets(admin, topic)
    const committed = await committedOffsets(admin, groupId, topic)
    for (const [p, end] of ends) n += Math.max(0, end - Math.max(0, committed.get(p) ?? 0))
  }
  return n
}

async function atRate(ctx: BenchContext, rate: number, durationSec: number, sinkKind: 'json' | 'file'): Promise<void> {
  const t = await ctx.topics(ctx.params.partitions)
  const db = await ctx.database('fresh')
  const groupId = uniqueName('bench-fresh')
  const config = loadTransformConfig(transformerEnv(ctx, t.prefix, groupId, db.database))
  const sink = sinkKind === 'file' ? createFileRowSink(db.client) : createRowSink(db.client)
  const transformer = await startTransformer({ config, clickhouse: db.client, codec: createCodec(), log: silentLogger, sink })
  const admin = testKafka('bench-fresh-admin').admin()
  await admin.connect()
  try {
    // Start the clock once the group has joined and owns every partition: the join (seconds with
    // kafkajs) is a start-up cost, not the steady freshness this scenario reports.
    const joinDeadline = Date.now() + 60_000
    for (;;) {
      const { groups } = await admin.describeGroups([groupId])
      if (groups[0]?.state === 'Stable' && groups[0].members.length > 0) break
      if (Date.now() > joinDeadline) throw new Error(`freshness: group ${groupId} did not become stable`)
      await new Promise((r) => setTimeout(r, 100))
    }
    // The producer is a process of its own, as real workers are other machines: in this process
    // it took the JS thread the transformer needs (26k of 30k ev/s offered, and the transformer
    // fell behind). It still shares the machine's cores.
    const totals = await runSimulationChild(
      { brokers: ctx.brokers, topics: t.topics, rate, durationSec, seed: 7, realtime: true, clientId: 'bench-fresh-producer' },
      (p) => progress(`freshness ${rate}/s [${sinkKind}]: ${Math.round(p.elapsedMs / 1000)}/${durationSec} s, ${Math.round(p.eventsPerSec)} ev/s sent`),
    )
    // A transformer slower than the offered rate catches up after the producer stops: that delay
    // is part of the freshness it delivers, so wait for it (bounded) rather than cut it off.
    const producerStopped = Date.now()
    const deadline = producerStopped + Math.max(120_000, durationSec * 5_000)
    for (;;) {
      const behind = await lag(admin, groupId, [t.topics.requests, t.topics.gpuSamples])
      if (behind === 0) break
      if (Date.now() > deadline) throw new Error(`freshness ${rate}/s: transformer still ${behind} events behind ${Math.round((Date.now() - producerStopped) / 1000)} s after the producer stopped`)
      progress(`freshness ${rate}/s [${sinkKind}]: catching up, ${behind.toLocaleString('en-US')} events behind`)
      await new Promise((r) => setTimeout(r, 250))
    }
    const catchUpSec = (Date.now() - producerStopped) / 1000
    const [row] = await (await db.client.query({
      query: `SELECT count() AS n,
                quantileExact(0.5)(d) AS p50, quantileExact(0.99)(d) AS p99, max(d) AS mx, avg(d) AS mean
              FROM (SELECT toFloat64(toUnixTimestamp64Milli(_ingested_at) - toUnixTimestamp64Milli(completed_at)) AS d FROM request_events)`,
      format: 'JSONEachRow',
    })).json<{ n: number; p50: number; p99: number; mx: number; mean: number }>()
    if (!row || Number(row.n) !== totals.requestEvents) throw new Error(`freshness ${rate}/s: stored ${row?.n} request events of ${totals.requestEvents}`)
    const achieved = (totals.events * 1000) / totals.elapsedMs
    const label = `${rate.toLocaleString('en-US')} ev/s target (${Math.round(achieved).toLocaleString('en-US')} sent)`
    ctx.report({ scenario: 'freshness', name: `p50 completion→stored, ${label}`, value: round(row.p50), unit: 'ms' })
    ctx.report({ scenario: 'freshness', name: `p99 completion→stored, ${label}`, value: round(row.p99), unit: 'ms' })
    ctx.report({ scenario: 'freshness', name: `max completion→stored, ${label}`, value: round(row.mx), unit: 'ms' })
    ctx.detail(`freshness.${rate}`, { ...row, sink: sinkKind, produced: totals.events, requestEvents: totals.requestEvents, achievedRate: round(achieved), durationSec, catchUpSec: round(catchUpSec, 1) })
  } finally {
    await transformer.stop()
    await admin.disconnect()
  }
}

export const freshness: Scenario = {
  name: 'freshness',
  describe: 'real-time producer at a fixed rate; completion-to-stored latency (p50/p99/max)',
  async run(ctx) {
    const rates = ctx.params.freshRates ?? (ctx.params.quick ? [10_000] : [10_000, 50_000])
    const plan = rates.map((rate) => ({ rate, sec: ctx.params.quick ? 20 : 60 }))
    // The embedded default: the last sink named (file unless --sinks says otherwise).
    const sinkKind = ctx.params.sinks[ctx.params.sinks.length - 1]!
    for (const { rate, sec } of plan) await atRate(ctx, rate, sec, sinkKind)
  },
}

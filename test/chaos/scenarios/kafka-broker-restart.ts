/**
 * A Kafka broker stopped (controlled shutdown) for 30 s (10 s quick) and started again while the
 * worker SDK keeps producing a known stream at a steady pace and a real `diffwatch transform`
 * process keeps consuming: once on a 3-node KRaft cluster with replicated topics (RF 3, min ISR
 * 2; the node stopped leads partition 0 of the requests topic) and once on a single broker.
 * Both clusters are the scenario's own (scripts/kafka.sh on ports 19410-19415 and 19361).
 *
 * Expected: the SDK drops nothing (its buffer outlasts the outage), every event is stored once
 * (raw rows by event id, window counts), nothing is dead-lettered. Figures: how long producing
 * and consuming stalled, and the time from the broker's return to zero lag.
 */
import type { ChaosContext, ChaosRow, ChaosScenario } from '../scenario.ts'
import { seconds, sleep } from '../support/figures.ts'
import { localKafka, type LocalKafka } from '../support/local-kafka.ts'
import { paceThroughSdk, recentTraffic } from '../support/paced-sdk.ts'
import { compareStored, storedCounts } from '../support/stored-counts.ts'
import { createScenarioTopics, endOffsetSum, groupLag, waitForNoLag } from '../support/topics.ts'
import { startTransformerChild } from '../support/transformer-child.ts'

const CLUSTER_PORT = 19410
const SINGLE_PORT = 19361

type Case = { label: string; kafka: LocalKafka; replication: number; minInsync?: number }

async function runCase(ctx: ChaosContext, c: Case, outageMs: number, seed: number): Promise<ChaosRow> {
  const rate = ctx.quick ? 250 : 500
  const beforeMs = 3_000
  const afterMs = 3_000
  const total = Math.round((rate * (beforeMs + outageMs + afterMs)) / 1000)
  const problems: string[] = []
  ctx.progress(`${c.label}: starting Kafka`)
  await c.kafka.start()
  const t = await createScenarioTopics(c.kafka.brokers, { name: 'restart', partitions: 3, replicationFactor: c.replication, minInsync: c.minInsync })
  const { topics } = t
  const transformer = startTransformerChild({ brokers: c.kafka.brokers, topicPrefix: t.prefix, workDir: ctx.workDir })
  try {
    const traffic = recentTraffic(seed, total)
    const producer = paceThroughSdk(traffic, rate, {
      brokers: c.kafka.brokers.split(','),
      topicPrefix: t.prefix,
      bufferSize: total + 1,
      maxBackoffMs: 1_000,
    })
    await sleep(beforeMs)
    // The node that leads requests partition 0: its partitions must move, the quorum loses a voter.
    const md = await t.admin.fetchTopicMetadata({ topics: [topics.requests] })
    const victim = c.kafka.nodes === 1 ? 1 : (md.topics[0]?.partitions.find((p) => p.partitionId === 0)?.leader ?? 1)
    ctx.progress(`${c.label}: stopping node ${victim} for ${outageMs / 1000} s`)
    const stoppedAt = Date.now()
    await c.kafka.stopNode(victim)
    await sleep(Math.max(0, outageMs - (Date.now() - stoppedAt)))
    if (transformer.process.child.exitCode !== null) problems.push(`the transformer exited during the outage (${await transformer.process.exited})`)
    await c.kafka.startNode(victim)
    const backAt = Date.now()
    ctx.progress(`${c.label}: node ${victim} back after ${seconds(stoppedAt)} s; draining`)
    await producer.done
    const flushed = await producer.telemetry.flush(120_000)
    if (!flushed) problems.push('the SDK did not flush its buffer within 120 s of the broker returning')
    await waitForNoLag(t.admin, transformer.groupId, [topics.requests, topics.gpuSamples], 45_000).catch((err: Error) => {
      problems.push(`${err.message}; transformer log: ${transformer.process.logTail(3).slice(0, 600)}`)
    })
    const recoverS = seconds(backAt)
    const sdk = await producer.telemetry.close()
    const inKafka = (await endOffsetSum(t.admin, topics.requests)) + (await endOffsetSum(t.admin, topics.gpuSamples))
    const dlq = await endOffsetSum(t.admin, topics.deadLetter)
    if (transformer.process.child.exitCode !== null) problems.push(`the transformer exited (${await transformer.process.exited}): ${transformer.process.logTail(5)}`)
    const exit = await transformer.stop()
    if (exit !== '0') problems.push(`the transformer stopped with ${exit}; its last log lines: ${transformer.process.logTail(4).slice(0, 800)}`)
    const produced = { requests: producer.offered.requests, samples: producer.offered.samples }
    const stored = await storedCounts(transformer)
    const cmp = compareStored(produced, stored)
    const offered = produced.requests + produced.samples
    if (sdk.sent !== offered) problems.push(`the SDK acknowledged ${sdk.sent} of ${offered} events (dropped ${sdk.dropped}, rejected ${sdk.rejected})`)
    if (inKafka !== offered) problems.push(`Kafka holds ${inKafka} messages for ${offered} events sent: the producer ${inKafka > offered ? 'duplicated' : 'lost'} ${Math.abs(inKafka - offered)}`)
    return {
      scenario: 'kafka-broker-restart',
      case: `${c.label}, node down ${outageMs / 1000} s`,
      group: 'fault',
      produced: offered,
      delivered: cmp.delivered,
      lost: cmp.lost,
      duplicated: cmp.duplicated,
      deadLettered: dlq,
      expectedDeadLetters: 0,
      figures: {
        outageS: outageMs / 1000,
        nodeDownS: seconds(stoppedAt, backAt),
        recoverS,
        sdkErrors: sdk.errors,
        sdkDropped: sdk.dropped,
        sdkMaxBuffered: producer.offered.maxBuffered,
        kafkaMessages: inKafka,
        lagAtEnd: await groupLag(t.admin, transformer.groupId, [topics.requests, topics.gpuSamples]),
      },
      problems: [...problems, ...cmp.problems],
    }
  } finally {
    if (transformer.process.child.exitCode === null) await transformer.process.kill('SIGKILL')
    await t.cleanup().catch(() => undefined)
    await c.kafka.destroy().catch(() => undefined)
  }
}

export const kafkaBrokerRestart: ChaosScenario = {
  name: 'kafka-broker-restart',
  group: 'fault',
  description: 'Stops a Kafka node for 30 s (10 s quick) under steady SDK traffic and a running transformer, on a 3-node cluster (RF 3) and on one broker.',
  async run(ctx) {
    const outageMs = ctx.quick ? 10_000 : 30_000
    const rows: ChaosRow[] = []
    rows.push(await runCase(ctx, { label: '3-node cluster, RF 3, min ISR 2', kafka: localKafka({ port: CLUSTER_PORT, nodes: 3 }), replication: 3, minInsync: 2 }, outageMs, 71))
    rows.push(await runCase(ctx, { label: 'single broker', kafka: localKafka({ port: SINGLE_PORT, nodes: 1 }), replication: 1 }, outageMs, 72))
    return rows
  },
}

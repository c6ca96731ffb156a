/**
 * Proves the integration tier's broker path end to end with the client diffwatch uses (kafkajs):
 * the global setup's address reaches the test worker, per-test topics are created and deleted,
 * keyed messages (plain and GZIP batches) are consumed by a group with manual commits exactly as
 * the transformer does (autoCommit off, eachBatchAutoResolve off), and a second group member
 * joining resumes from the committed offsets.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { CompressionTypes, type Consumer, type EachBatchPayload } from 'kafkajs'
import { committedOffsets, createTestTopics, testKafka, topicEndOffsets, uniqueGroupId, waitForCommitted, type TestTopics } from './kafka.ts'

const N = 1000
const PARTITIONS = 3
const KEYS = 24

type Received = { partition: number; offset: number; key: string; value: string }

function payload(seq: number): { key: string; value: string } {
  const worker = `worker-${seq % KEYS}`
  return { key: worker, value: JSON.stringify({ seq, worker, latencyMs: (seq * 7919) % 5000 }) }
}

async function produce(topic: string, from: number, count: number): Promise<void> {
  const producer = testKafka('diffwatch-test-producer').producer()
  await producer.connect()
  try {
    for (let start = from, batch = 0; start < from + count; start += 100, batch++) {
      const messages = Array.from({ length: Math.min(100, from + count - start) }, (_, i) => payload(start + i))
      // Every other batch GZIP-compressed: the codec path the SDK may enable.
      const compression = batch % 2 === 0 ? CompressionTypes.None : CompressionTypes.GZIP
      await producer.send({ topic, acks: -1, compression, messages })
    }
  } finally {
    await producer.disconnect()
  }
}

/** A group member that records every message and commits each batch's last offset + 1 itself. */
async function startMember(groupId: string, topic: string, into: Received[]): Promise<{ consumer: Consumer; assigned: () => number[] }> {
  const consumer = testKafka('diffwatch-test-consumer').consumer({ groupId, maxWaitTimeInMs: 500 })
  let assigned: number[] = []
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    assigned = e.payload.memberAssignment[topic] ?? []
  })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload) => {
      let last: string | undefined
      for (const m of batch.messages) {
        if (!isRunning() || isStale()) break
        into.push({ partition: batch.partition, offset: Number(m.offset), key: m.key?.toString() ?? '', value: m.value?.toString() ?? '' })
        resolveOffset(m.offset)
        last = m.offset
      }
      await heartbeat()
      if (last !== undefined) {
        await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: String(Number(last) + 1) }])
      }
    },
  })
  return { consumer, assigned: () => assigned }
}

describe('the Kafka broker of the integration tier', () => {
  let kafka: TestTopics
  beforeAll(async () => {
    kafka = await createTestTopics({ partitions: PARTITIONS })
  })
  afterAll(async () => {
    await kafka?.cleanup()
  })

  it('reaches forked test workers through KAFKA_BROKERS', () => {
    expect(process.env.KAFKA_BROKERS).toBeTruthy()
    expect(process.env.KAFKA_BROKERS).toBe(inject('kafkaBrokers'))
  })

  it('creates the three diffwatch topics under a unique prefix, each partition with a leader', async () => {
    expect(kafka.prefix).toMatch(/^t-[0-9a-f]{8}-$/)
    const { topics } = await kafka.admin.fetchTopicMetadata({ topics: Object.values(kafka.topics) })
    const layout = Object.fromEntries(topics.map((t) => [t.name, t.partitions.filter((p) => p.leader >= 0).length]))
    expect(layout).toEqual({
      [`${kafka.prefix}diffwatch.requests.v1`]: PARTITIONS,
      [`${kafka.prefix}diffwatch.gpu-samples.v1`]: PARTITIONS,
      [`${kafka.prefix}diffwatch.dlq`]: 1,
    })
  })

  it('delivers N keyed messages exactly once to a group that commits by hand, then lets a second member resume', async () => {
    const topic = kafka.topics.requests
    const groupId = uniqueGroupId('kafka-it')
    await produce(topic, 0, N)

    const ends = await topicEndOffsets(kafka.admin, topic)
    expect([...ends.values()].reduce((a, b) => a + b, 0)).toBe(N)
    expect([...ends.values()].every((end) => end > 0)).toBe(true)

    const first: Received[] = []
    const a = await startMember(groupId, topic, first)
    await waitForCommitted(kafka.admin, groupId, [topic], 60_000)

    expect(first).toHaveLength(N)
    expect(first.map((r) => r.value).sort()).toEqual(Array.from({ length: N }, (_, i) => payload(i).value).sort())
    expect(Object.fromEntries(await committedOffsets(kafka.admin, groupId, topic))).toEqual(Object.fromEntries(ends))
    // Same key, same partition; within a partition, a key's messages keep their send order.
    const partitionOfKey = new Map<string, Set<number>>()
    for (const r of first) partitionOfKey.set(r.key, (partitionOfKey.get(r.key) ?? new Set()).add(r.partition))
    expect([...partitionOfKey.values()].every((s) => s.size === 1)).toBe(true)
    for (let p = 0; p < PARTITIONS; p++) {
      const seqs = first.filter((r) => r.partition === p).map((r) => JSON.parse(r.value).seq as number)
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y))
    }

    // A second member joins: the group rebalances, and between them they read only what was
    // produced after the commits above (at-least-once: a batch in flight at the rebalance may
    // be read twice, but nothing is missed and nothing committed is read again).
    const second: Received[] = []
    const b = await startMember(groupId, topic, second)
    const deadline = Date.now() + 60_000
    while (b.assigned().length === 0 || a.assigned().length + b.assigned().length !== PARTITIONS) {
      if (Date.now() > deadline) throw new Error(`no rebalance: a=${a.assigned()} b=${b.assigned()}`)
      await new Promise((r) => setTimeout(r, 100))
    }
    expect([...a.assigned(), ...b.assigned()].sort()).toEqual([0, 1, 2])

    const M = 300
    await produce(topic, N, M)
    await waitForCommitted(kafka.admin, groupId, [topic], 60_000)
    await Promise.all([a.consumer.disconnect(), b.consumer.disconnect()])

    const afterJoin = [...first.slice(N), ...second]
    expect(afterJoin.every((r) => JSON.parse(r.value).seq >= N)).toBe(true)
    expect(new Set(afterJoin.map((r) => r.value))).toEqual(new Set(Array.from({ length: M }, (_, i) => payload(N + i).value)))
    expect(second.length).toBeGreaterThan(0)
  })

  it('deletes the topics on cleanup', async () => {
    const other = await createTestTopics({ partitions: 1, prefix: 'gone' })
    const names = Object.values(other.topics)
    await other.cleanup()
    const admin = testKafka().admin()
    await admin.connect()
    try {
      const left = (await admin.listTopics()).filter((t) => names.includes(t))
      expect(left).toEqual([])
    } finally {
      await admin.disconnect()
    }
  })
})

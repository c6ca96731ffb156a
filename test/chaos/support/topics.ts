/**
 * Topics for one scenario on any cluster (the runner's broker or a scenario's own): a fresh
 * prefix for the three diffwatch topics, created with the replication asked for and returned
 * once every partition has a leader; and helpers that read a topic back to its end, with
 * headers, to count what really reached Kafka.
 */
import { randomBytes } from 'node:crypto'
import { Kafka, logLevel, type Admin } from 'kafkajs'
import { topicSet, type TopicSet } from '../../../schemas/topics.ts'

export function chaosKafka(brokers: string, clientId = 'diffwatch-chaos'): Kafka {
  return new Kafka({ clientId, brokers: brokers.split(','), logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 200 } })
}

export function uniqueName(name: string): string {
  return `${name}-${randomBytes(4).toString('hex')}`
}

export type ScenarioTopics = { topics: TopicSet; prefix: string; admin: Admin; cleanup(): Promise<void> }

export async function createScenarioTopics(brokers: string, o: { name: string; partitions: number; replicationFactor?: number; minInsync?: number }): Promise<ScenarioTopics> {
  const prefix = `${uniqueName(o.name)}-`
  const topics = topicSet(prefix)
  const admin = chaosKafka(brokers, 'diffwatch-chaos-admin').admin()
  await admin.connect()
  const rf = o.replicationFactor ?? 1
  const configEntries = o.minInsync === undefined ? [] : [{ name: 'min.insync.replicas', value: String(o.minInsync) }]
  const layout = [
    { topic: topics.requests, numPartitions: o.partitions },
    { topic: topics.gpuSamples, numPartitions: o.partitions },
    { topic: topics.deadLetter, numPartitions: 1 },
  ]
  await admin.createTopics({ waitForLeaders: true, topics: layout.map((t) => ({ ...t, replicationFactor: rf, configEntries })) })
  const deadline = Date.now() + 30_000
  for (;;) {
    const md = await admin.fetchTopicMetadata({ topics: layout.map((t) => t.topic) })
    if (md.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0 && p.isr.length >= rf))) break
    if (Date.now() > deadline) throw new Error(`topics ${prefix}* have no leaders after 30 s`)
    await new Promise((r) => setTimeout(r, 100))
  }
  return {
    topics,
    prefix,
    admin,
    async cleanup() {
      await admin.deleteTopics({ topics: layout.map((t) => t.topic), timeout: 30_000 }).catch(() => undefined)
      await admin.disconnect()
    },
  }
}

export async function endOffsetSum(admin: Admin, topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic)
  return offsets.reduce((n, o) => n + Number(o.high), 0)
}

/** Messages of `groupId` not yet committed on `topics`. */
export async function groupLag(admin: Admin, groupId: string, topics: string[]): Promise<number> {
  let behind = 0
  for (const topic of topics) {
    const [ends, fetched] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })])
    const committed = new Map((fetched[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]))
    for (const e of ends) behind += Math.max(0, Number(e.high) - Math.max(0, committed.get(e.partition) ?? 0))
  }
  return behind
}

/** Waits for zero lag; fails once the lag has not shrunk for `stallMs` (a stuck consumer). */
export async function waitForNoLag(admin: Admin, groupId: string, topics: string[], stallMs: number): Promise<void> {
  let best = Number.POSITIVE_INFINITY
  let movedAt = Date.now()
  for (;;) {
    const lag = await groupLag(admin, groupId, topics).catch(() => -1)
    if (lag === 0) return
    if (lag >= 0 && lag < best) {
      best = lag
      movedAt = Date.now()
    }
    if (Date.now() - movedAt > stallMs) throw new Error(`group ${groupId} stuck ${lag} messages behind: no progress for ${stallMs / 1000} s`)
    await new Promise((r) => setTimeout(r, 250))
  }
}

export type ReadMessage = { partition: number; offset: number; key: Buffer | null; value: Buffer | null; headers: Record<string, string> }

/** Every message of `topic` from the beginning to its end offsets at call time. */
export async function readTopic(brokers: string, admin: Admin, topic: string, timeoutMs = 60_000): Promise<ReadMessage[]> {
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.high)]))
  const total = [...ends.values()].reduce((a, b) => a + b, 0)
  const out: ReadMessage[] = []
  if (total === 0) return out
  const consumer = chaosKafka(brokers, 'diffwatch-chaos-reader').consumer({ groupId: uniqueName('chaos-reader'), maxWaitTimeInMs: 100 })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  const seen = new Map<number, number>()
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${out.length} of ${total} messages of ${topic} in ${timeoutMs} ms`)), timeoutMs)
      void consumer.run({
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) {
            const offset = Number(m.offset)
            if (offset >= (ends.get(batch.partition) ?? 0)) continue
            const headers: Record<string, string> = {}
            for (const [k, v] of Object.entries(m.headers ?? {})) if (v !== undefined) headers[k] = String(v)
            out.push({ partition: batch.partition, offset, key: m.key, value: m.value, headers })
            seen.set(batch.partition, offset + 1)
          }
          if ([...ends].every(([p, end]) => (seen.get(p) ?? 0) >= end)) {
            clearTimeout(timer)
            resolve()
          }
        },
      })
    })
  } finally {
    await consumer.disconnect()
  }
  return out
}

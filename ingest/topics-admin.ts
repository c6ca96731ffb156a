/**
 * Creates the diffwatch topics when they are missing (idempotent), with the partition count
 * asked for. Used by the demo, the simulator and the benchmarks; production clusters usually
 * create topics through their own tooling, and then this only checks they exist.
 */
import type { Admin } from 'kafkajs'
import type { TopicSet } from '../schemas/topics.ts'

export type TopicLayout = { partitions: number; replicationFactor?: number; dlqPartitions?: number }

export async function ensureTopics(admin: Admin, topics: TopicSet, layout: TopicLayout): Promise<string[]> {
  const existing = new Set(await admin.listTopics())
  const wanted = [
    { topic: topics.requests, numPartitions: layout.partitions },
    { topic: topics.gpuSamples, numPartitions: layout.partitions },
    { topic: topics.deadLetter, numPartitions: layout.dlqPartitions ?? 1 },
  ].filter((t) => !existing.has(t.topic))
  if (wanted.length === 0) return []
  await admin.createTopics({
    waitForLeaders: true,
    topics: wanted.map((t) => ({ ...t, replicationFactor: layout.replicationFactor ?? 1 })),
  })
  return wanted.map((t) => t.topic)
}

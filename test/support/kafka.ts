/**
 * Kafka helpers for tests and benchmarks: every test gets its own topics (unique prefix) and
 * consumer group, created here and deleted by its cleanup; no test touches shared state.
 */
import { randomBytes } from 'node:crypto'
import { Kafka, logLevel, type Admin } from 'kafkajs'
import { ensureTopics } from '../../ingest/topics-admin.ts'
import { topicSet, type TopicSet } from '../../schemas/topics.ts'

export function kafkaBrokers(): string[] {
  const brokers = process.env.KAFKA_BROKERS
  if (!brokers) throw new Error('KAFKA_BROKERS is not set: integration tests run under the integration project (test/support/global-setup.ts)')
  return brokers.split(',').map((b) => b.trim())
}

export function testKafka(clientId = 'diffwatch-test'): Kafka {
  return new Kafka({ clientId, brokers: kafkaBrokers(), logLevel: logLevel.NOTHING })
}

export function uniqueName(name: string): string {
  return `${name}-${randomBytes(4).toString('hex')}`
}

export type TestTopics = { topics: TopicSet; prefix: string; admin: Admin; cleanup(): Promise<void> }

/** Creates the three diffwatch topics under a fresh prefix; cleanup() deletes them. */
export async function createTestTopics(options: { partitions: number; name?: string }): Promise<TestTopics> {
  const prefix = `${uniqueName(options.name ?? 't')}.`
  const topics = topicSet(prefix)
  const admin = testKafka().admin()
  await admin.connect()
  await ensureTopics(admin, topics, { partitions: options.partitions })
  return {
    topics,
    prefix,
    admin,
    async cleanup() {
      await admin.deleteTopics({ topics: [topics.requests, topics.gpuSamples, topics.deadLetter] }).catch(() => undefined)
      await admin.disconnect()
    },
  }
}

/** Sum over partitions of the high watermark: how many messages a topic holds. */
export async function topicEndOffsets(admin: Admin, topic: string): Promise<Map<number, number>> {
  const offsets = await admin.fetchTopicOffsets(topic)
  return new Map(offsets.map((o) => [o.partition, Number(o.high)]))
}

/** Waits until `groupId` has committed every partition of `topics` up to its end offset. */
export async function waitForCommitted(admin: Admin, groupId: string, topics: string[], timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    let behind = 0
    for (const topic of topics) {
      const ends = await topicEndOffsets(admin, topic)
      const committed = await admin.fetchOffsets({ groupId, topics: [topic] })
      for (const p of committed[0]?.partitions ?? []) {
        const end = ends.get(p.partition) ?? 0
        const at = Number(p.offset) < 0 ? 0 : Number(p.offset)
        behind += Math.max(0, end - at)
      }
    }
    if (behind === 0) return
    if (Date.now() > deadline) throw new Error(`group ${groupId} still ${behind} messages behind after ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 250))
  }
}

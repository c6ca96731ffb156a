/**
 * Kafka helpers for integration tests and benchmarks. Every test gets its own topics (a unique
 * prefix on the three diffwatch topics) and its own consumer groups, created here and deleted by
 * its cleanup(), so tests never see or delete each other's data on a shared broker.
 *
 * The broker address comes from KAFKA_BROKERS, which test/support/global-setup.ts sets for the
 * integration project (and which a benchmark or a developer sets by hand for any other cluster).
 */
import { randomBytes } from 'node:crypto'
import { Kafka, logLevel, type Admin } from 'kafkajs'
import { topicSet, type TopicSet } from '../../schemas/topics.ts'

export function kafkaBrokers(): string[] {
  const brokers = process.env.KAFKA_BROKERS
  if (!brokers) {
    throw new Error(
      'KAFKA_BROKERS is not set: run integration tests with `npx vitest run --project integration` ' +
        '(its global setup starts or finds a broker), or set KAFKA_BROKERS=host:port',
    )
  }
  return brokers.split(',').map((b) => b.trim()).filter(Boolean)
}

/** A kafkajs client for the test broker; quiet unless asked, since failures surface as errors. */
export function testKafka(clientId = 'diffwatch-test', level: logLevel = logLevel.NOTHING): Kafka {
  return new Kafka({ clientId, brokers: kafkaBrokers(), logLevel: level })
}

/** `name-<8 hex>`: unique enough for topics, groups and databases of one test run. */
export function uniqueName(name: string): string {
  return `${name}-${randomBytes(4).toString('hex')}`
}

export function uniqueGroupId(name: string): string {
  return uniqueName(`g-${name}`)
}

export type TestTopics = {
  readonly topics: TopicSet
  readonly prefix: string
  /** A connected admin client; cleanup() disconnects it. */
  readonly admin: Admin
  /** Deletes the topics and disconnects the admin client. Safe to call more than once. */
  cleanup(): Promise<void>
}

export type TestTopicOptions = {
  /** Partitions of the requests and GPU-samples topics. */
  partitions: number
  /** Partitions of the dead-letter topic (default 1, as in ingest/topics-admin.ts). */
  dlqPartitions?: number
  /** Start of the unique prefix (default "t"): topics are named `<prefix>-<random>-<topic>`. */
  prefix?: string
  /** Former name of `prefix`. */
  name?: string
}

/**
 * Creates the three diffwatch topics under a fresh prefix and returns once every partition has a
 * leader, so a producer's first send cannot fail with LEADER_NOT_AVAILABLE.
 */
export async function createTestTopics(options: TestTopicOptions): Promise<TestTopics> {
  const prefix = `${uniqueName(options.prefix ?? options.name ?? 't')}-`
  const topics = topicSet(prefix)
  const layout = [
    { topic: topics.requests, numPartitions: options.partitions },
    { topic: topics.gpuSamples, numPartitions: options.partitions },
    { topic: topics.deadLetter, numPartitions: options.dlqPartitions ?? 1 },
  ]
  const admin = testKafka('diffwatch-test-admin').admin()
  await admin.connect()
  try {
    const created = await admin.createTopics({
      waitForLeaders: true,
      topics: layout.map((t) => ({ ...t, replicationFactor: 1 })),
    })
    if (!created) throw new Error(`topics with prefix ${prefix} already exist`)
    await waitForLeaders(admin, layout)
  } catch (err) {
    await admin.disconnect()
    throw err
  }
  let cleaned = false
  return {
    topics,
    prefix,
    admin,
    async cleanup() {
      if (cleaned) return
      cleaned = true
      const names = layout.map((t) => t.topic)
      try {
        await admin.deleteTopics({ topics: names, timeout: 30_000 })
        // The controller has committed the deletion; wait until the broker's metadata agrees.
        const deadline = Date.now() + 30_000
        while ((await admin.listTopics()).some((t) => names.includes(t)) && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 100))
        }
      } finally {
        await admin.disconnect()
      }
    },
  }
}

/** kafkajs' waitForLeaders trusts one metadata answer; this checks every partition itself. */
async function waitForLeaders(admin: Admin, layout: { topic: string; numPartitions: number }[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const { topics } = await admin.fetchTopicMetadata({ topics: layout.map((t) => t.topic) })
    const ready = layout.every((want) => {
      const got = topics.find((t) => t.name === want.topic)
      return got?.partitions.length === want.numPartitions && got.partitions.every((p) => p.leader >= 0)
    })
    if (ready) return
    if (Date.now() > deadline) throw new Error(`topics ${layout.map((t) => t.topic).join(', ')} have no leaders after ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** High watermark per partition: how many messages each partition holds. */
export async function topicEndOffsets(admin: Admin, topic: string): Promise<Map<number, number>> {
  const offsets = await admin.fetchTopicOffsets(topic)
  return new Map(offsets.map((o) => [o.partition, Number(o.high)]))
}

/** Committed offset per partition of `groupId` on `topic` (-1 where nothing is committed). */
export async function committedOffsets(admin: Admin, groupId: string, topic: string): Promise<Map<number, number>> {
  const [result] = await admin.fetchOffsets({ groupId, topics: [topic] })
  return new Map((result?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]))
}

/** Waits until `groupId` has committed every partition of `topics` up to its end offset. */
export async function waitForCommitted(admin: Admin, groupId: string, topics: string[], timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    let behind = 0
    for (const topic of topics) {
      const ends = await topicEndOffsets(admin, topic)
      const committed = await committedOffsets(admin, groupId, topic)
      for (const [partition, end] of ends) behind += Math.max(0, end - Math.max(0, committed.get(partition) ?? 0))
    }
    if (behind === 0) return
    if (Date.now() > deadline) throw new Error(`group ${groupId} still ${behind} messages behind after ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 250))
  }
}

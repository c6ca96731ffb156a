/**
 * Integration-test helper: every message of a topic, read back with a fresh consumer group from
 * the beginning until `count` arrived (or the timeout), in partition-offset order per partition.
 */
import type { Kafka } from 'kafkajs'
import { uniqueGroupId } from '../../test/support/kafka.ts'

export interface ReadMessage {
  readonly partition: number
  readonly key: string
  readonly value: Buffer
}

export async function readTopic(kafka: Kafka, topic: string, count: number, timeoutMs = 30_000): Promise<ReadMessage[]> {
  const consumer = kafka.consumer({ groupId: uniqueGroupId('read') })
  const got: ReadMessage[] = []
  await consumer.connect()
  try {
    await consumer.subscribe({ topic, fromBeginning: true })
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${got.length} of ${count} messages from ${topic} in ${timeoutMs} ms`)), timeoutMs)
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          got.push({ partition, key: message.key?.toString() ?? '', value: message.value ?? Buffer.alloc(0) })
          if (got.length >= count) {
            clearTimeout(timer)
            resolve()
          }
        },
      })
    })
    return got
  } finally {
    await consumer.disconnect()
  }
}

/** Messages in a topic, from its offsets (high watermarks), without consuming. */
export async function topicMessageCount(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const offsets = await admin.fetchTopicOffsets(topic)
    return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0)
  } finally {
    await admin.disconnect()
  }
}

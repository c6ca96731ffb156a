import { CompressionTypes, type Producer, type ProducerBatch, type RecordMetadata } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { partitionRecorder, sendBatchChecked } from './checked-send.ts'

const partitionMetadata = [0, 1, 2].map((partitionId) => ({ partitionId, partitionErrorCode: 0, leader: 1, replicas: [1], isr: [1], offlineReplicas: [] }))

/**
 * A producer that behaves as kafkajs 2.2.4 after a leader change: the messages of `skipped`
 * partitions are never sent on the first call, which still resolves with the other partitions'
 * answers. Every call's messages by partition are recorded.
 */
function skippingProducer(recorder: ReturnType<typeof partitionRecorder>, skipped: Set<number>) {
  const partition = recorder.createPartitioner()
  const delivered: string[] = []
  let calls = 0
  const producer = {
    async sendBatch(batch: ProducerBatch): Promise<RecordMetadata[]> {
      calls++
      const answered = new Map<string, RecordMetadata>()
      for (const { topic, messages } of batch.topicMessages ?? []) {
        for (const message of messages) {
          const p = partition({ topic, partitionMetadata, message })
          if (calls === 1 && skipped.has(p)) continue
          delivered.push(String(message.value))
          answered.set(`${topic}:${p}`, { topicName: topic, partition: p, errorCode: 0 })
        }
      }
      return [...answered.values()]
    },
  }
  return { producer: producer as unknown as Producer, delivered, calls: () => calls }
}

describe('sendBatchChecked', () => {
  it('sends again the messages of a partition kafkajs skipped after a leader change (32 of 4,250 were lost)', async () => {
    const recorder = partitionRecorder()
    const fake = skippingProducer(recorder, new Set([1]))
    const messages = Array.from({ length: 60 }, (_, i) => ({ key: `worker-${i % 7}`, value: `event-${i}` }))
    await sendBatchChecked(fake.producer, recorder, [{ topic: 't', messages }], CompressionTypes.None)
    expect(fake.calls()).toBe(2)
    expect([...fake.delivered].sort()).toEqual(messages.map((m) => m.value).sort())
  })

  it('fails retryable instead of resolving when a partition is never acknowledged', async () => {
    const recorder = partitionRecorder()
    const partition = recorder.createPartitioner()
    const producer = {
      async sendBatch(batch: ProducerBatch): Promise<RecordMetadata[]> {
        for (const { topic, messages } of batch.topicMessages ?? []) for (const message of messages) partition({ topic, partitionMetadata, message })
        return []
      },
    } as unknown as Producer
    await expect(sendBatchChecked(producer, recorder, [{ topic: 't', messages: [{ key: 'a', value: 'x' }] }], CompressionTypes.None)).rejects.toMatchObject({ code: 'ING_KAFKA_UNAVAILABLE', retryable: true })
  })
})

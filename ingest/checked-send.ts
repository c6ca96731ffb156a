/**
 * `sendBatch` that cannot silently skip a partition. kafkajs 2.2.4's sendBatch, when a retry
 * follows a leader change, sends only to brokers that have not answered yet: the messages of a
 * partition whose new leader already answered for other partitions are never sent, and the call
 * still resolves (found by test/chaos kafka-broker-restart: 32 of 4,250 SDK events lost while a
 * node of a 3-node cluster stopped). Here the partition kafkajs chose for every message is
 * recorded (through the producer's partitioner), and whatever went to a partition without an
 * acknowledgement in the answer is sent again, up to MAX_SEND_ROUNDS times before it fails.
 *
 * With an idempotent producer a re-sent message that did land keeps its sequence number, so the
 * broker drops the copy; without one, a copy is only possible when kafkajs' own retry would have
 * made it too.
 */
import { Partitioners, type CompressionTypes, type ICustomPartitioner, type Message, type Producer, type TopicMessages } from 'kafkajs'
import { DiffwatchError } from '../schemas/errors.ts'

const MAX_SEND_ROUNDS = 5

export type PartitionRecorder = {
  /** Pass as the producer's `createPartitioner`: kafkajs' default partitioner, recording. */
  readonly createPartitioner: ICustomPartitioner
  partitionOf(message: Message): number | undefined
}

export function partitionRecorder(): PartitionRecorder {
  const chosen = new WeakMap<Message, number>()
  return {
    createPartitioner: () => {
      const choose = Partitioners.DefaultPartitioner()
      return (args) => {
        const partition = choose(args)
        chosen.set(args.message, partition)
        return partition
      }
    },
    partitionOf: (m) => chosen.get(m),
  }
}

/** Resolves once every message is in an acknowledged partition; throws ING_KAFKA_UNAVAILABLE otherwise. */
export async function sendBatchChecked(producer: Producer, recorder: PartitionRecorder, topicMessages: TopicMessages[], compression: CompressionTypes): Promise<void> {
  let pending = topicMessages.filter((t) => t.messages.length > 0)
  for (let round = 1; pending.length > 0; round++) {
    if (round > MAX_SEND_ROUNDS) {
      const left = pending.reduce((n, t) => n + t.messages.length, 0)
      throw new DiffwatchError('ING_KAFKA_UNAVAILABLE', `${left} messages still in unacknowledged partitions after ${MAX_SEND_ROUNDS} sends`, { retryable: true })
    }
    const answer = await producer.sendBatch({ acks: -1, compression, topicMessages: pending })
    const acked = new Set(answer.filter((r) => r.errorCode === 0).map((r) => `${r.topicName}:${r.partition}`))
    pending = pending
      .map(({ topic, messages }) => ({ topic, messages: messages.filter((m) => !acked.has(`${topic}:${recorder.partitionOf(m)}`)) }))
      .filter((t) => t.messages.length > 0)
  }
}

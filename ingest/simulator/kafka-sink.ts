/**
 * The simulator's only contact with kafkajs: a sink that takes keyed messages per topic and
 * resolves once every broker has acknowledged them (acks = -1). Replace this file to change
 * the client; tests pass their own EventSink.
 */
import { CompressionTypes, Kafka, logLevel, type Producer } from 'kafkajs'
import { DiffwatchError, errorMessage } from '../../schemas/errors.ts'
import { partitionRecorder, sendBatchChecked } from '../checked-send.ts'
import type { TopicSet } from '../../schemas/topics.ts'
import { ensureTopics } from '../topics-admin.ts'

export interface OutgoingMessage {
  readonly key: string
  readonly value: Buffer
}

export interface TopicBatch {
  readonly topic: string
  readonly messages: OutgoingMessage[]
}

export interface EventSink {
  /** Resolves when all messages are acknowledged by all in-sync replicas. */
  send(batches: readonly TopicBatch[]): Promise<void>
  close(): Promise<void>
}

export type Compression = 'none' | 'gzip'

export interface KafkaSinkOptions {
  readonly brokers: readonly string[]
  readonly clientId: string
  readonly compression: Compression
  /** Creates missing topics with this many partitions first; omitted: topics must exist. */
  readonly createTopics?: { readonly topics: TopicSet; readonly partitions: number }
}

function kafkaError(err: unknown, what: string): DiffwatchError {
  const e = err as { name?: string; retriable?: boolean }
  const retryable = e.retriable === true || e.name === 'KafkaJSConnectionError' || e.name === 'KafkaJSNumberOfRetriesExceeded'
  return new DiffwatchError(retryable ? 'ING_KAFKA_UNAVAILABLE' : 'ING_KAFKA_ERROR', `${what}: ${errorMessage(err)}`, { retryable, cause: err })
}

export async function connectKafkaSink(options: KafkaSinkOptions): Promise<EventSink> {
  const kafka = new Kafka({
    clientId: options.clientId,
    brokers: [...options.brokers],
    logLevel: logLevel.ERROR,
    retry: { initialRetryTime: 200, retries: 8 },
  })
  if (options.createTopics !== undefined) {
    const admin = kafka.admin()
    try {
      await admin.connect()
      await ensureTopics(admin, options.createTopics.topics, { partitions: options.createTopics.partitions })
    } catch (err) {
      throw kafkaError(err, `cannot create topics on ${options.brokers.join(',')}`)
    } finally {
      await admin.disconnect().catch(() => undefined)
    }
  }
  const recorder = partitionRecorder()
  const producer: Producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: recorder.createPartitioner })
  try {
    await producer.connect()
  } catch (err) {
    throw kafkaError(err, `cannot connect to Kafka at ${options.brokers.join(',')}`)
  }
  const compression = options.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None
  return {
    async send(batches) {
      try {
        // Fresh message objects: the recorder keys on them, and a caller may send one twice.
        const topicMessages = batches.map((b) => ({ topic: b.topic, messages: b.messages.map((m) => ({ key: m.key, value: m.value })) }))
        await sendBatchChecked(producer, recorder, topicMessages, compression)
      } catch (err) {
        if (err instanceof DiffwatchError) throw err
        throw kafkaError(err, 'produce failed')
      }
    },
    async close() {
      await producer.disconnect()
    },
  }
}

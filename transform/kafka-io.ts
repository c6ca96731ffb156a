/**
 * The transformer's thin layer over kafkajs: client construction, logging bridge, error
 * classification and the few calls the flush protocol needs. Nothing else in transform/ imports
 * kafkajs, so the client can be replaced without touching the protocol.
 */
import { Kafka, logLevel, type Admin, type Consumer, type Producer, type IHeaders, CompressionTypes } from 'kafkajs'
import { DiffwatchError } from '../schemas/errors.ts'
import { DLQ_HEADERS } from '../schemas/topics.ts'
import type { ChunkPlan } from './chunk-planner.ts'
import { encodePlan, decodePlan } from './chunk-planner.ts'
import type { DeadLetter } from './flush-protocol.ts'
import type { Logger } from './logger.ts'

/** Group-membership errors: this member no longer owns its partitions; retrying cannot help. */
const FENCED = new Set(['ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'REBALANCE_IN_PROGRESS', 'FENCED_INSTANCE_ID'])

export function classifyKafkaError(err: unknown): DiffwatchError {
  if (err instanceof DiffwatchError) return err
  const e = err as { type?: string; name?: string; retriable?: boolean; message?: string }
  if (e.type && FENCED.has(e.type)) return new DiffwatchError('TRF_FENCED', `partition ownership lost (${e.type})`, { cause: err })
  const retryable = e.retriable === true || e.name === 'KafkaJSConnectionError' || e.name === 'KafkaJSNumberOfRetriesExceeded' || e.name === 'KafkaJSRequestTimeoutError'
  return new DiffwatchError(retryable ? 'TRF_KAFKA_UNAVAILABLE' : 'TRF_KAFKA_ERROR', `Kafka: ${e.type ?? e.name ?? 'error'}: ${e.message ?? String(err)}`, { retryable, cause: err })
}

export function createKafka(brokers: string[], clientId: string, log: Logger): Kafka {
  return new Kafka({
    clientId,
    brokers,
    logLevel: logLevel.WARN,
    logCreator: () => ({ namespace, level, log: entry }) => {
      const { message, ...extra } = entry
      const text = namespace ? `kafkajs ${namespace}: ${message}` : `kafkajs: ${message}`
      if (level <= logLevel.ERROR) log.error(text, extra)
      else log.warn(text, extra)
    },
    retry: { initialRetryTime: 200, retries: 8 },
  })
}

export type CommittedPosition = { offset: number | null; plan: ChunkPlan | null }

/** Committed offset and recorded chunk plan of every partition of `topic` for `groupId`. */
export async function fetchCommitted(admin: Admin, groupId: string, topic: string): Promise<Map<number, CommittedPosition>> {
  const res = await admin.fetchOffsets({ groupId, topics: [topic] })
  const out = new Map<number, CommittedPosition>()
  for (const t of res) {
    for (const p of t.partitions) {
      const offset = Number(p.offset)
      out.set(p.partition, { offset: offset >= 0 ? offset : null, plan: decodePlan(p.metadata) })
    }
  }
  return out
}

export async function recordPlan(consumer: Consumer, topic: string, partition: number, plan: ChunkPlan): Promise<void> {
  await consumer.commitOffsets([{ topic, partition, offset: String(plan.start), metadata: encodePlan(plan) }])
}

export async function commitNext(consumer: Consumer, topic: string, partition: number, nextOffset: number): Promise<void> {
  await consumer.commitOffsets([{ topic, partition, offset: String(nextOffset) }])
}

export async function sendDeadLetters(producer: Producer, dlqTopic: string, records: DeadLetter[]): Promise<void> {
  await producer.send({
    topic: dlqTopic,
    acks: -1,
    compression: CompressionTypes.None,
    messages: records.map((r) => {
      const headers: IHeaders = {
        [DLQ_HEADERS.reason]: r.reason,
        [DLQ_HEADERS.code]: r.code,
        [DLQ_HEADERS.sourceTopic]: r.sourceTopic,
        [DLQ_HEADERS.sourcePartition]: String(r.sourcePartition),
        [DLQ_HEADERS.sourceOffset]: String(r.sourceOffset),
      }
      return { key: r.key, value: r.value, headers }
    }),
  })
}

/** Messages not yet committed by `groupId`, keyed `topic:partition` (end offset minus committed). */
export async function partitionLag(admin: Admin, groupId: string, topics: string[]): Promise<Map<string, number>> {
  const lag = new Map<string, number>()
  for (const topic of topics) {
    const [ends, fetched] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })])
    const committed = new Map<number, number>()
    for (const t of fetched) for (const p of t.partitions) committed.set(p.partition, Number(p.offset))
    for (const e of ends) {
      const c = committed.get(e.partition) ?? -1
      // nothing committed yet: everything from the low watermark on is still to do
      lag.set(`${topic}:${e.partition}`, Math.max(0, Number(e.high) - (c >= 0 ? c : Number(e.low))))
    }
  }
  return lag
}

/** Messages not yet committed by `groupId`, per topic (end offset minus committed offset). */
export async function consumerLag(admin: Admin, groupId: string, topics: string[]): Promise<Map<string, number>> {
  const lag = new Map<string, number>()
  for (const topic of topics) {
    const ends = await admin.fetchTopicOffsets(topic)
    const committed = new Map<number, number>()
    for (const t of await admin.fetchOffsets({ groupId, topics: [topic] })) {
      for (const p of t.partitions) committed.set(p.partition, Math.max(0, Number(p.offset)))
    }
    let behind = 0
    for (const e of ends) behind += Math.max(0, Number(e.high) - (committed.get(e.partition) ?? Number(e.low)))
    lag.set(topic, behind)
  }
  return lag
}

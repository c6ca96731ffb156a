/**
 * The SDK's and the gateway's only contact with kafkajs: a transport that sends keyed messages
 * and resolves only once the broker acknowledged all of them (acks = -1, idempotent producer).
 * It connects lazily on the first send and reconnects by itself, so a worker can start while
 * Kafka is down. Failures throw a DiffwatchError: ING_KAFKA_UNAVAILABLE (retryable: connection,
 * timeout, leader election) or ING_KAFKA_ERROR (the broker refused the messages).
 *
 * Exactly once into Kafka across retries. A send that failed may still have landed (the broker
 * appended, the answer was lost). The broker drops such a copy only when it comes again from the
 * same producer id with the same sequence numbers, that is, the same messages to the same
 * partition in the same request shape. So:
 * - every partition is sent in its own request and its outcome is known on its own (kafkajs'
 *   sendBatch throws away the answers of the partitions that succeeded when another fails, and
 *   a retry of those would append them twice); partitions are chosen here, by the key, with
 *   Kafka's default partitioner, and pinned for the retries;
 * - a send of the same `records` array after a failure re-sends only the partitions that were not
 *   acknowledged, with the same producer: what landed is dropped by the broker;
 * - any other send after a failure first replaces the producer (a new id): kafkajs rolled its
 *   sequence numbers back, and different messages under the old numbers could be taken for the
 *   copy of what landed and dropped, i.e. lost. The abandoned records may then be stored twice
 *   when their sender sends them again (at least once, never lost);
 * - sends run one at a time, for the same reason.
 * The SDK retries its failed batch as that same array; the gateway's clients re-post.
 */
import { CompressionTypes, Kafka, logLevel, Partitioners, type Admin, type ISocketFactory, type Message, type PartitionMetadata, type Producer } from 'kafkajs'
import { DiffwatchError, errorMessage } from '../../schemas/errors.ts'

export interface OutgoingRecord {
  readonly topic: string
  readonly key: string
  readonly value: Buffer
}

export interface Transport {
  /**
   * Resolves when every record is acknowledged; throws a DiffwatchError otherwise. After a
   * failure, passing the same array again retries it without duplicates.
   */
  send(records: readonly OutgoingRecord[]): Promise<void>
  close(): Promise<void>
}

export type Compression = 'none' | 'gzip'

export interface KafkaTransportOptions {
  readonly brokers: readonly string[]
  readonly clientId: string
  readonly compression: Compression
  /** Milliseconds before a connect or produce request counts as failed. Default 5000. */
  readonly requestTimeoutMs?: number
  /** Replaces kafkajs' sockets (tests that lose the broker's answers). */
  readonly socketFactory?: ISocketFactory
}

/** The messages of one send that go to one partition: one produce request, one outcome. */
interface PartitionBatch {
  readonly topic: string
  readonly partition: number
  readonly messages: Message[]
}

/** How long a topic's partition list is trusted before it is asked again (partitions can be added). */
const PARTITIONS_MAX_AGE_MS = 60_000

/** Kafka error codes after which an idempotent producer's id or sequence is unusable. */
const PRODUCER_STATE_ERRORS = new Set(['OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID', 'INVALID_PRODUCER_EPOCH', 'INVALID_PRODUCER_ID_MAPPING'])

export function createKafkaTransport(options: KafkaTransportOptions): Transport {
  const timeout = options.requestTimeoutMs ?? 5000
  const kafka = new Kafka({
    clientId: options.clientId,
    brokers: [...options.brokers],
    logLevel: logLevel.NOTHING,
    connectionTimeout: timeout,
    requestTimeout: timeout,
    // Few client-side retries: the caller owns retry with backoff and must learn of an outage soon.
    retry: { initialRetryTime: 100, retries: 2 },
    ...(options.socketFactory === undefined ? {} : { socketFactory: options.socketFactory }),
  })
  const compression = options.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None
  const choosePartition = Partitioners.DefaultPartitioner()
  const partitionsOf = new Map<string, { partitions: PartitionMetadata[]; at: number }>()
  let clients: { producer: Producer; admin: Admin } | null = null
  /** The partitions of the last send that failed, kept for a retry of the same records. */
  let unsettled: { records: readonly OutgoingRecord[]; batches: PartitionBatch[] } | null = null
  let lane: Promise<unknown> = Promise.resolve()

  const connected = async (): Promise<{ producer: Producer; admin: Admin }> => {
    if (clients !== null) return clients
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false })
    const admin = kafka.admin()
    try {
      await producer.connect()
      await admin.connect()
    } catch (err) {
      await Promise.all([producer.disconnect().catch(() => undefined), admin.disconnect().catch(() => undefined)])
      throw err
    }
    clients = { producer, admin }
    return clients
  }

  const dropClients = async (): Promise<void> => {
    const stale = clients
    clients = null
    if (stale !== null) await Promise.all([stale.producer.disconnect().catch(() => undefined), stale.admin.disconnect().catch(() => undefined)])
  }

  const partitionMetadata = async (admin: Admin, topic: string): Promise<PartitionMetadata[]> => {
    const known = partitionsOf.get(topic)
    if (known !== undefined && Date.now() - known.at < PARTITIONS_MAX_AGE_MS) return known.partitions
    const md = await admin.fetchTopicMetadata({ topics: [topic] })
    const partitions = md.topics[0]?.partitions ?? []
    if (partitions.length === 0) throw new DiffwatchError('ING_KAFKA_ERROR', `topic ${topic} has no partitions`)
    partitionsOf.set(topic, { partitions, at: Date.now() })
    return partitions
  }

  const split = async (admin: Admin, records: readonly OutgoingRecord[]): Promise<PartitionBatch[]> => {
    const batches = new Map<string, PartitionBatch>()
    for (const r of records) {
      const message: Message = { key: r.key, value: r.value }
      // Keyed: murmur2(key) modulo the partition count, as Kafka's own clients choose.
      const partition = choosePartition({ topic: r.topic, partitionMetadata: await partitionMetadata(admin, r.topic), message })
      const id = `${r.topic}\u0000${partition}`
      let batch = batches.get(id)
      if (batch === undefined) batches.set(id, (batch = { topic: r.topic, partition, messages: [] }))
      batch.messages.push({ ...message, partition })
    }
    return [...batches.values()]
  }

  const sendPartition = async (producer: Producer, b: PartitionBatch): Promise<void> => {
    const answer = await producer.send({ topic: b.topic, acks: -1, compression, messages: b.messages })
    if (!answer.some((r) => r.topicName === b.topic && r.partition === b.partition && r.errorCode === 0))
      throw new DiffwatchError('ING_KAFKA_UNAVAILABLE', `no acknowledgement for ${b.topic} partition ${b.partition}`, { retryable: true })
  }

  const sendNow = async (records: readonly OutgoingRecord[]): Promise<void> => {
    try {
      if (unsettled !== null && unsettled.records !== records) {
        unsettled = null
        await dropClients()
      }
      const { producer, admin } = await connected()
      const batches = unsettled?.batches ?? (await split(admin, records))
      const outcomes = await Promise.allSettled(batches.map((b) => sendPartition(producer, b)))
      const failed = batches.filter((_, i) => outcomes[i]?.status === 'rejected')
      if (failed.length === 0) {
        unsettled = null
        return
      }
      unsettled = { records, batches: failed }
      const first = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected')
      throw first?.reason
    } catch (err) {
      if (producerStateLost(err)) await dropClients() // the retry then runs under a new id
      throw kafkaError(err, options.brokers)
    }
  }

  return {
    send(records) {
      if (records.length === 0) return Promise.resolve()
      const run = lane.then(() => sendNow(records))
      lane = run.catch(() => undefined)
      return run
    },
    async close() {
      await lane
      unsettled = null
      await dropClients()
    },
  }
}

function producerStateLost(err: unknown): boolean {
  for (let e = err as { type?: string; cause?: unknown; originalError?: unknown } | undefined; e !== undefined && e !== null; ) {
    if (typeof e.type === 'string' && PRODUCER_STATE_ERRORS.has(e.type)) return true
    e = (e.originalError ?? e.cause) as typeof e | undefined
  }
  return false
}

function kafkaError(err: unknown, brokers: readonly string[]): DiffwatchError {
  if (err instanceof DiffwatchError) return err
  const e = err as { name?: string; retriable?: boolean; type?: string }
  const unavailable =
    e.retriable === true ||
    ['KafkaJSConnectionError', 'KafkaJSNumberOfRetriesExceeded', 'KafkaJSRequestTimeoutError', 'KafkaJSNonRetriableError'].includes(e.name ?? '')
  return new DiffwatchError(unavailable ? 'ING_KAFKA_UNAVAILABLE' : 'ING_KAFKA_ERROR', `produce to ${brokers.join(',')} failed: ${errorMessage(err)}`, {
    retryable: unavailable,
    cause: err,
  })
}

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
 * - a failed send is parked with the producer that sent it, and that producer is used for
 *   nothing else: kafkajs rolled its sequence numbers back, and different messages under the old
 *   numbers could be taken for the copy of what landed and dropped, i.e. lost. Other sends get
 *   a new producer (a new id);
 * - a later send of the same records (same topics, keys and value bytes, in order: the SDK's
 *   retried batch, a gateway client re-posting the same body) is recognised by its digest and
 *   re-sends only the partitions that were not acknowledged, under the parked producer: what
 *   landed is dropped by the broker. At most MAX_PARKED sends stay parked, for PARKED_TTL_MS;
 *   a send re-posted after that may be stored twice (at least once, never lost);
 * - sends run one at a time.
 */
import { createHash } from 'node:crypto'
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

type Clients = { producer: Producer; admin: Admin }

/** The messages of one send that go to one partition: one produce request, one outcome. */
interface PartitionBatch {
  readonly topic: string
  readonly partition: number
  readonly messages: Message[]
}

/** Failed sends kept, each with its producer, for a resend of the same records. */
const MAX_PARKED = 8
const PARKED_TTL_MS = 5 * 60_000

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
  let clients: Clients | null = null
  /** Failed sends: the unacknowledged partitions, and the producer whose sequence numbers they hold. */
  let parked: { digest: string; clients: Clients; batches: PartitionBatch[]; at: number }[] = []
  let lane: Promise<unknown> = Promise.resolve()

  const connected = async (): Promise<Clients> => {
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

  const disconnect = async (c: Clients): Promise<void> => {
    await Promise.all([c.producer.disconnect().catch(() => undefined), c.admin.disconnect().catch(() => undefined)])
  }

  const unpark = async (keep: (p: (typeof parked)[number]) => boolean): Promise<void> => {
    const gone = parked.filter((p) => !keep(p))
    parked = parked.filter(keep)
    for (const p of gone) if (p.clients !== clients) await disconnect(p.clients)
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
    // One metadata lookup per topic, not an await per record.
    const metadata = new Map<string, PartitionMetadata[]>()
    for (const topic of new Set(records.map((r) => r.topic))) metadata.set(topic, await partitionMetadata(admin, topic))
    for (const r of records) {
      const message: Message = { key: r.key, value: r.value }
      // Keyed: murmur2(key) modulo the partition count, as Kafka's own clients choose.
      const partition = choosePartition({ topic: r.topic, partitionMetadata: metadata.get(r.topic)!, message })
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
    const now = Date.now()
    await unpark((p) => now - p.at < PARKED_TTL_MS)
    // Digests only while something is parked (or to park): the usual send pays nothing.
    let digest = parked.length > 0 ? digestOf(records) : null
    const resend = digest === null ? undefined : parked.find((p) => p.digest === digest)
    let using: Clients | null = null
    try {
      let batches: PartitionBatch[]
      if (resend !== undefined) {
        parked = parked.filter((p) => p !== resend) // used now, parked again if it fails again
        using = resend.clients
        batches = resend.batches
      } else {
        using = await connected()
        batches = await split(using.admin, records)
      }
      const producer = using.producer
      const outcomes = await Promise.allSettled(batches.map((b) => sendPartition(producer, b)))
      const failed = batches.filter((_, i) => outcomes[i]?.status === 'rejected')
      if (failed.length === 0) {
        if (using !== clients) await disconnect(using) // a parked producer, done with
        return
      }
      const first = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected')
      if (producerStateLost(first?.reason)) {
        // Its id or sequence is gone: the resend runs under a new id (a copy is possible).
        if (using === clients) clients = null
        await disconnect(using)
      } else {
        digest ??= digestOf(records)
        parked.push({ digest, clients: using, batches: failed, at: now })
        if (using === clients) clients = null // the next other send gets a new producer
        const oldest = parked[0]
        if (parked.length > MAX_PARKED) await unpark((p) => p !== oldest)
      }
      throw first?.reason
    } catch (err) {
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
      await unpark(() => false)
      if (clients !== null) await disconnect(clients)
      clients = null
    },
  }
}

/** Identity of a send's content: topics, keys and value bytes, in order. */
function digestOf(records: readonly OutgoingRecord[]): string {
  const h = createHash('sha256')
  for (const r of records) {
    h.update(`${r.topic}\u0000${r.key}\u0000${r.value.length}\u0000`)
    h.update(r.value)
  }
  return h.digest('hex')
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

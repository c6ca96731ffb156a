/**
 * The SDK's and the gateway's only contact with kafkajs: a transport that sends keyed messages
 * and resolves only once the broker acknowledged all of them (acks = -1, idempotent producer, so
 * a kafkajs-internal retry cannot duplicate a message). It connects lazily on the first send and
 * reconnects after a failure, so a worker can start while Kafka is down. Failures throw a
 * DiffwatchError: ING_KAFKA_UNAVAILABLE (retryable: connection, timeout, leader election) or
 * ING_KAFKA_ERROR (the broker refused the messages).
 *
 * Every partition of a send must be acknowledged (../checked-send.ts): kafkajs can skip one.
 */
import { CompressionTypes, Kafka, logLevel, type Message, type Producer } from 'kafkajs'
import { DiffwatchError, errorMessage } from '../../schemas/errors.ts'
import { partitionRecorder, sendBatchChecked } from '../checked-send.ts'

export interface OutgoingRecord {
  readonly topic: string
  readonly key: string
  readonly value: Buffer
}

export interface Transport {
  /** Resolves when every record is acknowledged; throws a DiffwatchError otherwise. */
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
}

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
  })
  const compression = options.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None
  const recorder = partitionRecorder()
  let producer: Producer | null = null
  let connecting: Promise<Producer> | null = null

  const connected = (): Promise<Producer> => {
    if (producer !== null) return Promise.resolve(producer)
    connecting ??= (async () => {
      const p = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: recorder.createPartitioner })
      try {
        await p.connect()
      } catch (err) {
        await p.disconnect().catch(() => undefined)
        throw err
      }
      producer = p
      return p
    })().finally(() => {
      connecting = null
    })
    return connecting
  }

  return {
    async send(records) {
      if (records.length === 0) return
      const byTopic = new Map<string, Message[]>()
      for (const r of records) {
        const list = byTopic.get(r.topic) ?? []
        list.push({ key: r.key, value: r.value })
        byTopic.set(r.topic, list)
      }
      try {
        const p = await connected()
        await sendBatchChecked(p, recorder, [...byTopic].map(([topic, messages]) => ({ topic, messages })), compression)
      } catch (err) {
        const stale = producer
        producer = null // reconnect on the next send: a broken connection is not reused
        await stale?.disconnect().catch(() => undefined)
        throw kafkaError(err, options.brokers)
      }
    },
    async close() {
      const p = producer ?? (connecting === null ? null : await connecting.catch(() => null))
      producer = null
      await p?.disconnect().catch(() => undefined)
    },
  }
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

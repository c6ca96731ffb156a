/**
 * The worker SDK: `createTelemetry(options)` for diffusion workers written in TypeScript.
 *
 * Guarantees:
 * - Recording never blocks and never throws; the buffer is bounded (`bufferSize` records, counting
 *   those waiting to be encoded and those in flight); a record that finds it full (Kafka slow or
 *   down) is counted as `dropped`, an invalid event as `rejected` (and passed to onError).
 * - Events finished through a RequestTimer (startRequest ... complete/fail) are validated and
 *   Avro-encoded in a batch right after the caller's turn of the event loop (setImmediate), not
 *   inside complete(): the request path pays for building the event only. Such an event is
 *   owned by the SDK. Events given to recordRequest/recordGpuSample are encoded at once (the
 *   caller keeps its object), and their return value also reports rejection.
 * - A background loop sends batches of up to `batchSize` records after `lingerMs` (at once when a
 *   batch is full), compressed, acks = -1, through an idempotent producer. A failed batch is
 *   retried as it is (the same records, nothing added) with exponential backoff before anything
 *   newer: order is kept, and the broker recognises a copy of what had landed (kafka-transport).
 * - `flush()` resolves when everything buffered was acknowledged (or its timeout passed);
 *   `close()` stops intake, flushes, counts what is left as dropped, and closes the client.
 * - Counters: sent + dropped + rejected + buffered (incl. in flight) = records offered.
 */
import { createCodec, type Codec } from '../../schemas/codec.ts'
import { errorMessage } from '../../schemas/errors.ts'
import type { GpuSampleInput, RequestEventInput } from '../../schemas/generated/types.ts'
import { topicSet, type TopicSet } from '../../schemas/topics.ts'
import { createKafkaTransport, type Compression, type OutgoingRecord, type Transport } from './kafka-transport.ts'
import { createRequestTimer, type RequestStart, type RequestTimer } from './request-timer.ts'
import { SendBuffer } from './send-buffer.ts'

export interface TelemetryOptions {
  readonly brokers: readonly string[]
  /** Prefix of the diffwatch topic names (tests, multi-tenant clusters). Default ''. */
  readonly topicPrefix?: string
  readonly clientId?: string
  /** Records held while Kafka is slow or down; beyond it new records are dropped. Default 10000. */
  readonly bufferSize?: number
  /** Most records per produce request. Default 500. */
  readonly batchSize?: number
  /** How long a partial batch waits for company. Default 50 ms. */
  readonly lingerMs?: number
  /** Default 'gzip'. */
  readonly compression?: Compression
  /** First retry delay after a failed send, doubled up to maxBackoffMs. Defaults 100 / 5000 ms. */
  readonly initialBackoffMs?: number
  readonly maxBackoffMs?: number
  /** Told about every failed send and rejected event (for the worker's log). Default: nothing. */
  readonly onError?: (err: unknown) => void
  /** Replaces the Kafka transport (tests, benchmarks). */
  readonly transport?: Transport
  readonly codec?: Codec
}

export interface TelemetryCounters {
  readonly sent: number
  readonly dropped: number
  readonly rejected: number
  readonly buffered: number
  readonly errors: number
}

export interface Telemetry {
  startRequest(start: RequestStart): RequestTimer
  /** Records a complete request event; false when rejected or dropped. */
  recordRequest(event: RequestEventInput): boolean
  recordGpuSample(sample: GpuSampleInput): boolean
  counters(): TelemetryCounters
  /** True when everything was acknowledged before the timeout (default 30 s). */
  flush(timeoutMs?: number): Promise<boolean>
  close(timeoutMs?: number): Promise<TelemetryCounters>
}

export function createTelemetry(options: TelemetryOptions): Telemetry {
  const codec = options.codec ?? createCodec()
  const topics: TopicSet = topicSet(options.topicPrefix ?? '')
  const transport =
    options.transport ?? createKafkaTransport({ brokers: options.brokers, clientId: options.clientId ?? 'diffwatch-sdk', compression: options.compression ?? 'gzip' })
  const buffer = new SendBuffer(options.bufferSize ?? 10_000)
  const batchSize = options.batchSize ?? 500
  const lingerMs = options.lingerMs ?? 50
  const initialBackoff = options.initialBackoffMs ?? 100
  const maxBackoff = options.maxBackoffMs ?? 5000
  const report = options.onError ?? (() => undefined)
  let sent = 0
  let rejected = 0
  let errors = 0
  let closed = false
  /** After close gave up on the buffer: nothing is sent or retried any more. */
  let stopped = false
  let timer: NodeJS.Timeout | null = null
  let sending = false
  let backoff = 0
  /** The batch whose send failed: sent again as it is before anything else is taken. */
  let retrying: OutgoingRecord[] | null = null
  let urgent = false
  const waiters = new Set<() => void>()
  /** Timer events waiting for the deferred encode; they count against the buffer's capacity. */
  let pending: RequestEventInput[] = []
  let encodeScheduled = false

  const settle = (): void => {
    if (buffer.size === 0 && buffer.inFlight === 0) for (const w of waiters) w()
  }

  const schedule = (): void => {
    if (stopped || sending || timer !== null || (buffer.size === 0 && retrying === null)) return
    const delay = backoff > 0 ? backoff : urgent || buffer.size >= batchSize ? 0 : lingerMs
    timer = setTimeout(() => {
      timer = null
      void sendOne()
    }, delay)
    // A waiting batch must not keep a worker process alive; flush/close await it explicitly.
    if (waiters.size === 0) timer.unref()
  }

  const sendOne = async (): Promise<void> => {
    sending = true
    const batch = retrying ?? buffer.take(batchSize)
    retrying = null
    try {
      await transport.send(batch)
      buffer.acknowledge(batch)
      sent += batch.length
      backoff = 0
    } catch (err) {
      errors++
      if (stopped) {
        buffer.acknowledge(batch)
        buffer.dropped += batch.length
      } else retrying = batch
      backoff = backoff === 0 ? initialBackoff : Math.min(maxBackoff, backoff * 2)
      report(err)
    } finally {
      sending = false
    }
    settle()
    schedule()
  }

  const offer = (record: OutgoingRecord): boolean => {
    const accepted = buffer.push(record)
    if (accepted && !sending && timer === null) schedule()
    else if (accepted && buffer.size >= batchSize && timer !== null && backoff === 0) {
      clearTimeout(timer) // a full batch need not wait out the linger
      timer = null
      schedule()
    }
    return accepted
  }

  const encodeAndOffer = (encode: () => Buffer, topic: string, key: string): boolean => {
    if (closed) {
      buffer.dropped++
      return false
    }
    let value: Buffer
    try {
      value = encode()
    } catch (err) {
      rejected++
      report(err)
      return false
    }
    return offer({ topic, key, value })
  }

  const recordRequest = (event: RequestEventInput): boolean =>
    encodeAndOffer(() => codec.encodeRequestEvent(event), topics.requests, String(event.worker_id))

  const encodePending = (): void => {
    encodeScheduled = false
    const events = pending
    pending = []
    for (const event of events) recordRequest(event)
  }

  /** The timer's submit: admission now (bounded, counted), validation and encoding deferred. */
  const submitTimed = (event: RequestEventInput): boolean => {
    if (closed || buffer.size + buffer.inFlight + pending.length >= buffer.capacity) {
      buffer.dropped++
      return false
    }
    pending.push(event)
    if (!encodeScheduled) {
      encodeScheduled = true
      setImmediate(encodePending)
    }
    return true
  }

  const counters = (): TelemetryCounters => ({ sent, dropped: buffer.dropped, rejected, buffered: buffer.size + buffer.inFlight + pending.length, errors })

  const flush = (timeoutMs = 30_000): Promise<boolean> =>
    new Promise((resolve) => {
      if (pending.length > 0) encodePending()
      if (buffer.size === 0 && buffer.inFlight === 0) return resolve(true)
      const done = (ok: boolean): void => {
        waiters.delete(onSettled)
        clearTimeout(deadline)
        urgent = waiters.size > 0
        resolve(ok)
      }
      const onSettled = (): void => done(true)
      const deadline = setTimeout(() => done(false), timeoutMs)
      waiters.add(onSettled)
      urgent = true
      if (timer !== null && backoff === 0) {
        clearTimeout(timer)
        timer = null
      }
      timer?.ref()
      schedule()
    })

  return {
    startRequest: (start) => createRequestTimer(start, submitTimed),
    recordRequest,
    recordGpuSample: (sample) => encodeAndOffer(() => codec.encodeGpuSample(sample), topics.gpuSamples, String(sample.gpu_uuid)),
    counters,
    flush,
    async close(timeoutMs = 10_000) {
      if (pending.length > 0) encodePending() // admitted before close: not dropped
      closed = true
      await flush(timeoutMs)
      stopped = true
      if (timer !== null) clearTimeout(timer)
      timer = null
      buffer.discardAll()
      if (retrying !== null) {
        buffer.acknowledge(retrying)
        buffer.dropped += retrying.length
        retrying = null
      }
      try {
        await transport.close()
      } catch (err) {
        report(new Error(`closing the Kafka client failed: ${errorMessage(err)}`))
      }
      return counters()
    },
  }
}

/**
 * An in-memory Transport for SDK and gateway unit tests: records what it was given, and can be
 * switched down (sends fail as Kafka being unreachable would) or made to wait for a release.
 */
import { DiffwatchError } from '../../schemas/errors.ts'
import type { OutgoingRecord, Transport } from './kafka-transport.ts'

export class FakeTransport implements Transport {
  readonly delivered: OutgoingRecord[] = []
  /** Sizes of the batches that were acknowledged, in order. */
  readonly batches: number[] = []
  attempts = 0
  /** Every array handed to send, acknowledged or not, in order. */
  readonly given: (readonly OutgoingRecord[])[] = []
  up = true
  closed = false
  /** Fail this many upcoming sends, then behave as `up` says. */
  failNext = 0

  async send(records: readonly OutgoingRecord[]): Promise<void> {
    this.attempts++
    this.given.push(records)
    await Promise.resolve()
    if (!this.up || this.failNext > 0) {
      if (this.failNext > 0) this.failNext--
      throw new DiffwatchError('ING_KAFKA_UNAVAILABLE', 'fake Kafka is down', { retryable: true })
    }
    this.delivered.push(...records)
    this.batches.push(records.length)
  }

  async close(): Promise<void> {
    this.closed = true
  }
}

/**
 * The SDK's bounded buffer of encoded records. Guarantees: it never holds more than `capacity`
 * records, counting those of the batch in flight (taken, not yet acknowledged, perhaps being
 * retried); when full, the record being added is dropped and counted (drop-newest, so what is
 * already queued keeps its order and nothing is sent out of order); records leave in the order
 * they came.
 */
import type { OutgoingRecord } from './kafka-transport.ts'

export class SendBuffer {
  private items: OutgoingRecord[] = []
  private head = 0
  /** Records taken by `take` and not yet settled by `acknowledge`. */
  inFlight = 0
  dropped = 0

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.items.length - this.head
  }

  /** False (and counted as dropped) when the buffer is full. */
  push(record: OutgoingRecord): boolean {
    if (this.size + this.inFlight >= this.capacity) {
      this.dropped++
      return false
    }
    this.items.push(record)
    return true
  }

  /** Removes and returns up to `max` of the oldest records. */
  take(max: number): OutgoingRecord[] {
    const batch = this.items.slice(this.head, this.head + max)
    this.head += batch.length
    this.inFlight += batch.length
    // Compact now and then, so the array does not grow without bound under steady traffic.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return batch
  }

  /** The batch taken last was acknowledged by Kafka. */
  acknowledge(batch: readonly OutgoingRecord[]): void {
    this.inFlight -= batch.length
  }

  /** Empties the buffer, counting what it held as dropped; returns that count. */
  discardAll(): number {
    const n = this.size
    this.dropped += n
    this.items = []
    this.head = 0
    return n
  }
}

/**
 * Fault injection at the ClickHouse client boundary: a RowSink that refuses inserts while an
 * outage is on, with the retryable DiffwatchError the real sink raises when ClickHouse is down
 * (embedded ClickHouse cannot be stopped separately from the process that hosts it). Refused
 * and passed inserts are counted, so tests can compare them with the transformer's own counts.
 */
import { DiffwatchError } from '../../schemas/errors.ts'
import type { ChunkWrite } from '../../transform/flush-protocol.ts'
import type { RowSink } from '../../transform/row-sink.ts'

export type FaultySink = RowSink & {
  /** Refuse every insert from now until end(). */
  start(): void
  end(): void
  /** The next insert takes `ms` longer (a long merge, a slow disk) before it is carried out. */
  slowNext(ms: number): void
  readonly refused: number
  readonly passed: number
  /** Resolves at the first refusal of the current outage. */
  readonly firstRefusal: Promise<void>
}

export function faultySink(inner: RowSink): FaultySink {
  let down = false
  let slow = 0
  let refused = 0
  let passed = 0
  let signal: () => void = () => undefined
  let firstRefusal = new Promise<void>((r) => (signal = r))
  return {
    start() {
      down = true
      firstRefusal = new Promise<void>((r) => (signal = r))
    },
    end() {
      down = false
    },
    slowNext(ms) {
      slow = ms
    },
    get refused() { return refused },
    get passed() { return passed },
    get firstRefusal() { return firstRefusal },
    async insert(write: ChunkWrite, token: string) {
      if (down) {
        refused += 1
        signal()
        throw new DiffwatchError('TRF_TEST_CLICKHOUSE_DOWN', `injected outage: insert into ${write.table} refused`, { retryable: true })
      }
      if (slow > 0) {
        const ms = slow
        slow = 0
        await new Promise((r) => setTimeout(r, ms))
      }
      await inner.insert(write, token)
      passed += 1
    },
  }
}

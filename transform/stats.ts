/**
 * Counters of one transformer instance, read by the health checks, the demo's summary and the
 * metrics endpoint (metrics.ts). Names of exported metrics live in METRIC_NAMES, and nowhere else.
 *
 * Counts that depend on flushed chunks (dead letters, late events, rows) are added when the
 * chunk's commit succeeded, so a chunk replayed after a crash is counted by the process that
 * committed it.
 */
export const METRIC_NAMES = {
  eventsProcessed: 'diffwatch_transform_events_total',
  eventsPerSecond: 'diffwatch_transform_events_per_second',
  deadLetters: 'diffwatch_transform_dead_letters_total',
  chunksFlushed: 'diffwatch_transform_chunks_flushed_total',
  rowsInserted: 'diffwatch_transform_rows_inserted_total',
  retries: 'diffwatch_transform_retries_total',
  lateEvents: 'diffwatch_transform_late_events_total',
  committedOffset: 'diffwatch_transform_committed_offset',
  consumerLag: 'diffwatch_transform_consumer_lag',
  chunkInsertSeconds: 'diffwatch_transform_chunk_insert_seconds',
  ready: 'diffwatch_transform_ready',
} as const

/** Chunk insert durations kept until the metrics endpoint drains them (bounded). */
const MAX_PENDING_DURATIONS = 10_000

export class TransformerStats {
  eventsProcessed = 0
  rowsInserted = 0
  chunksFlushed = 0
  retries = 0
  lateEvents = 0
  duplicatesSkipped = 0
  /** Consumer-group generations this instance joined (1 when it was never expelled or rebalanced). */
  groupJoins = 0
  readonly deadLettersByCode = new Map<string, number>()
  /** `topic:partition` → next offset this instance committed. */
  readonly committed = new Map<string, number>()
  /** `topic:partition` → messages the group has not committed yet (refreshed by the lag poller). */
  readonly lag = new Map<string, number>()
  /** When the total lag last went from zero to positive (null while there is none). */
  lagSinceMs: number | null = null
  lastProgressAtMs = Date.now()
  lastFlushMs = 0
  private readonly pendingInsertSeconds: number[] = []

  deadLetter(code: string): void {
    this.deadLettersByCode.set(code, (this.deadLettersByCode.get(code) ?? 0) + 1)
  }

  observeInsert(seconds: number): void {
    if (this.pendingInsertSeconds.length < MAX_PENDING_DURATIONS) this.pendingInsertSeconds.push(seconds)
  }

  /** Insert durations observed since the last call (the metrics histogram drains them). */
  drainInsertSeconds(): number[] {
    return this.pendingInsertSeconds.splice(0)
  }

  setLag(lag: Map<string, number>, nowMs = Date.now()): void {
    this.lag.clear()
    let total = 0
    for (const [k, v] of lag) {
      this.lag.set(k, v)
      total += v
    }
    if (total === 0) this.lagSinceMs = null
    else if (this.lagSinceMs === null) this.lagSinceMs = nowMs
  }

  get totalLag(): number {
    let n = 0
    for (const v of this.lag.values()) n += v
    return n
  }

  /**
   * True when there is lag and neither a commit nor the lag's appearance happened within
   * `stallMs`: the loop is stuck (a wedged insert, a consumer that stopped fetching), even if
   * every connection is up.
   */
  stalled(stallMs: number, nowMs = Date.now()): boolean {
    if (this.lagSinceMs === null) return false
    return nowMs - Math.max(this.lastProgressAtMs, this.lagSinceMs) > stallMs
  }

  get deadLetters(): number {
    let n = 0
    for (const v of this.deadLettersByCode.values()) n += v
    return n
  }

  snapshot(): Record<string, unknown> {
    return {
      eventsProcessed: this.eventsProcessed,
      rowsInserted: this.rowsInserted,
      chunksFlushed: this.chunksFlushed,
      retries: this.retries,
      lateEvents: this.lateEvents,
      deadLetters: Object.fromEntries(this.deadLettersByCode),
      committed: Object.fromEntries(this.committed),
      lag: Object.fromEntries(this.lag),
      lastProgressAt: new Date(this.lastProgressAtMs).toISOString(),
    }
  }
}

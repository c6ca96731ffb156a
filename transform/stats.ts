/**
 * Counters of one transformer instance, read by the health checks, the demo's summary and the
 * metrics endpoint. Names of exported metrics live in METRIC_NAMES.
 */
export const METRIC_NAMES = {
  eventsProcessed: 'diffwatch_transform_events_total',
  deadLetters: 'diffwatch_transform_dead_letters_total',
  chunksFlushed: 'diffwatch_transform_chunks_flushed_total',
  retries: 'diffwatch_transform_retries_total',
  lateEvents: 'diffwatch_transform_late_events_total',
  committedOffset: 'diffwatch_transform_committed_offset',
} as const

export class TransformerStats {
  eventsProcessed = 0
  rowsInserted = 0
  chunksFlushed = 0
  retries = 0
  duplicatesSkipped = 0
  readonly deadLettersByCode = new Map<string, number>()
  readonly committed = new Map<string, number>()
  lastProgressAtMs = Date.now()
  lastFlushMs = 0

  deadLetter(code: string): void {
    this.deadLettersByCode.set(code, (this.deadLettersByCode.get(code) ?? 0) + 1)
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
      deadLetters: Object.fromEntries(this.deadLettersByCode),
      committed: Object.fromEntries(this.committed),
      lastProgressAt: new Date(this.lastProgressAtMs).toISOString(),
    }
  }
}

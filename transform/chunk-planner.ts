/**
 * Offset-deterministic chunks of one partition.
 *
 * A chunk is the offset range [start, end] that the transformer inserts into ClickHouse as one
 * unit, with dedup tokens derived from that range. After a crash the same messages must be cut
 * into the same chunk, or the dedup tokens would differ and rows would be counted twice:
 *
 * - `start` is the committed offset (or the first offset seen when the group has none);
 * - a chunk closed by size ends at start + maxEvents - 1: a function of offsets alone;
 * - a chunk closed early (flush interval, shutdown) ends at the last offset it holds, and that
 *   end is recorded as offset-commit metadata (`plan`) BEFORE anything is inserted; a replay
 *   that finds a plan for its start offset ends the chunk exactly there.
 *
 * The planner never talks to Kafka itself; the flush protocol records and commits.
 */

export type ChunkPlan = { start: number; end: number }

const PLAN_PREFIX = 'dw1:plan:'

export function encodePlan(plan: ChunkPlan): string {
  return `${PLAN_PREFIX}${plan.start}-${plan.end}`
}

/** Parses commit metadata; anything that is not our plan (null, other tools' metadata) is null. */
export function decodePlan(metadata: string | null | undefined): ChunkPlan | null {
  if (!metadata || !metadata.startsWith(PLAN_PREFIX)) return null
  const m = /^(\d+)-(\d+)$/.exec(metadata.slice(PLAN_PREFIX.length))
  if (!m) return null
  const start = Number(m[1])
  const end = Number(m[2])
  return end >= start ? { start, end } : null
}

/** What a partition's open chunk holds; C is the content the caller accumulates. */
export type OpenChunk<C> = {
  start: number
  /** Fixed end: from a recorded plan, or start + maxEvents - 1. */
  end: number
  /** True when `end` came from a recorded plan (replay after an early close). */
  planned: boolean
  lastOffset: number
  messages: number
  openedAtMs: number
  content: C
}

export type AcceptResult = 'duplicate' | 'accepted'

export class PartitionChunker<C> {
  private chunk: OpenChunk<C> | null = null
  /** Next chunk's start: committed offset, then the end of every closed chunk + 1. */
  private nextStart: number | null
  private pendingPlan: ChunkPlan | null

  constructor(
    private readonly maxEvents: number,
    private readonly newContent: () => C,
    committedOffset: number | null,
    plan: ChunkPlan | null,
  ) {
    this.nextStart = committedOffset
    this.pendingPlan = plan && committedOffset !== null && plan.start === committedOffset ? plan : null
  }

  get open(): OpenChunk<C> | null {
    return this.chunk
  }

  /**
   * Returns the chunk that must be closed (flushed) BEFORE the message at `offset` can be added,
   * because the offset lies past its fixed end; null when the message belongs to the open chunk.
   */
  closeBefore(offset: number): OpenChunk<C> | null {
    if (this.chunk && offset > this.chunk.end) return this.takeChunk(this.chunk.end)
    return null
  }

  /** Adds a message offset to the open chunk (opening one if needed). */
  accept(offset: number, nowMs: number): AcceptResult {
    if (this.nextStart !== null && offset < this.nextStart) return 'duplicate'
    if (this.chunk && offset <= this.chunk.lastOffset) return 'duplicate'
    if (!this.chunk) {
      let start = this.nextStart ?? offset
      const plan = this.pendingPlan
      this.pendingPlan = null
      const planned = plan !== null && plan.start === start && offset <= plan.end
      // Offsets may have gaps (compaction, transaction markers): empty tiles are skipped, so
      // the chunk holding `offset` is still a function of the start offset alone.
      if (!planned && offset > start + this.maxEvents - 1) start += Math.floor((offset - start) / this.maxEvents) * this.maxEvents
      const end = planned ? plan.end : start + this.maxEvents - 1
      this.chunk = { start, end, planned, lastOffset: offset, messages: 0, openedAtMs: nowMs, content: this.newContent() }
    }
    this.chunk.lastOffset = offset
    this.chunk.messages += 1
    return 'accepted'
  }

  /** The open chunk when its last offset reached its fixed end. */
  full(): OpenChunk<C> | null {
    if (this.chunk && this.chunk.lastOffset >= this.chunk.end) return this.takeChunk(this.chunk.end)
    return null
  }

  /**
   * Closes the open chunk early at its last offset (flush interval, shutdown). The caller must
   * record the returned range as a plan before inserting. A chunk that replays a recorded plan
   * cannot be closed early: its end is fixed.
   */
  closeEarly(nowMs: number, minAgeMs: number): OpenChunk<C> | null {
    const c = this.chunk
    if (!c || c.planned || nowMs - c.openedAtMs < minAgeMs) return null
    return this.takeChunk(c.lastOffset)
  }

  private takeChunk(end: number): OpenChunk<C> {
    const c = this.chunk!
    c.end = end
    this.chunk = null
    this.nextStart = end + 1
    return c
  }
}

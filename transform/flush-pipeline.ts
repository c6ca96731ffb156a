/**
 * Lets the consumer loop go on decoding and aggregating while closed chunks are written.
 *
 * Guarantees:
 * - Chunks of one partition flush strictly in order, one at a time: chunk N+1's plan record
 *   (a commit of its start with metadata) must never be overwritten by chunk N's final commit,
 *   and commits move forward only.
 * - Once a chunk's flush failed, no later chunk of that partition is written until the failure
 *   was taken (its commit would skip the failed range): neither one queued behind it nor one
 *   submitted after it settled. The second case lost events: a fenced commit failed chunk
 *   36-39, the next batch's chunk 40-41 found the queue empty, was written and committed 42,
 *   and the re-join resumed there (the chaos suite's single-broker restart, 13 events).
 * - Every partition's first failure is kept and handed to the loop by `takeFailures`, which
 *   waits until every queued flush has settled, so the loop restarts from a quiet state.
 * - At most `maxInFlight` chunks are queued or writing over all partitions: `submit` waits for a
 *   slot, so memory stays bounded by maxInFlight chunks plus the open ones (backpressure).
 * - Failures of flushes submitted before a consumer-group generation change are logged by the
 *   caller (`onStaleFailure`), not raised: the new generation re-reads committed offsets and
 *   replays those chunks (their inserts are deduplicated by token).
 */

export type FlushJob = () => Promise<void>

/** A partition's first failed flush: what failed, and the offset it must be read again from. */
export type FlushFailure = { error: unknown; partitionKey: string; restartOffset: number }

export class FlushPipeline {
  private readonly tails = new Map<string, Promise<void>>()
  private readonly inFlight = new Set<Promise<void>>()
  private readonly failures = new Map<string, FlushFailure>()
  private lastStaleError: unknown = undefined
  private generation = 0

  constructor(
    private readonly maxInFlight: number,
    private readonly onStaleFailure: (error: unknown) => void,
  ) {
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw new RangeError(`maxInFlight must be a positive integer, got ${maxInFlight}`)
  }

  /** Chunks queued or being written. */
  get pending(): number {
    return this.inFlight.size
  }

  /** The pending failures (one per failed partition), without taking them. */
  get failed(): readonly Readonly<FlushFailure>[] {
    return [...this.failures.values()]
  }

  /**
   * A new consumer-group generation: failures of earlier flushes no longer stop the loop, also
   * ones recorded just before the re-join (raising them now would force one more rebalance, and
   * then another: a storm the chaos suite's transformer-group saw).
   */
  newGeneration(): void {
    this.generation += 1
    for (const f of this.failures.values()) this.onStaleFailure(f.error)
    this.failures.clear()
  }

  /**
   * Queues `job` behind the partition's earlier chunks, after waiting for a free slot. Resolves
   * once queued (not written). Throws nothing: failures surface through takeFailures. A job of a
   * partition with a pending failure is dropped unwritten (it is read again after the failure).
   * `restartOffset` is the chunk's first offset: where reading resumes if this job fails.
   */
  async submit(partitionKey: string, restartOffset: number, job: FlushJob): Promise<void> {
    while (this.inFlight.size >= this.maxInFlight) await Promise.race(this.inFlight)
    if (this.failures.has(partitionKey)) return
    const generation = this.generation
    const previous = this.tails.get(partitionKey) ?? Promise.resolve()
    // A rejected predecessor skips this job: `then` without a rejection handler passes it on.
    const run = previous.then(job)
    const settled = run.then(
      () => undefined,
      (error: unknown) => {
        if (generation !== this.generation) {
          // Later chunks of a failed partition reject with the same error: report it once.
          if (error === this.lastStaleError) return
          this.lastStaleError = error
          this.onStaleFailure(error)
        } else if (!this.failures.has(partitionKey)) {
          this.failures.set(partitionKey, { error, partitionKey, restartOffset })
        }
      },
    )
    this.tails.set(partitionKey, run)
    this.inFlight.add(settled)
    void settled.finally(() => {
      this.inFlight.delete(settled)
      if (this.tails.get(partitionKey) === run) this.tails.delete(partitionKey)
    })
  }

  /** Waits until everything queued has been written or has failed. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight)
  }

  /**
   * Empty while nothing failed; otherwise waits for the other flushes to settle, forgets the
   * queues and returns every partition's first failure (once), the earliest first.
   */
  async takeFailures(): Promise<FlushFailure[]> {
    if (this.failures.size === 0) return []
    await this.drain()
    const failures = [...this.failures.values()]
    this.failures.clear()
    this.tails.clear()
    return failures
  }
}

/**
 * Lets the consumer loop go on decoding and aggregating while closed chunks are written.
 *
 * Guarantees:
 * - Chunks of one partition flush strictly in order, one at a time: chunk N+1's plan record
 *   (a commit of its start with metadata) must never be overwritten by chunk N's final commit,
 *   and commits move forward only.
 * - When a chunk's flush fails, no later chunk of that partition starts (its commit would skip
 *   the failed range); the failure is kept and handed to the loop by `takeFailure`, which waits
 *   until every queued flush has settled, so the loop restarts from a quiet state.
 * - At most `maxInFlight` chunks are queued or writing over all partitions: `submit` waits for a
 *   slot, so memory stays bounded by maxInFlight chunks plus the open ones (backpressure).
 * - Failures of flushes submitted before a consumer-group generation change are logged by the
 *   caller (`onStaleFailure`), not raised: the new generation re-reads committed offsets and
 *   replays those chunks (their inserts are deduplicated by token).
 */

export type FlushJob = () => Promise<void>

/** The first failed flush: what failed, and the offset its partition must be read again from. */
export type FlushFailure = { error: unknown; partitionKey: string; restartOffset: number }

export class FlushPipeline {
  private readonly tails = new Map<string, Promise<void>>()
  private readonly inFlight = new Set<Promise<void>>()
  private failure: FlushFailure | null = null
  private lastError: unknown = undefined
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

  /** The pending failure, without taking it. */
  get failed(): Readonly<FlushFailure> | null {
    return this.failure
  }

  /**
   * A new consumer-group generation: failures of earlier flushes no longer stop the loop, also
   * one recorded just before the re-join (raising it now would force one more rebalance, and
   * then another: a storm the chaos suite's transformer-group saw).
   */
  newGeneration(): void {
    this.generation += 1
    if (this.failure) {
      this.onStaleFailure(this.failure.error)
      this.failure = null
    }
  }

  /**
   * Queues `job` behind the partition's earlier chunks, after waiting for a free slot. Resolves
   * once queued (not written). Throws nothing: failures surface through takeFailure.
   * `restartOffset` is the chunk's first offset: where reading resumes if this job fails.
   */
  async submit(partitionKey: string, restartOffset: number, job: FlushJob): Promise<void> {
    while (this.inFlight.size >= this.maxInFlight) await Promise.race(this.inFlight)
    const generation = this.generation
    const previous = this.tails.get(partitionKey) ?? Promise.resolve()
    // A rejected predecessor skips this job: `then` without a rejection handler passes it on.
    const run = previous.then(job)
    const settled = run.then(
      () => undefined,
      (error: unknown) => {
        // Later chunks of a failed partition reject with the same error: report it once.
        if (error === this.lastError) return
        this.lastError = error
        if (generation !== this.generation) this.onStaleFailure(error)
        else if (!this.failure) this.failure = { error, partitionKey, restartOffset }
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
   * Undefined while nothing failed; otherwise waits for the other flushes to settle, forgets the
   * queues and returns the first failure (once).
   */
  async takeFailure(): Promise<FlushFailure | undefined> {
    if (!this.failure) return undefined
    await this.drain()
    const failure = this.failure
    this.failure = null
    this.tails.clear()
    return failure
  }
}

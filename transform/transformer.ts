/**
 * The transformer: one member of the `TRANSFORM_GROUP_ID` consumer group. It reads the request
 * and GPU-sample topics with kafkajs (autoCommit off, eachBatchAutoResolve off), cuts each
 * partition into offset-deterministic chunks (chunk-planner.ts), turns every message into a raw
 * row plus window partial aggregates or a dead letter (chunk-content.ts), and hands each closed
 * chunk to the flush protocol (flush-protocol.ts), which is the only place that writes and
 * commits. Partly filled chunks are closed after FLUSH_INTERVAL_MS (at the end of each batch, and
 * by an idle timer). Closed chunks are written in the background (flush-pipeline.ts: in order per
 * partition, at most TRANSFORM_MAX_INFLIGHT_CHUNKS at once) while the loop decodes the next ones;
 * a failed flush is raised in the next batch, after the other flushes settled.
 *
 * Shutdown order: stop intake (pause), flush and commit open chunks, close clients.
 *
 * Liveness of the group membership: kafkajs has no background heartbeat, so every flush runs
 * with a heartbeat ticker (a long insert does not get the member expelled), and retry waits
 * heartbeat too. Readiness is progress, not connectivity: ready() turns false once the group's
 * lag (polled from the broker) has not been committed away for READY_STALL_MS.
 */
import { randomUUID } from 'node:crypto'
import type { ClickHouseClient } from '@clickhouse/client'
import type { Admin, Consumer, EachBatchPayload, Producer } from 'kafkajs'
import { partitionRecorder, type PartitionRecorder } from '../ingest/checked-send.ts'
import type { Codec } from '../schemas/codec.ts'
import { DiffwatchError, errorMessage, isDiffwatchError } from '../schemas/errors.ts'
import { topicSet, type TopicSet } from '../schemas/topics.ts'
import { AsyncLock } from './async-lock.ts'
import { ChunkContent, type EventKind, type KindTables } from './chunk-content.ts'
import { PartitionChunker, type OpenChunk } from './chunk-planner.ts'
import { brokerList, type TransformConfig } from './config.ts'
import { FlushPipeline, type FlushFailure } from './flush-pipeline.ts'
import { flushChunk, type FlushPorts } from './flush-protocol.ts'
import { classifyCommitError, classifyKafkaError, CommitWitness, commitNext, createKafka, fetchCommitted, groupSession, partitionLag, recordPlan, rejoinError, sendDeadLetters, type GroupSession } from './kafka-io.ts'
import type { Logger } from './logger.ts'
import { TransformerStats } from './stats.ts'
import { withKeepAlive, withRetry } from './retry.ts'
import { rowSinkFor, type RowSink } from './row-sink.ts'
import { KIND_TABLES } from './tables.ts'

/** How often the group's lag is read from the broker (metrics and readiness), at most. */
const LAG_POLL_MS = 5_000

export type TransformerDeps = {
  config: Readonly<TransformConfig>
  clickhouse: ClickHouseClient
  codec: Codec
  tables?: Readonly<Record<EventKind, KindTables>>
  log: Logger
  /** Replaces the ClickHouse writer (fault injection in tests). */
  sink?: RowSink
}

export type Transformer = {
  readonly stats: TransformerStats
  readonly topics: TopicSet
  /** False once the loop stopped making progress while it has work, or crashed. */
  ready(): boolean
  /** False once the consumer crashed for good (kafkajs will not restart it): restart the process. */
  alive(): boolean
  stop(): Promise<void>
}

export async function startTransformer(deps: TransformerDeps): Promise<Transformer> {
  const t = new TransformerRuntime(deps)
  await t.start()
  return t
}

class TransformerRuntime implements Transformer {
  readonly stats = new TransformerStats()
  readonly topics: TopicSet
  private readonly c: Readonly<TransformConfig>
  private readonly consumer: Consumer
  private readonly producer: Producer
  /** Partitions the producer chose per dead letter, so each send can be checked (kafka-io.ts). */
  private readonly partitions: PartitionRecorder = partitionRecorder()
  private readonly admin: Admin
  private readonly sink: RowSink
  private readonly lock = new AsyncLock()
  private readonly chunkers = new Map<string, PartitionChunker<ChunkContent>>()
  private readonly flushes: FlushPipeline
  private readonly commits: CommitWitness
  /** Consumer-group generation seen by GROUP_JOIN, and the one whose old flushes were drained. */
  private generation = 0
  private drainedGeneration = 0
  /** Flush failures whose partitions were already sought back (see flushIdle). */
  private readonly sought = new WeakSet<object>()
  private readonly kindByTopic: Map<string, EventKind>
  /** The group session of the latest batch: what a flush commits and heartbeats through (kafka-io.ts). */
  private session: GroupSession | null = null
  private timer: NodeJS.Timeout | null = null
  private lagTimer: NodeJS.Timeout | null = null
  private stopping = false
  private crashed: Error | null = null
  private dead = false

  constructor(private readonly deps: TransformerDeps) {
    this.c = deps.config
    this.topics = topicSet(this.c.TOPIC_PREFIX)
    this.kindByTopic = new Map([[this.topics.requests, 'request-event'], [this.topics.gpuSamples, 'gpu-sample']])
    const kafka = createKafka(brokerList(this.c), this.c.KAFKA_CLIENT_ID, deps.log)
    this.consumer = kafka.consumer({
      groupId: this.c.TRANSFORM_GROUP_ID,
      sessionTimeout: this.c.SESSION_TIMEOUT_MS,
      heartbeatInterval: this.c.HEARTBEAT_INTERVAL_MS,
      maxBytesPerPartition: 4 * 1024 * 1024,
      retry: { retries: 10, restartOnFailure: async (err) => { deps.log.error('consumer crashed; restarting', { error: errorMessage(err) }); return !this.stopping } },
    })
    this.producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: this.partitions.createPartitioner })
    this.admin = kafka.admin()
    this.commits = new CommitWitness(this.consumer, (topic) => fetchCommitted(this.admin, this.c.TRANSFORM_GROUP_ID, topic))
    this.sink = deps.sink ?? rowSinkFor(deps.clickhouse, this.c.CLICKHOUSE_URL ? 'server' : 'embedded')
    this.flushes = new FlushPipeline(this.c.TRANSFORM_MAX_INFLIGHT_CHUNKS, (err) => {
      deps.log.warn('a flush of the previous group generation failed; the new owner replays it', { error: errorMessage(err) })
    })
  }

  async start(): Promise<void> {
    await Promise.all([this.consumer.connect(), this.producer.connect(), this.admin.connect()])
    this.consumer.on(this.consumer.events.GROUP_JOIN, (e) => {
      // A new generation: kafkajs resumes every assigned partition at its committed offset,
      // so open chunks are dropped (their messages are fetched again) and plans re-read.
      this.chunkers.clear()
      this.generation += 1
      this.flushes.newGeneration()
      this.stats.groupJoins += 1
      this.crashed = null // kafkajs restarted the consumer and it is a member again
      this.deps.log.info('joined consumer group', { memberId: e.payload.memberId, assignment: e.payload.memberAssignment })
    })
    this.consumer.on(this.consumer.events.CRASH, (e) => {
      this.crashed = e.payload.error
      if (!e.payload.restart) this.dead = true
      this.deps.log.error('consumer crash', { error: errorMessage(e.payload.error), restart: e.payload.restart })
    })
    await this.consumer.subscribe({ topics: [this.topics.requests, this.topics.gpuSamples], fromBeginning: this.c.TRANSFORM_FROM_BEGINNING })
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.c.PARTITIONS_CONCURRENCY,
      eachBatch: (payload) => this.lock.run(() => this.onBatch(payload)),
    })
    const tick = Math.max(10, Math.min(250, Math.floor(this.c.FLUSH_INTERVAL_MS / 2)))
    this.timer = setInterval(() => {
      if (!this.lock.locked && !this.stopping) void this.lock.run(() => this.flushIdle(this.c.FLUSH_INTERVAL_MS))
    }, tick)
    this.timer.unref()
    void this.pollLag()
    this.lagTimer = setInterval(() => void this.pollLag(), Math.min(LAG_POLL_MS, Math.floor(this.c.READY_STALL_MS / 2)))
    this.lagTimer.unref()
  }

  ready(): boolean {
    if (this.crashed || this.stopping) return false
    // Not "is every connection up" but "does the loop move": lag that nothing commits away
    // for READY_STALL_MS means a wedged loop even when every socket is fine.
    return !this.stats.stalled(this.c.READY_STALL_MS)
  }

  alive(): boolean {
    return !this.dead
  }

  /** Refreshes the group's lag per partition (metrics, readiness); failures keep the old value. */
  private async pollLag(): Promise<void> {
    try {
      this.stats.setLag(await partitionLag(this.admin, this.c.TRANSFORM_GROUP_ID, [this.topics.requests, this.topics.gpuSamples]))
    } catch (err) {
      this.deps.log.debug('lag poll failed', { error: errorMessage(err) })
    }
  }

  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, isRunning, isStale } = payload
    const session = groupSession(payload)
    this.session = session
    const { topic, partition } = batch
    // The generation this batch belongs to. After kafkajs restarts a crashed consumer (the broker
    // gone for a while), the old runner's eachBatch can still be waiting here (on a retry, a free
    // flush slot) when the new member joins; once it resumes, it must touch nothing: state it
    // read before the join (committed positions) is stale, and a chunker built on it cut a chunk
    // with other bounds than the recorded plan, so its rows got another dedup token and landed
    // twice (146 duplicate rows in CI's broker-restart test, twice).
    const generation = this.generation
    const current = (): boolean => this.generation === generation
    try {
      if (this.drainedGeneration !== generation) {
        // Offsets committed by the previous generation's flushes must be read after they land.
        await this.flushes.drain()
        this.drainedGeneration = generation
      }
      if (!current()) return
      await this.raiseFlushFailure()
      const chunker = await this.chunkerFor(topic, partition, generation)
      if (chunker === null) return
      // kafkajs' resolveOffset and isStale parse offsets into Longs and look up maps: per message
      // they cost ~9 % of the transformer's CPU (bench profile). The last processed offset is
      // resolved once, on every way out of the loop, and staleness checked every 64 messages and
      // after every flush (a seek comes from raiseFlushFailure, between batches: the check at the
      // first message sees it).
      let resolved: string | null = null
      try {
        let n = 0
        for (const message of batch.messages) {
          if ((n++ & 63) === 0 && (!isRunning() || isStale())) break
          if (this.stopping || !current()) break
          const offset = Number(message.offset)
          const before = chunker.closeBefore(offset)
          if (before) await this.flush(topic, partition, before)
          if (chunker.accept(offset, Date.now()) === 'duplicate') {
            this.stats.duplicatesSkipped += 1
            resolved = message.offset
            continue
          }
          const outcome = chunker.open!.content.processMessage({
            topic, partition, offset, timestampMs: Number(message.timestamp), key: message.key, value: message.value,
          })
          if (outcome === 'ok') this.stats.eventsProcessed += 1
          resolved = message.offset
          const full = chunker.full()
          if (full) {
            await this.flush(topic, partition, full)
            n = 0 // after a wait, check again before the next message
          }
        }
      } finally {
        if (resolved !== null) resolveOffset(resolved)
      }
      if (!current()) return
      // The idle timer skips while a batch holds the lock, so under steady load it would
      // never run: close partly filled chunks that reached the flush interval here too.
      await this.closeAged(this.c.FLUSH_INTERVAL_MS)
      await session.heartbeat()
    } catch (err) {
      if (isDiffwatchError(err, 'TRF_FENCED')) {
        this.deps.log.warn('lost partition ownership; dropping open chunks until the group settles', { topic, partition })
        if (current()) this.chunkers.clear() // (an old runner's fence says nothing of the new chunkers)
        throw rejoinError(err) // see kafka-io.ts: a plain rethrow crashed or storm-rejoined the consumer
      }
      throw err
    }
  }

  /** The partition's chunker; null when the group's generation moved on while positions were read. */
  private async chunkerFor(topic: string, partition: number, generation: number): Promise<PartitionChunker<ChunkContent> | null> {
    const key = `${topic}:${partition}`
    const existing = this.chunkers.get(key)
    if (existing) return existing
    // Read fresh for every new chunker (after a start, a re-join or a failed flush, all of them
    // after the partition's earlier flushes settled), never from a cache: a position read while
    // a flush of the partition was still recording its plan lacks that plan.
    const positions = await this.retry('fetch-offsets', () => fetchCommitted(this.admin, this.c.TRANSFORM_GROUP_ID, topic))
    if (this.generation !== generation) return null
    const pos = positions.get(partition) ?? { offset: null, plan: null }
    const kind = this.kindByTopic.get(topic)
    if (!kind) throw new DiffwatchError('TRF_UNKNOWN_TOPIC', `no event kind for topic ${topic}`)
    const tables = (this.deps.tables ?? KIND_TABLES)[kind]
    const windows = { windowSeconds: this.c.WINDOW_SECONDS, allowedLatenessMs: this.c.ALLOWED_LATENESS_SEC * 1000, aggVersion: this.c.AGG_VERSION }
    const chunker = new PartitionChunker(
      this.c.CHUNK_MAX_EVENTS,
      () => new ChunkContent(tables, this.deps.codec, windows, this.c.FUTURE_TOLERANCE_SEC * 1000),
      pos.offset,
      pos.plan,
    )
    if (pos.plan) this.deps.log.info('replaying recorded chunk plan', { topic, partition, plan: pos.plan })
    this.chunkers.set(key, chunker)
    return chunker
  }

  /**
   * Throws the first failure of a background flush, once the others settled. Every failed
   * partition's chunker is dropped and the partition sought back to its failed chunk's start
   * (its committed offset): kafkajs retries a failed eachBatch from its own fetch position,
   * which lies past messages that were resolved but never written, so without the seek the next
   * chunk would start past them (the chaos suite's disk-full run lost events that way). Other
   * partitions keep their chunkers: their flushes all landed, and their positions are intact.
   */
  private async raiseFlushFailure(): Promise<void> {
    const failures = await this.flushes.takeFailures()
    if (failures.length === 0) return
    for (const f of failures) {
      this.chunkers.delete(f.partitionKey)
      this.seekBack(f)
    }
    throw failures[0]!.error
  }

  private seekBack(failure: Readonly<FlushFailure>): void {
    const sep = failure.partitionKey.lastIndexOf(':')
    this.consumer.seek({ topic: failure.partitionKey.slice(0, sep), partition: Number(failure.partitionKey.slice(sep + 1)), offset: String(failure.restartOffset) })
  }

  /** Closes and flushes every chunk open for at least `minAgeMs`. */
  private async closeAged(minAgeMs: number): Promise<void> {
    for (const [key, chunker] of this.chunkers) {
      const chunk = chunker.closeEarly(Date.now(), minAgeMs)
      if (!chunk) continue
      const sep = key.lastIndexOf(':')
      await this.flush(key.slice(0, sep), Number(key.slice(sep + 1)), chunk)
    }
  }

  /**
   * closeAged for the timer and shutdown. A pending flush failure is left for the next batch to
   * raise: only a throw from eachBatch makes kafkajs re-join and reset every partition to its
   * committed offset; dropping chunkers here instead would let the next chunk start past
   * messages that were fetched but never written. So each failed partition is sought back to
   * its failed chunk's start, which makes that next batch arrive even when the topic is idle.
   */
  private async flushIdle(minAgeMs: number): Promise<void> {
    const failed = this.flushes.failed
    if (failed.length > 0) {
      for (const f of failed) {
        if (this.sought.has(f) || this.stopping) continue
        this.sought.add(f)
        this.seekBack(f)
      }
      return
    }
    await this.closeAged(minAgeMs)
  }

  /**
   * Queues the chunk's flush behind the partition's earlier ones (waits only for a free slot).
   * The flush commits and heartbeats through the session of the batch that cut the chunk.
   */
  private flush(topic: string, partition: number, chunk: OpenChunk<ChunkContent>): Promise<void> {
    // Set by the batch that created the chunker (chunkers exist only after a batch; a group join
    // drops them all, and the next batch, of the new runner, sets its own session first).
    const session = this.session!
    return this.flushes.submit(`${topic}:${partition}`, chunk.start, () => this.write(topic, partition, chunk, session))
  }

  private async write(topic: string, partition: number, chunk: OpenChunk<ChunkContent>, session: GroupSession): Promise<void> {
    const started = Date.now()
    const writes = chunk.content.writes()
    const ports: FlushPorts = {
      recordPlan: (tp, p, plan) => recordPlan(this.commits, session, tp, p, plan).catch((e) => { throw classifyCommitError(e) }),
      sendDeadLetters: (records) => sendDeadLetters(this.producer, this.partitions, this.topics.deadLetter, records).catch((e) => { throw classifyKafkaError(e) }),
      // The dedup knob is off only in the crash test's control run: a fresh token per attempt
      // makes a replayed chunk land twice, which proves the test can see duplicates.
      insert: async (write, token) => {
        await this.sink.insert(write, this.c.TRANSFORM_INSERT_DEDUP ? token : `nodedup:${randomUUID()}`)
        this.deps.log.debug('insert acknowledged', { table: write.table, topic, partition, start: chunk.start, end: chunk.end })
      },
      commit: (tp, p, next) => commitNext(this.commits, session, tp, p, next).catch((e) => { throw classifyCommitError(e) }),
      retry: (step, fn) => this.retry(step, fn),
    }
    await withKeepAlive(() => flushChunk({ topic, partition, plan: { start: chunk.start, end: chunk.end }, writes, deadLetters: chunk.content.deadLetters }, ports, this.c.AGG_VERSION), () => session.heartbeat(), this.c.HEARTBEAT_INTERVAL_MS)
    for (const dl of chunk.content.deadLetters) this.stats.deadLetter(dl.code)
    this.stats.lateEvents += chunk.content.lateEvents
    this.stats.observeInsert((Date.now() - started) / 1000)
    this.stats.rowsInserted += writes.reduce((n, w) => n + w.rows.length, 0)
    this.stats.chunksFlushed += 1
    this.stats.committed.set(`${topic}:${partition}`, chunk.end + 1)
    this.stats.lastProgressAtMs = Date.now()
    this.stats.lastFlushMs = Date.now() - started
    this.deps.log.debug('chunk flushed', { topic, partition, start: chunk.start, end: chunk.end, messages: chunk.messages, ms: this.stats.lastFlushMs })
  }

  private retry<T>(step: string, fn: () => Promise<T>): Promise<T> {
    return withRetry(fn, {
      initialMs: this.c.RETRY_INITIAL_MS,
      maxMs: this.c.RETRY_MAX_MS,
      isRetryable: (err) => (err instanceof DiffwatchError ? err.retryable : classifyKafkaError(err).retryable),
      onRetry: (err, attempt, delayMs) => {
        this.stats.retries += 1
        this.deps.log.warn(`${step} failed; retrying`, { attempt, delayMs, code: (err as DiffwatchError).code, error: errorMessage(err) })
      },
      keepAlive: async () => { await this.session?.heartbeat() },
      shouldStop: () => false,
    })
  }

  async stop(): Promise<void> {
    if (this.stopping) return
    this.stopping = true
    if (this.timer) clearInterval(this.timer)
    if (this.lagTimer) clearInterval(this.lagTimer)
    // 1. stop intake
    this.consumer.pause([{ topic: this.topics.requests }, { topic: this.topics.gpuSamples }])
    // 2. flush and commit what is open (waits for an in-flight batch first)
    await this.lock.run(async () => {
      await this.flushIdle(0)
      await this.flushes.drain()
      const [failure] = await this.flushes.takeFailures()
      if (failure) throw failure.error
    }).catch((err) => this.deps.log.warn('final flush failed; it will be replayed', { error: errorMessage(err) }))
    // 3. close clients
    await this.consumer.disconnect().catch(() => undefined)
    await Promise.all([this.producer.disconnect(), this.admin.disconnect()]).catch(() => undefined)
    this.deps.log.info('transformer stopped', this.stats.snapshot())
  }
}

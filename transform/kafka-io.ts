/**
 * The transformer's thin layer over kafkajs: client construction, logging bridge, error
 * classification and the few calls the flush protocol needs. Nothing else in transform/ imports
 * kafkajs, so the client can be replaced without touching the protocol.
 */
import { Kafka, logLevel, type Admin, type Consumer, type EachBatchPayload, type Producer, type IHeaders, CompressionTypes } from 'kafkajs'
import { sendBatchChecked, type PartitionRecorder } from '../ingest/checked-send.ts'
import { DiffwatchError } from '../schemas/errors.ts'
import { DLQ_HEADERS } from '../schemas/topics.ts'
import type { ChunkPlan } from './chunk-planner.ts'
import { encodePlan, decodePlan } from './chunk-planner.ts'
import type { DeadLetter } from './flush-protocol.ts'
import type { Logger } from './logger.ts'

/** Group-membership errors: this member no longer owns its partitions; retrying cannot help. */
const FENCED = new Set(['ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'REBALANCE_IN_PROGRESS', 'FENCED_INSTANCE_ID'])

/**
 * The fencing error type, looked for through the cause chain: kafkajs' retrier wraps the
 * protocol error (which carries `type`) in a KafkaJSNonRetriableError, so a zombie's refused
 * commit (UNKNOWN_MEMBER_ID) arrives wrapped (found by the chaos suite's transformer-group).
 */
function fencedType(err: unknown): string | undefined {
  const e = fenceError(err)
  return e === undefined ? undefined : (e as unknown as { type: string }).type
}

/**
 * The kafkajs protocol error that carries the fencing type, through the cause chain. kafkajs'
 * runner re-joins the group only when eachBatch throws an error whose own `type` says so
 * (REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID); anything else that is not
 * retriable crashes the consumer for good.
 */
export function fenceError(err: unknown): Error | undefined {
  return inCauseChain(err, (e) => FENCED.has(e.type ?? ''))
}

/** The first error in `err`'s cause chain (at most 6 deep: kafkajs wraps twice) that `test` accepts. */
function inCauseChain(err: unknown, test: (e: Error & { type?: string }) => boolean): Error | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 6; e = e.cause, depth++) {
    if (test(e as Error & { type?: string })) return e
  }
  return undefined
}

/**
 * What the transformer throws out of eachBatch once it lost partition ownership: an error kafkajs'
 * runner answers with joinAndSync() keeping this member's id (a rebalance-typed error). Rethrowing
 * the wrapped fence crashed the consumer for good; rethrowing a bare UNKNOWN_MEMBER_ID made
 * kafkajs drop a member id that was valid again (the fence came from a flush of the previous
 * generation) and join as a new member, so the group rebalanced every session timeout (both
 * found by the chaos suite's transformer-group). If the id is really gone, kafkajs' join resets
 * it and joins afresh.
 */
export function rejoinError(err: unknown): Error {
  const fenced = fenceError(err)
  const e = new Error(`lost partition ownership (${fenced ? (fenced as unknown as { type: string }).type : 'fenced'}); re-joining the group`, { cause: err })
  return Object.assign(e, { type: 'REBALANCE_IN_PROGRESS', retriable: true })
}

export function classifyKafkaError(err: unknown): DiffwatchError {
  if (err instanceof DiffwatchError) return err
  const e = err as { type?: string; name?: string; retriable?: boolean; message?: string }
  const fenced = fencedType(err)
  if (fenced) return new DiffwatchError('TRF_FENCED', `partition ownership lost (${fenced})`, { cause: err })
  const retryable = e.retriable === true || e.name === 'KafkaJSConnectionError' || e.name === 'KafkaJSNumberOfRetriesExceeded' || e.name === 'KafkaJSRequestTimeoutError'
  return new DiffwatchError(retryable ? 'TRF_KAFKA_UNAVAILABLE' : 'TRF_KAFKA_ERROR', `Kafka: ${e.type ?? e.name ?? 'error'}: ${e.message ?? String(err)}`, { retryable, cause: err })
}

export function createKafka(brokers: string[], clientId: string, log: Logger): Kafka {
  return new Kafka({
    clientId,
    brokers,
    logLevel: logLevel.WARN,
    logCreator: () => ({ namespace, level, log: entry }) => {
      const { message, ...extra } = entry
      const text = namespace ? `kafkajs ${namespace}: ${message}` : `kafkajs: ${message}`
      if (level <= logLevel.ERROR) log.error(text, extra)
      else log.warn(text, extra)
    },
    retry: { initialRetryTime: 200, retries: 8 },
  })
}

export type CommittedPosition = { offset: number | null; plan: ChunkPlan | null }

/** Committed offset and recorded chunk plan of every partition of `topic` for `groupId`. */
export async function fetchCommitted(admin: Admin, groupId: string, topic: string): Promise<Map<number, CommittedPosition>> {
  const res = await admin.fetchOffsets({ groupId, topics: [topic] })
  const out = new Map<number, CommittedPosition>()
  for (const t of res) {
    for (const p of t.partitions) {
      const offset = Number(p.offset)
      out.set(p.partition, { offset: offset >= 0 ? offset : null, plan: decodePlan(p.metadata) })
    }
  }
  return out
}

/**
 * One kafkajs runner's hold on the group, lent by a batch it delivered: its own commit path,
 * heartbeat and liveness. kafkajs replaces the runner (and the consumer-group object behind it)
 * when it restarts a crashed consumer, so a flush keeps the session of the batch that cut its
 * chunk, never "the consumer's":
 * - Commits go to that runner's consumer group directly (the payload's
 *   commitOffsetsIfNecessary with explicit offsets), with that group's generation and member id,
 *   so a commit of a superseded incarnation is refused by the broker (fenced) instead of going
 *   out under the new one. consumer.commitOffsets went through kafkajs' runner instead, which
 *   (a) resolved without sending anything while the runner was not running, (b) retried
 *   internally up to 10 times with back-off up to 30 s, and (c) kept sending to a group
 *   coordinator that had moved (kafkajs refreshes metadata on NOT_COORDINATOR but re-discovers
 *   the coordinator only on a re-join): the chaos suite's broker-restart row stalled for minutes
 *   on (b) and (c) while the batch waited for the flush.
 * - Heartbeats only while that runner runs: a heartbeat of a crashed runner's member kept the
 *   zombie member in the group, and the restarted consumer's join waited for it up to the
 *   rebalance timeout (the single-broker restart row, 45 s without progress).
 */
export type GroupSession = {
  commit(offsets: CommitRequest): Promise<void>
  /** Heartbeats the runner's member; does nothing once that runner stopped. */
  heartbeat(): Promise<void>
}

export type CommitRequest = { topics: { topic: string; partitions: { partition: number; offset: string; metadata: string | null }[] }[] }

export function groupSession(payload: Pick<EachBatchPayload, 'commitOffsetsIfNecessary' | 'heartbeat' | 'isRunning'>): GroupSession {
  return {
    commit: (offsets) => payload.commitOffsetsIfNecessary(offsets),
    heartbeat: async () => {
      if (payload.isRunning()) await payload.heartbeat()
    },
  }
}

/** Errors of a commit that mean the group's coordinator moved: only a re-join finds the new one. */
const COORDINATOR_MOVED = new Set(['NOT_COORDINATOR_FOR_GROUP', 'GROUP_COORDINATOR_NOT_AVAILABLE'])

/**
 * classifyKafkaError for offset commits: a coordinator that moved (or a broker the metadata no
 * longer lists, the stale coordinator's node) fences the flush, so the member re-joins and
 * kafkajs looks the coordinator up again; retrying in place would ask the old node forever.
 */
export function classifyCommitError(err: unknown): DiffwatchError {
  if (err instanceof DiffwatchError) return err
  const moved = inCauseChain(err, (e) => COORDINATOR_MOVED.has(e.type ?? '') || e.name === 'KafkaJSBrokerNotFound') as (Error & { type?: string }) | undefined
  if (moved) return new DiffwatchError('TRF_FENCED', `the group coordinator moved (${moved.type ?? moved.name}): re-joining to find it`, { cause: err })
  return classifyKafkaError(err)
}

/**
 * Offset commits that are known to have been stored. kafkajs emits COMMIT_OFFSETS,
 * synchronously, for a commit the coordinator accepted; without that event the broker's
 * committed offsets are read, and a commit not stored there throws TRF_FENCED: the flush stops
 * before anything else is written, and the next generation replays the chunk (by its recorded
 * plan when that commit had landed). Commits go through a GroupSession, which always sends, so
 * this is a second line: it caught kafkajs' consumer.commitOffsets resolving without sending
 * while its runner restarted (a plan "recorded" then was never stored, its chunk replayed with
 * other bounds and another dedup token: 17-146 duplicate rows in the chaos suite and
 * test/e2e/transformer-outage). Not a retry: kafkajs stops a runner only after the running
 * eachBatch returns, and that batch may be waiting for this very flush (a retry loop deadlocked
 * both, found by the chaos suite).
 */
export class CommitWitness {
  private readonly seen = new Set<string>()

  constructor(
    consumer: Consumer,
    /** Reads the group's committed offsets from the broker: the check when no event came. */
    private readonly readCommitted?: (topic: string) => Promise<Map<number, CommittedPosition>>,
  ) {
    consumer.on(consumer.events.COMMIT_OFFSETS, (e) => {
      for (const t of e.payload.topics) for (const p of t.partitions) this.seen.add(`${t.topic}\u0000${p.partition}\u0000${String(p.offset)}`)
    })
  }

  async commit(session: GroupSession, topic: string, partition: number, offset: number, metadata: string | null): Promise<void> {
    const key = `${topic}\u0000${partition}\u0000${offset}`
    this.seen.delete(key)
    await session.commit({ topics: [{ topic, partitions: [{ partition, offset: String(offset), metadata }] }] })
    if (!this.seen.delete(key)) {
      // No event: ask the broker before concluding the commit was dropped.
      const stored = this.readCommitted ? (await this.readCommitted(topic).catch(() => undefined))?.get(partition) : undefined
      if (stored !== undefined && stored.offset === offset && (metadata === null || encodePlan(stored.plan ?? { start: -1, end: -1 }) === metadata)) return
      throw new DiffwatchError('TRF_FENCED', `the commit of ${topic} partition ${partition} offset ${offset} was not stored: the consumer is stopping or restarting`, { retryable: false })
    }
  }
}

export async function recordPlan(commits: CommitWitness, session: GroupSession, topic: string, partition: number, plan: ChunkPlan): Promise<void> {
  await commits.commit(session, topic, partition, plan.start, encodePlan(plan))
}

export async function commitNext(commits: CommitWitness, session: GroupSession, topic: string, partition: number, nextOffset: number): Promise<void> {
  await commits.commit(session, topic, partition, nextOffset, null)
}

/**
 * Largest dead-letter value kept whole, and the most bytes of values per produce request. Both
 * stay well under the broker's default 1 MiB message.max.bytes: a chunk holding several
 * oversized messages sent in one request was refused as a whole and stalled its partition (the
 * chaos suite's bad-input-kafka). A longer value keeps its first DLQ_MAX_VALUE_BYTES and says
 * its real length in dw-truncated-from.
 */
export const DLQ_MAX_VALUE_BYTES = 256 * 1024
const DLQ_MAX_REQUEST_BYTES = 512 * 1024

export function deadLetterMessages(records: readonly DeadLetter[]): { key: Buffer | null; value: Buffer | null; headers: IHeaders }[] {
  return records.map((r) => {
    const headers: IHeaders = {
      [DLQ_HEADERS.reason]: r.reason,
      [DLQ_HEADERS.code]: r.code,
      [DLQ_HEADERS.sourceTopic]: r.sourceTopic,
      [DLQ_HEADERS.sourcePartition]: String(r.sourcePartition),
      [DLQ_HEADERS.sourceOffset]: String(r.sourceOffset),
    }
    let value = r.value
    if (value !== null && value.length > DLQ_MAX_VALUE_BYTES) {
      headers[DLQ_HEADERS.truncatedFrom] = String(value.length)
      value = value.subarray(0, DLQ_MAX_VALUE_BYTES)
    }
    const key = r.key !== null && r.key.length > 1024 ? r.key.subarray(0, 1024) : r.key
    return { key, value, headers }
  })
}

/** Splits messages into produce requests of at most DLQ_MAX_REQUEST_BYTES of keys and values. */
export function deadLetterRequests<M extends { key: Buffer | null; value: Buffer | null }>(messages: readonly M[]): M[][] {
  const requests: M[][] = []
  let current: M[] = []
  let bytes = 0
  for (const m of messages) {
    const size = (m.key?.length ?? 0) + (m.value?.length ?? 0) + 512 // headers and framing
    if (current.length > 0 && bytes + size > DLQ_MAX_REQUEST_BYTES) {
      requests.push(current)
      current = []
      bytes = 0
    }
    current.push(m)
    bytes += size
  }
  if (current.length > 0) requests.push(current)
  return requests
}

/**
 * Sends a chunk's dead letters, every partition's acknowledgement checked: kafkajs can resolve a
 * send whose partitions it skipped after a leader change (ingest/checked-send.ts), and a dead
 * letter lost that way would leave a rejected message without a trace.
 */
export async function sendDeadLetters(producer: Producer, recorder: PartitionRecorder, dlqTopic: string, records: DeadLetter[]): Promise<void> {
  for (const messages of deadLetterRequests(deadLetterMessages(records))) {
    await sendBatchChecked(producer, recorder, [{ topic: dlqTopic, messages }], CompressionTypes.None)
  }
}

/** Messages not yet committed by `groupId`, keyed `topic:partition` (end offset minus committed). */
export async function partitionLag(admin: Admin, groupId: string, topics: string[]): Promise<Map<string, number>> {
  const lag = new Map<string, number>()
  for (const topic of topics) {
    const [ends, fetched] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })])
    const committed = new Map<number, number>()
    for (const t of fetched) for (const p of t.partitions) committed.set(p.partition, Number(p.offset))
    for (const e of ends) {
      const c = committed.get(e.partition) ?? -1
      // nothing committed yet: everything from the low watermark on is still to do
      lag.set(`${topic}:${e.partition}`, Math.max(0, Number(e.high) - (c >= 0 ? c : Number(e.low))))
    }
  }
  return lag
}

/** Messages not yet committed by `groupId`, per topic (end offset minus committed offset). */
export async function consumerLag(admin: Admin, groupId: string, topics: string[]): Promise<Map<string, number>> {
  const lag = new Map<string, number>()
  for (const topic of topics) {
    const ends = await admin.fetchTopicOffsets(topic)
    const committed = new Map<number, number>()
    for (const t of await admin.fetchOffsets({ groupId, topics: [topic] })) {
      for (const p of t.partitions) committed.set(p.partition, Math.max(0, Number(p.offset)))
    }
    let behind = 0
    for (const e of ends) behind += Math.max(0, Number(e.high) - (committed.get(e.partition) ?? Number(e.low)))
    lag.set(topic, behind)
  }
  return lag
}

/**
 * The flush protocol: how a closed chunk reaches ClickHouse exactly once in effect.
 *
 * For one chunk = offset range [start, end] of one topic-partition, in this order:
 *
 *   1. RECORD  commit offset `start` with metadata plan(start, end). This makes the boundary
 *              durable before anything is written (a replay rebuilds the same chunk), and it
 *              fences a zombie: a member that lost the partition gets ILLEGAL_GENERATION here
 *              and writes nothing.
 *   2. DEAD-LETTER  produce every rejected message of the chunk (original bytes + reason headers)
 *              to the dead-letter topic and wait for the broker's acknowledgement.
 *   3. INSERT  every table write of the chunk with
 *              insert_deduplication_token = v<aggVersion>:<table>:<topic>:<partition>:<start>-<end>,
 *              waiting for ClickHouse's acknowledgement of each. A repeated insert (replay after
 *              a crash between 3 and 4) is dropped by the table's deduplication window.
 *   4. COMMIT  offset end + 1 (no plan), only after every insert was acknowledged.
 *
 * Transient failures (ClickHouse or Kafka unavailable) retry each step with backoff and never
 * skip; permanent data errors were already routed to step 2 by the processing step. A fenced
 * member (rebalance) aborts with TRF_FENCED, and the chunk is replayed by the new owner.
 * Dead letters are at-least-once: a replay may send a chunk's dead letters again, identified by
 * their source topic/partition/offset headers.
 */
import type { ChunkPlan } from './chunk-planner.ts'

export type ChunkWrite = { table: string; columns: readonly string[]; rows: unknown[][] }

export type DeadLetter = {
  key: Buffer | null
  value: Buffer | null
  code: string
  reason: string
  sourceTopic: string
  sourcePartition: number
  sourceOffset: number
}

export type ClosedChunk = {
  topic: string
  partition: number
  plan: ChunkPlan
  writes: ChunkWrite[]
  deadLetters: DeadLetter[]
}

export interface FlushPorts {
  recordPlan(topic: string, partition: number, plan: ChunkPlan): Promise<void>
  sendDeadLetters(records: DeadLetter[]): Promise<void>
  insert(write: ChunkWrite, dedupToken: string): Promise<void>
  commit(topic: string, partition: number, nextOffset: number): Promise<void>
  /** Runs one step, retrying its transient failures; rethrows permanent ones. */
  retry<T>(step: string, fn: () => Promise<T>): Promise<T>
}

export function dedupToken(aggVersion: number, table: string, topic: string, partition: number, plan: ChunkPlan): string {
  return `v${aggVersion}:${table}:${topic}:${partition}:${plan.start}-${plan.end}`
}

export async function flushChunk(chunk: ClosedChunk, ports: FlushPorts, aggVersion: number): Promise<void> {
  const { topic, partition, plan } = chunk
  await ports.retry('record-plan', () => ports.recordPlan(topic, partition, plan))
  if (chunk.deadLetters.length > 0) {
    await ports.retry('dead-letter', () => ports.sendDeadLetters(chunk.deadLetters))
  }
  for (const write of chunk.writes) {
    if (write.rows.length === 0) continue
    const token = dedupToken(aggVersion, write.table, topic, partition, plan)
    await ports.retry(`insert ${write.table}`, () => ports.insert(write, token))
  }
  await ports.retry('commit', () => ports.commit(topic, partition, plan.end + 1))
}

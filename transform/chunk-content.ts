/**
 * What one chunk accumulates while it is open: raw rows in insert-column order, the window
 * aggregator, and the dead letters. Each message goes through `processMessage`, a step that
 * returns a result (ok or dead letter) and never throws for bad data.
 */
import type { Codec } from '../schemas/codec.ts'
import type { GpuSample, RequestEvent } from '../schemas/generated/types.ts'
import { GpuWindowAggregator, RequestWindowAggregator, isLate, type WindowSettings } from './window-aggregator.ts'
import { checkFieldSizes, FIELD_SIZE_CHECK_MIN_BYTES, validateGpuSample, validateRequestEvent, type TimeBounds } from './validate.ts'
import type { ChunkWrite, DeadLetter } from './flush-protocol.ts'

export type EventKind = 'request-event' | 'gpu-sample'

export type KindTables = {
  kind: EventKind
  rawTable: string
  rawColumns: readonly string[]
  windowTable: string
  windowColumns: readonly string[]
}

export type IncomingMessage = {
  topic: string
  partition: number
  offset: number
  timestampMs: number
  key: Buffer | null
  value: Buffer | null
}

export type ProcessOutcome = 'ok' | 'dead-letter'

/** Columns filled from the Kafka message rather than the event. */
const META_COLUMNS = new Set(['_topic', '_partition', '_offset'])

type RowBuilder = (event: Record<string, unknown>, m: IncomingMessage) => unknown[]

/**
 * The raw row of an event in insert-column order, as a function compiled once per column list:
 * an array literal of constant-key property reads, which V8 turns into monomorphic loads (a
 * loop of `event[column]` was megamorphic, and the hot path's single most expensive line after
 * decoding). Column names (migrations/tables.ts) enter the generated source only through
 * JSON.stringify, as string literals.
 */
const buildersByColumns = new WeakMap<readonly string[], RowBuilder>()
function rowBuilder(cols: readonly string[]): RowBuilder {
  let build = buildersByColumns.get(cols)
  if (!build) {
    const items = cols.map((c) => {
      if (META_COLUMNS.has(c)) return `m.${c.slice(1)}` // _topic, _partition, _offset
      const key = JSON.stringify(c)
      return `(e[${key}] ?? null)`
    })
    build = new Function('e', 'm', `return [${items.join(', ')}]`) as RowBuilder
    buildersByColumns.set(cols, build)
  }
  return build
}

export class ChunkContent {
  readonly rawRows: unknown[][] = []
  readonly deadLetters: DeadLetter[] = []
  /** Events of this chunk that arrived after their window closed plus the allowed lateness. */
  lateEvents = 0
  private readonly requests: RequestWindowAggregator | null
  private readonly gpus: GpuWindowAggregator | null
  private readonly rawRow: RowBuilder

  constructor(
    private readonly tables: KindTables,
    private readonly codec: Codec,
    private readonly windows: WindowSettings,
    private readonly futureToleranceMs: number,
  ) {
    this.requests = tables.kind === 'request-event' ? new RequestWindowAggregator(windows) : null
    this.gpus = tables.kind === 'gpu-sample' ? new GpuWindowAggregator(windows) : null
    this.rawRow = rowBuilder(tables.rawColumns)
  }

  processMessage(m: IncomingMessage): ProcessOutcome {
    if (m.value === null || m.value.length === 0) return this.deadLetter(m, 'SCH_EMPTY', 'message has no value (tombstone or empty)')
    const decoded = this.codec.decode(m.value)
    if (!decoded.ok) return this.deadLetter(m, decoded.code, decoded.reason)
    if (decoded.kind !== this.tables.kind) {
      return this.deadLetter(m, 'SCH_WRONG_KIND', `topic ${m.topic} carries ${this.tables.kind} events, got a ${decoded.kind}`)
    }
    if (m.value.length > FIELD_SIZE_CHECK_MIN_BYTES) {
      const oversized = checkFieldSizes(decoded.value as unknown as Record<string, unknown>)
      if (oversized) return this.deadLetter(m, oversized.code, oversized.reason)
    }
    const bounds: TimeBounds = { messageTimestampMs: m.timestampMs, futureToleranceMs: this.futureToleranceMs }
    if (decoded.kind === 'request-event') {
      const e = decoded.value as RequestEvent
      const invalid = validateRequestEvent(e, bounds)
      if (invalid) return this.deadLetter(m, invalid.code, invalid.reason)
      this.requests!.add(e, m.timestampMs)
      if (isLate(e.completed_at, m.timestampMs, this.windows)) this.lateEvents += 1
      this.rawRows.push(this.rawRow(e as unknown as Record<string, unknown>, m))
    } else {
      const s = decoded.value as GpuSample
      const invalid = validateGpuSample(s, bounds)
      if (invalid) return this.deadLetter(m, invalid.code, invalid.reason)
      this.gpus!.add(s, m.timestampMs)
      if (isLate(s.sampled_at, m.timestampMs, this.windows)) this.lateEvents += 1
      this.rawRows.push(this.rawRow(s as unknown as Record<string, unknown>, m))
    }
    return 'ok'
  }

  /** The table writes of the chunk, raw rows first (the window rows derive from them). */
  writes(): ChunkWrite[] {
    const windowRows = (this.requests?.drain() ?? this.gpus?.drain() ?? []) as unknown as Record<string, unknown>[]
    const wcols = this.tables.windowColumns
    return [
      { table: this.tables.rawTable, columns: this.tables.rawColumns, rows: this.rawRows },
      { table: this.tables.windowTable, columns: wcols, rows: windowRows.map((r) => wcols.map((c) => r[c])) },
    ]
  }

  private deadLetter(m: IncomingMessage, code: string, reason: string): ProcessOutcome {
    this.deadLetters.push({ key: m.key, value: m.value, code, reason, sourceTopic: m.topic, sourcePartition: m.partition, sourceOffset: m.offset })
    return 'dead-letter'
  }
}

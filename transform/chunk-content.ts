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

/** Where each raw column's value comes from, worked out once per column list (hot path). */
type ColumnSource = { field: string; meta: '_topic' | '_partition' | '_offset' | null }
const sourcesByColumns = new WeakMap<readonly string[], ColumnSource[]>()
function columnSources(cols: readonly string[]): ColumnSource[] {
  let sources = sourcesByColumns.get(cols)
  if (!sources) {
    sources = cols.map((c) => ({ field: c, meta: META_COLUMNS.has(c) ? (c as ColumnSource['meta']) : null }))
    sourcesByColumns.set(cols, sources)
  }
  return sources
}

export class ChunkContent {
  readonly rawRows: unknown[][] = []
  readonly deadLetters: DeadLetter[] = []
  /** Events of this chunk that arrived after their window closed plus the allowed lateness. */
  lateEvents = 0
  private readonly requests: RequestWindowAggregator | null
  private readonly gpus: GpuWindowAggregator | null
  private readonly sources: ColumnSource[]

  constructor(
    private readonly tables: KindTables,
    private readonly codec: Codec,
    private readonly windows: WindowSettings,
    private readonly futureToleranceMs: number,
  ) {
    this.requests = tables.kind === 'request-event' ? new RequestWindowAggregator(windows) : null
    this.gpus = tables.kind === 'gpu-sample' ? new GpuWindowAggregator(windows) : null
    this.sources = columnSources(tables.rawColumns)
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

  private rawRow(event: Record<string, unknown>, m: IncomingMessage): unknown[] {
    const sources = this.sources
    const row = new Array<unknown>(sources.length)
    for (let i = 0; i < sources.length; i++) {
      const s = sources[i]!
      if (s.meta === null) row[i] = event[s.field] ?? null
      else row[i] = s.meta === '_topic' ? m.topic : s.meta === '_partition' ? m.partition : m.offset
    }
    return row
  }

  private deadLetter(m: IncomingMessage, code: string, reason: string): ProcessOutcome {
    this.deadLetters.push({ key: m.key, value: m.value, code, reason, sourceTopic: m.topic, sourcePartition: m.partition, sourceOffset: m.offset })
    return 'dead-letter'
  }
}

import { describe, expect, it } from 'vitest'
import { createCodec } from '../schemas/codec.ts'
import { sampleGpuSample, sampleRequestEvent } from '../schemas/test-fixtures.ts'
import { ChunkContent, type KindTables } from './chunk-content.ts'
import { KIND_TABLES } from './tables.ts'

const codec = createCodec()
const windows = { windowSeconds: 10, allowedLatenessMs: 60_000, aggVersion: 1 }

function content(tables: KindTables): ChunkContent {
  return new ChunkContent(tables, codec, windows, 300_000)
}

describe('chunk content: raw rows', () => {
  it('hold each insert column in order: event fields, null for absent ones, the message position for _topic/_partition/_offset', () => {
    const now = Date.now()
    // The fixture's instants, moved as a whole to a second ago (their order is validated).
    const fixture = sampleRequestEvent()
    const shift = now - 1000 - fixture.completed_at
    const event = { ...fixture }
    for (const [k, v] of Object.entries(fixture)) if (k.endsWith('_at') && typeof v === 'number') (event as Record<string, unknown>)[k] = v + shift
    const c = content(KIND_TABLES['request-event'])
    expect(c.processMessage({ topic: 't.requests', partition: 3, offset: 41, timestampMs: now, key: null, value: codec.encodeRequestEvent(event) })).toBe('ok')
    const decoded = codec.decode(codec.encodeRequestEvent(event))
    if (!decoded.ok) throw new Error('undecodable fixture')
    const fields = decoded.value as unknown as Record<string, unknown>
    const meta: Record<string, unknown> = { _topic: 't.requests', _partition: 3, _offset: 41 }
    const expected = KIND_TABLES['request-event'].rawColumns.map((col) => (col in meta ? meta[col] : (fields[col] ?? null)))
    expect(c.rawRows).toEqual([expected])
  })

  it('a column list with a field no event has, and one whose name needs quoting, still builds', () => {
    const now = Date.now()
    const tables: KindTables = { ...KIND_TABLES['gpu-sample'], rawColumns: ['gpu_uuid', '_offset', 'not a field"', 'host'] }
    const sample = sampleGpuSample({ sampled_at: now - 500 })
    const c = content(tables)
    expect(c.processMessage({ topic: 't.gpu', partition: 0, offset: 7, timestampMs: now, key: null, value: codec.encodeGpuSample(sample) })).toBe('ok')
    expect(c.rawRows).toEqual([[sample.gpu_uuid, 7, null, sample.host]])
  })
})

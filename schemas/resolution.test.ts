import { readFileSync } from 'node:fs'
import { describe, expect, it, vi } from 'vitest'
import type { SchemaSource } from './catalog.ts'
import { createCodec, type DecodeResult } from './codec.ts'
import { fingerprintHex } from './fingerprint.ts'
import { frameConfluent, staticSchemaIds } from './framing.ts'
import type { RequestEventInput } from './generated/types.ts'
import { sampleRequestEvent } from './test-fixtures.ts'

type Json = { fields: Array<Record<string, unknown>>; [key: string]: unknown }
const V1: Json = JSON.parse(readFileSync(new URL('./request-event.v1.avsc', import.meta.url), 'utf8')) as Json

/** A hand-written v2: adds `lora_count` (default 0) and a new ErrorType symbol. Not on disk. */
function requestEventV2(): Json {
  const v2 = structuredClone(V1)
  v2.fields.push({ name: 'lora_count', type: 'int', default: 0, doc: 'LoRA adapters applied.' })
  const errorType = v2.fields.find((f) => f['name'] === 'error_type') as { type: [string, { symbols: string[] }] }
  errorType.type[1].symbols.push('quota_exceeded')
  return v2
}
const V2_SOURCE: SchemaSource = { kind: 'request-event', version: 2, schema: requestEventV2(), origin: 'test v2' }

const v1Codec = createCodec()
const v2Codec = createCodec({ extraSchemas: [V2_SOURCE] })
/** Knows v2 as a writer but reads with v1, like a transformer that predates v2. */
const v1ReaderCodec = createCodec({ extraSchemas: [V2_SOURCE], readerVersions: { 'request-event': 1 } })

function okValue(result: DecodeResult, version: number): Record<string, unknown> {
  if (!result.ok) throw new Error(`${result.code}: ${result.reason}`)
  expect(result.kind).toBe('request-event')
  expect(result.version).toBe(version)
  return { ...result.value }
}

describe('writer → reader resolution', () => {
  it('the v2 reader reads v1 bytes and fills the new field with its default', () => {
    const event = sampleRequestEvent()
    expect(okValue(v2Codec.decode(v1Codec.encodeRequestEvent(event)), 1)).toStrictEqual({ ...event, lora_count: 0 })
  })

  it('encoders write the newest version', () => {
    const bytes = v2Codec.encodeRequestEvent({ ...sampleRequestEvent(), lora_count: 3 } as RequestEventInput)
    const v2 = v2Codec.catalog.reader('request-event')
    expect(v2.version).toBe(2)
    expect(bytes.subarray(2, 10).toString('hex')).toBe(fingerprintHex(v2.fingerprint))
    expect(fingerprintHex(v2.fingerprint)).not.toBe('d1af0aaf5d298a59')
    expect(okValue(v2Codec.decode(bytes), 2)).toStrictEqual({ ...sampleRequestEvent(), lora_count: 3 })
  })

  it('a v1 reader reads v2 bytes: the field it does not know is skipped', () => {
    const event = sampleRequestEvent()
    const bytes = v2Codec.encodeRequestEvent({ ...event, lora_count: 3 } as RequestEventInput)
    expect(okValue(v1ReaderCodec.decode(bytes), 2)).toStrictEqual(event)
  })

  it('an ErrorType symbol unknown to the reader reads as the enum default, internal', () => {
    const event = sampleRequestEvent({ status: 'error', error_type: 'quota_exceeded' as 'internal', http_status: 429 })
    const bytes = v2Codec.encodeRequestEvent({ ...event, lora_count: 1 } as RequestEventInput)
    expect(okValue(v1ReaderCodec.decode(bytes), 2)).toStrictEqual({ ...event, error_type: 'internal' })
    expect(okValue(v2Codec.decode(bytes), 2)['error_type']).toBe('quota_exceeded')
  })

  it('a codec without the v2 file does not know its fingerprint', () => {
    const bytes = v2Codec.encodeRequestEvent(sampleRequestEvent())
    const result = v1Codec.decode(bytes)
    expect(result.ok ? 'ok' : result.code).toBe('SCH_UNKNOWN_FINGERPRINT')
  })

  it('a version that only changes docs has the same fingerprint; the newest version is reported', () => {
    const docsOnly = structuredClone(V1)
    docsOnly['doc'] = 'Reworded.'
    const codec = createCodec({ extraSchemas: [{ kind: 'request-event', version: 2, schema: docsOnly }] })
    expect(codec.catalog.versions('request-event').map((e) => fingerprintHex(e.fingerprint))).toEqual(['d1af0aaf5d298a59', 'd1af0aaf5d298a59'])
    expect(okValue(codec.decode(v1Codec.encodeRequestEvent(sampleRequestEvent())), 2)).toStrictEqual(sampleRequestEvent())
  })
})

describe('Confluent framing', () => {
  const event = sampleRequestEvent()
  const v1Datum = v1Codec.encodeRequestEvent(event).subarray(10)
  const v2Datum = v2Codec.encodeRequestEvent({ ...event, lora_count: 2 } as RequestEventInput).subarray(10)

  it('decodes with a schema-id map; a local schema keeps its version', () => {
    const codec = createCodec({ schemaIds: staticSchemaIds({ 7: JSON.stringify(V1) }) })
    const bytes = frameConfluent(7, v1Datum)
    expect(bytes.subarray(0, 5).toString('hex')).toBe('0000000007')
    expect(okValue(codec.decode(bytes), 1)).toStrictEqual(event)
  })

  it('a registry schema that matches no local file resolves to the reader, version 0', () => {
    const codec = createCodec({ schemaIds: staticSchemaIds(new Map([[0x01020304, requestEventV2()]])) })
    expect(okValue(codec.decode(frameConfluent(0x01020304, v2Datum)), 0)).toStrictEqual(event)
  })

  it('an unknown id is reported and not cached, so it decodes once the registry has it', () => {
    const cache = new Map<number, object>()
    const onMiss = vi.fn()
    const codec = createCodec({ schemaIds: { lookup: (id) => cache.get(id), onMiss } })
    const bytes = frameConfluent(8, v1Datum)
    expect(codec.decode(bytes)).toEqual({ ok: false, code: 'SCH_UNKNOWN_FINGERPRINT', reason: 'unknown schema id 8 (not in the schema registry cache)' })
    expect(onMiss).toHaveBeenCalledExactlyOnceWith(8)
    cache.set(8, V1)
    expect(okValue(codec.decode(bytes), 1)).toStrictEqual(event)
  })

  it('without a schema-id resolver a Confluent message is unknown', () => {
    expect(v1Codec.decode(frameConfluent(7, v1Datum))).toEqual({
      ok: false,
      code: 'SCH_UNKNOWN_FINGERPRINT',
      reason: 'Confluent-framed message with schema id 7, but no schema registry is configured',
    })
  })

  it('ids of foreign records, invalid schemas and incompatible schemas fail permanently', () => {
    const incompatible = structuredClone(V1)
    ;(incompatible.fields.find((f) => f['name'] === 'steps') as Record<string, unknown>)['type'] = 'string'
    const lookup = vi.fn((id: number) =>
      ({ 1: { type: 'record', name: 'Thing', namespace: 'dev.other', fields: [] }, 2: { type: 'nonsense' }, 3: incompatible })[id],
    )
    const codec = createCodec({ schemaIds: { lookup } })
    const failure = (id: number): unknown => codec.decode(frameConfluent(id, v1Datum))
    expect(failure(1)).toEqual({ ok: false, code: 'SCH_UNKNOWN_FINGERPRINT', reason: 'schema id 1 is dev.other.Thing, not a diffwatch event record' })
    expect(failure(2)).toEqual({ ok: false, code: 'SCH_UNKNOWN_FINGERPRINT', reason: 'schema id 2 is not a valid Avro schema: unknown type: "nonsense"' })
    expect(failure(3)).toEqual({
      ok: false,
      code: 'SCH_UNDECODABLE',
      reason: 'request-event writer schema id 3 cannot be read with reader v1: cannot read "string" as "int"',
    })
    for (const id of [1, 2, 3]) failure(id)
    expect(lookup).toHaveBeenCalledTimes(3) // each id looked up once, then cached
  })
})

import { readFileSync } from 'node:fs'
import { describe, expect, it, vi } from 'vitest'
import type { SchemaSource } from './catalog.ts'
import { createCodec, type DecodeResult } from './codec.ts'
import { fingerprintHex } from './fingerprint.ts'
import { frameConfluent, staticSchemaIds } from './framing.ts'
import type { RequestEventInput } from './generated/types.ts'
import { sampleRequestEvent, sampleRequestEventV1 } from './test-fixtures.ts'

type Json = { fields: Array<Record<string, unknown>>; [key: string]: unknown }
const readSchema = (file: string): Json => JSON.parse(readFileSync(new URL(`./${file}`, import.meta.url), 'utf8')) as Json
const V1 = readSchema('request-event.v1.avsc')
const V2 = readSchema('request-event.v2.avsc')
const V1_FP = 'd1af0aaf5d298a59'
const V2_FP = '30c5d275e7c95a61'
/** What the v2 reader fills in for a v1 writer: the defaults of the fields v2 added. */
const V2_DEFAULTS = { lora_adapters: [], seed: null, precision: null, queue_depth: null }

/** A hand-written v3 on top of the released v2: adds `clip_skip` (default 0) and a new ErrorType symbol. Not on disk. */
function requestEventV3(): Json {
  const v3 = structuredClone(V2)
  v3.fields.push({ name: 'clip_skip', type: 'int', default: 0, doc: 'CLIP layers skipped.' })
  const errorType = v3.fields.find((f) => f['name'] === 'error_type') as { type: [string, { symbols: string[] }] }
  errorType.type[1].symbols.push('quota_exceeded')
  return v3
}
const V3_SOURCE: SchemaSource = { kind: 'request-event', version: 3, schema: requestEventV3(), origin: 'test v3' }

/** The released files only: reads with v2, the newest. */
const v2Codec = createCodec()
/** Writes v1, like a worker that predates v2. */
const v1WriterCodec = createCodec({ readerVersions: { 'request-event': 1 } })
const v3Codec = createCodec({ extraSchemas: [V3_SOURCE] })
/** Knows v3 as a writer but reads with v2, like a transformer that predates v3. */
const v2ReaderCodec = createCodec({ extraSchemas: [V3_SOURCE], readerVersions: { 'request-event': 2 } })
/** Knows v2 and v3 as writers but reads with v1. */
const v1ReaderCodec = createCodec({ extraSchemas: [V3_SOURCE], readerVersions: { 'request-event': 1 } })

const v1Bytes = (): Buffer => v1WriterCodec.encodeRequestEvent(sampleRequestEventV1() as RequestEventInput)

function okValue(result: DecodeResult, version: number): Record<string, unknown> {
  if (!result.ok) throw new Error(`${result.code}: ${result.reason}`)
  expect(result.kind).toBe('request-event')
  expect(result.version).toBe(version)
  return { ...result.value }
}

describe('writer → reader resolution', () => {
  it('the released v2 reader reads v1 bytes and fills the fields v2 added with their defaults', () => {
    const bytes = v1Bytes()
    expect(bytes.subarray(2, 10).toString('hex')).toBe(V1_FP)
    expect(okValue(v2Codec.decode(bytes), 1)).toStrictEqual({ ...sampleRequestEventV1(), ...V2_DEFAULTS })
  })

  it('a v1 reader reads released v2 bytes: the four fields it does not know are skipped', () => {
    const bytes = v2Codec.encodeRequestEvent(sampleRequestEvent())
    expect(bytes.subarray(2, 10).toString('hex')).toBe(V2_FP)
    expect(okValue(v1ReaderCodec.decode(bytes), 2)).toStrictEqual(sampleRequestEventV1())
  })

  it('the v3 reader reads v2 bytes and fills the new field with its default', () => {
    const event = sampleRequestEvent()
    expect(okValue(v3Codec.decode(v2Codec.encodeRequestEvent(event)), 2)).toStrictEqual({ ...event, clip_skip: 0 })
    expect(okValue(v3Codec.decode(v1Bytes()), 1)).toStrictEqual({ ...sampleRequestEventV1(), ...V2_DEFAULTS, clip_skip: 0 })
  })

  it('encoders write the newest version', () => {
    const bytes = v3Codec.encodeRequestEvent({ ...sampleRequestEvent(), clip_skip: 2 } as RequestEventInput)
    const v3 = v3Codec.catalog.reader('request-event')
    expect(v3.version).toBe(3)
    expect(bytes.subarray(2, 10).toString('hex')).toBe(fingerprintHex(v3.fingerprint))
    expect([V1_FP, V2_FP]).not.toContain(fingerprintHex(v3.fingerprint))
    expect(okValue(v3Codec.decode(bytes), 3)).toStrictEqual({ ...sampleRequestEvent(), clip_skip: 2 })
  })

  it('a v2 reader reads v3 bytes: the field it does not know is skipped', () => {
    const event = sampleRequestEvent()
    const bytes = v3Codec.encodeRequestEvent({ ...event, clip_skip: 2 } as RequestEventInput)
    expect(okValue(v2ReaderCodec.decode(bytes), 3)).toStrictEqual(event)
  })

  it('an ErrorType symbol unknown to the reader reads as the enum default, internal', () => {
    const event = sampleRequestEvent({ status: 'error', error_type: 'quota_exceeded' as 'internal', http_status: 429 })
    const bytes = v3Codec.encodeRequestEvent({ ...event, clip_skip: 1 } as RequestEventInput)
    expect(okValue(v2ReaderCodec.decode(bytes), 3)).toStrictEqual({ ...event, error_type: 'internal' })
    expect(okValue(v3Codec.decode(bytes), 3)['error_type']).toBe('quota_exceeded')
  })

  it('a codec without the v3 file does not know its fingerprint', () => {
    const bytes = v3Codec.encodeRequestEvent({ ...sampleRequestEvent(), clip_skip: 1 } as RequestEventInput)
    const result = v2Codec.decode(bytes)
    expect(result.ok ? 'ok' : result.code).toBe('SCH_UNKNOWN_FINGERPRINT')
  })

  it('a version that only changes docs has the same fingerprint; the newest version is reported', () => {
    const docsOnly = structuredClone(V2)
    docsOnly['doc'] = 'Reworded.'
    const codec = createCodec({ extraSchemas: [{ kind: 'request-event', version: 3, schema: docsOnly }] })
    expect(codec.catalog.versions('request-event').map((e) => fingerprintHex(e.fingerprint))).toEqual([V1_FP, V2_FP, V2_FP])
    expect(okValue(codec.decode(v2Codec.encodeRequestEvent(sampleRequestEvent())), 3)).toStrictEqual(sampleRequestEvent())
  })
})

describe('Confluent framing', () => {
  const event = sampleRequestEvent()
  const v1Datum = v1Bytes().subarray(10)
  const v2Datum = v2Codec.encodeRequestEvent(event).subarray(10)
  const v3Datum = v3Codec.encodeRequestEvent({ ...event, clip_skip: 2 } as RequestEventInput).subarray(10)

  it('decodes with a schema-id map; a local schema keeps its version', () => {
    const codec = createCodec({ schemaIds: staticSchemaIds({ 6: JSON.stringify(V1), 7: JSON.stringify(V2) }) })
    const bytes = frameConfluent(7, v2Datum)
    expect(bytes.subarray(0, 5).toString('hex')).toBe('0000000007')
    expect(okValue(codec.decode(bytes), 2)).toStrictEqual(event)
    expect(okValue(codec.decode(frameConfluent(6, v1Datum)), 1)).toStrictEqual({ ...sampleRequestEventV1(), ...V2_DEFAULTS })
  })

  it('a registry schema that matches no local file resolves to the reader, version 0', () => {
    const codec = createCodec({ schemaIds: staticSchemaIds(new Map([[0x01020304, requestEventV3()]])) })
    expect(okValue(codec.decode(frameConfluent(0x01020304, v3Datum)), 0)).toStrictEqual(event)
  })

  it('an unknown id is reported and not cached, so it decodes once the registry has it', () => {
    const cache = new Map<number, object>()
    const onMiss = vi.fn()
    const codec = createCodec({ schemaIds: { lookup: (id) => cache.get(id), onMiss } })
    const bytes = frameConfluent(8, v2Datum)
    expect(codec.decode(bytes)).toEqual({ ok: false, code: 'SCH_UNKNOWN_FINGERPRINT', reason: 'unknown schema id 8 (not in the schema registry cache)' })
    expect(onMiss).toHaveBeenCalledExactlyOnceWith(8)
    cache.set(8, V2)
    expect(okValue(codec.decode(bytes), 2)).toStrictEqual(event)
  })

  it('without a schema-id resolver a Confluent message is unknown', () => {
    expect(v2Codec.decode(frameConfluent(7, v2Datum))).toEqual({
      ok: false,
      code: 'SCH_UNKNOWN_FINGERPRINT',
      reason: 'Confluent-framed message with schema id 7, but no schema registry is configured',
    })
  })

  it('ids of foreign records, invalid schemas and incompatible schemas fail permanently', () => {
    const incompatible = structuredClone(V2)
    ;(incompatible.fields.find((f) => f['name'] === 'steps') as Record<string, unknown>)['type'] = 'string'
    const lookup = vi.fn((id: number) =>
      ({ 1: { type: 'record', name: 'Thing', namespace: 'dev.other', fields: [] }, 2: { type: 'nonsense' }, 3: incompatible })[id],
    )
    const codec = createCodec({ schemaIds: { lookup } })
    const failure = (id: number): unknown => codec.decode(frameConfluent(id, v2Datum))
    expect(failure(1)).toEqual({ ok: false, code: 'SCH_UNKNOWN_FINGERPRINT', reason: 'schema id 1 is dev.other.Thing, not a diffwatch event record' })
    expect(failure(2)).toEqual({ ok: false, code: 'SCH_UNKNOWN_FINGERPRINT', reason: 'schema id 2 is not a valid Avro schema: unknown type: "nonsense"' })
    expect(failure(3)).toEqual({
      ok: false,
      code: 'SCH_UNDECODABLE',
      reason: 'request-event writer schema id 3 cannot be read with reader v2: cannot read "string" as "int"',
    })
    for (const id of [1, 2, 3]) failure(id)
    expect(lookup).toHaveBeenCalledTimes(3) // each id looked up once, then cached
  })
})

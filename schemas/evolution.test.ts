import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parseAvroType, readSchemaFiles, SCHEMA_KINDS } from './catalog.ts'
import { createCodec, type DecodeResult } from './codec.ts'
import { fullCompatibilityIssues, readIssues, releaseIssues } from './compatibility.ts'
import { sampleRequestEvent } from './test-fixtures.ts'

type Field = Record<string, unknown> & { name: string }
type Schema = Record<string, unknown> & { fields: Field[] }
const load = (file: string): Schema => JSON.parse(readFileSync(new URL(file, import.meta.url), 'utf8')) as Schema
const V1 = load('./request-event.v1.avsc')
const V2 = load('./request-event.v2.avsc')

/** The fields v2 adds and their declared defaults, written out here rather than read from the file. */
const V2_DEFAULTS = { lora_adapters: [], seed: null, precision: null, queue_depth: null }
const V2_EXTRAS = { lora_adapters: ['detail-tweaker-xl', 'pixel-art-v2'], seed: 1_234_567_890_123, precision: 'bf16', queue_depth: 7 }

const v2Codec = createCodec()
/** A consumer that predates v2: its reader (and encoder) is pinned to v1. */
const v1EraCodec = createCodec({ readerVersions: { 'request-event': 1 } })

/** The v1 fields of the shared fixture, i.e. exactly what a v1 writer can carry. */
function v1Event(): Record<string, unknown> {
  const event: Record<string, unknown> = { ...sampleRequestEvent() }
  for (const key of Object.keys(V2_DEFAULTS)) delete event[key]
  return event
}

function value(result: DecodeResult, version: number): Record<string, unknown> {
  if (!result.ok) throw new Error(`${result.code}: ${result.reason}`)
  expect(result.version).toBe(version)
  return { ...result.value }
}

describe('request-event v1 ⇄ v2', () => {
  it('v2 is v1 plus four defaulted fields, in order', () => {
    expect(V2.fields.map((f) => f.name)).toEqual([...V1.fields.map((f) => f.name), ...Object.keys(V2_DEFAULTS)])
    expect(Object.fromEntries(V2.fields.slice(V1.fields.length).map((f) => [f.name, f['default']]))).toEqual(V2_DEFAULTS)
  })

  it('every field of every released schema documents itself', () => {
    const undocumented = readSchemaFiles().flatMap((s) =>
      (JSON.parse(s.schema as string) as Schema).fields.filter((f) => typeof f['doc'] !== 'string' || f['doc'].length < 10).map((f) => `${s.kind} v${s.version} ${f.name}`),
    )
    expect(undocumented).toEqual([])
  })

  it('the v2 reader reads v1 bytes and applies the v2 defaults', () => {
    const bytes = v1EraCodec.encodeRequestEvent(v1Event() as never)
    expect(bytes.subarray(2, 10).equals(v2Codec.encodeRequestEvent(v1Event() as never).subarray(2, 10))).toBe(false)
    expect(value(v2Codec.decode(bytes), 1)).toStrictEqual({ ...v1Event(), ...V2_DEFAULTS })
  })

  it('a v1-era reader reads v2 bytes and skips the fields it does not know', () => {
    const bytes = v2Codec.encodeRequestEvent({ ...v1Event(), ...V2_EXTRAS } as never)
    expect(value(v1EraCodec.decode(bytes), 2)).toStrictEqual(v1Event())
    expect(value(v2Codec.decode(bytes), 2)).toStrictEqual({ ...v1Event(), ...V2_EXTRAS })
  })
})

describe('compatibility check of released schemas', () => {
  it('every consecutive pair of released versions is FULL compatible', () => {
    expect(releaseIssues()).toEqual([])
  })

  it('a release with an incompatible version fails the check, naming the pair and the field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dw-schemas-'))
    dirs.push(dir)
    for (const s of readSchemaFiles()) writeFileSync(join(dir, `${s.kind}.v${s.version}.avsc`), s.schema as string)
    const broken = structuredClone(V2)
    broken.fields = broken.fields.filter((f) => f.name !== 'sampler')
    writeFileSync(join(dir, 'request-event.v3.avsc'), JSON.stringify(broken))
    expect(releaseIssues(dir)).toEqual([
      {
        pair: 'request-event v2 → v3',
        path: 'RequestEvent.sampler',
        message: 'old reader, new data: reader field sampler is missing from the writer and has no default',
      },
    ])
  })

  it('checks each kind that has more than one version', () => {
    const kinds = new Set(readSchemaFiles().filter((s) => s.version > 1).map((s) => s.kind))
    expect([...kinds]).toEqual(SCHEMA_KINDS.filter((k) => k === 'request-event'))
  })
})

const dirs: string[] = []
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))

/** Changes applied to v2 to make a "v3"; each with the issues FULL compatibility must report. */
const CHANGES: Array<{ name: string; change: (s: Schema) => void; issues: Array<[string, string]> }> = [
  {
    name: 'field removed without default',
    change: (s) => void (s.fields = s.fields.filter((f) => f.name !== 'steps')),
    issues: [['RequestEvent.steps', 'old reader, new data: reader field steps is missing from the writer and has no default']],
  },
  {
    name: 'type change int → string',
    change: (s) => void (field(s, 'width')['type'] = 'string'),
    issues: [
      ['RequestEvent.width', 'new reader, old data: type changed: writer int cannot be read as string'],
      ['RequestEvent.width', 'old reader, new data: type changed: writer string cannot be read as int'],
    ],
  },
  {
    name: 'enum symbol removed from an enum without default',
    change: (s) => void ((field(s, 'status')['type'] as { symbols: string[] }).symbols = ['ok']),
    issues: [['RequestEvent.status', 'new reader, old data: enum RequestStatus cannot read writer symbol(s) error and has no default symbol']],
  },
  {
    name: 'field added without default',
    change: (s) => void s.fields.push({ name: 'vae', type: 'string', doc: 'VAE name.' }),
    issues: [['RequestEvent.vae', 'new reader, old data: reader field vae is missing from the writer and has no default']],
  },
  {
    name: 'promotion int → long (readable one way only)',
    change: (s) => void (field(s, 'steps')['type'] = 'long'),
    issues: [['RequestEvent.steps', 'old reader, new data: type changed: writer long cannot be read as int']],
  },
  {
    name: 'enum symbol removed from an enum with a default (compatible)',
    change: (s) => void ((field(s, 'pipeline')['type'] as { symbols: string[] }).symbols = ['txt2img', 'img2img', 'other']),
    issues: [],
  },
  {
    name: 'nullable field made non-null (the null branch has no reader)',
    change: (s) => void (field(s, 'seed')['type'] = 'long', delete field(s, 'seed')['default']),
    issues: [
      ['RequestEvent.seed', 'new reader, old data: type changed: writer null cannot be read as long'],
    ],
  },
]

function field(s: Schema, name: string): Field {
  const found = s.fields.find((f) => f.name === name)
  if (found === undefined) throw new Error(`no field ${name}`)
  return found
}

describe('the compatibility check rejects incompatible changes', () => {
  it.each(CHANGES)('$name', ({ change, issues }) => {
    const v3 = structuredClone(V2)
    change(v3)
    expect(fullCompatibilityIssues(V2, v3).map((i) => [i.path, i.message])).toEqual(issues)
  })

  it.each(CHANGES)('agrees with avsc resolvers in both directions: $name', ({ change }) => {
    const v3 = structuredClone(V2)
    change(v3)
    for (const [reader, writer] of [[V2, v3], [v3, V2]] as const) {
      let avscReads = true
      try {
        parseAvroType(reader).createResolver(parseAvroType(writer))
      } catch {
        avscReads = false
      }
      expect(readIssues(reader, writer).length === 0).toBe(avscReads)
    }
  })
})

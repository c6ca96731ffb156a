import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parsingCanonicalForm } from './canonical-form.ts'
import { SchemaCatalog } from './catalog.ts'
import { CRC64_AVRO_EMPTY, fingerprint64, fingerprintBytesLE, fingerprintHex, schemaFingerprint } from './fingerprint.ts'

// Signed 64-bit values as the Avro project's Java test data prints them (SchemaNormalization
// CRC-64-AVRO); the same values came out of fastavro 1.13.1 when this file was written.
const SPEC_VECTORS: ReadonlyArray<readonly [schema: string, signed: bigint]> = [
  ['"null"', 7195948357588979594n],
  ['"boolean"', -6970731678124411036n],
  ['"int"', 8247732601305521295n],
  ['"long"', -3434872931120570953n],
  ['"float"', 5583340709985441680n],
  ['"double"', -8181574048448539266n],
  ['"bytes"', 5746618253357095269n],
  ['"string"', -8142146995180207161n],
  ['[]', -1241056759729112623n],
  ['{"type":"fixed","name":"foo","size":15}', 1756455273707447556n],
  ['{"type":"record","name":"foo","fields":[{"name":"f1","type":"boolean"}]}', 7843277075252814651n],
]

describe('CRC-64-AVRO', () => {
  it('is the seed for empty input', () => {
    expect(fingerprint64(new Uint8Array(0))).toBe(CRC64_AVRO_EMPTY)
    expect(CRC64_AVRO_EMPTY).toBe(0xc15d213aa4d7a795n)
  })

  it.each(SPEC_VECTORS)('fingerprints %s', (schema, signed) => {
    expect(BigInt.asIntN(64, schemaFingerprint(parsingCanonicalForm(JSON.parse(schema))))).toBe(signed)
  })

  it('writes the 8 bytes little-endian, as single-object encoding does', () => {
    const fp = schemaFingerprint('"null"')
    expect(fp).toBe(0x63dd24e7cc258f8an)
    expect(fingerprintBytesLE(fp)).toEqual(Buffer.from([0x8a, 0x8f, 0x25, 0xcc, 0xe7, 0x24, 0xdd, 0x63]))
    expect(fingerprintHex(fp)).toBe('8a8f25cce724dd63')
  })

  it('pins every released schema, v1 and v2 (a changed fingerprint means a released file was edited)', () => {
    const catalog = new SchemaCatalog()
    const byKind = Object.fromEntries(catalog.entries().map((e) => [`${e.kind}.v${e.version}`, fingerprintHex(e.fingerprint)]))
    // Values cross-checked with fastavro 1.13.1: fingerprint(to_parsing_canonical_form(parse_schema(s)), "CRC-64-AVRO").
    // A new released file must be added here, so this list is also the list of released versions.
    expect(byKind).toEqual({
      'request-event.v1': 'd1af0aaf5d298a59',
      'request-event.v2': '30c5d275e7c95a61',
      'gpu-sample.v1': '2e646c01bd3a2d4f',
    })
  })
})

describe('Parsing Canonical Form', () => {
  it('strips docs, defaults, logical types and aliases, orders keys, qualifies names', () => {
    const schema = {
      doc: 'dropped',
      name: 'Outer',
      namespace: 'a.b',
      aliases: ['Old'],
      type: 'record',
      fields: [
        { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' }, doc: 'x', default: 0 },
        { type: { type: 'enum', symbols: ['X', 'Y'], name: 'E', default: 'X' }, name: 'e' },
        { name: 'again', type: ['null', 'E'], default: null },
        { name: 'inner', type: { type: 'record', name: 'c.Inner', fields: [{ name: 'f', type: { type: 'fixed', name: 'F', size: 4 } }] } },
        { name: 'm', type: { type: 'map', values: { type: 'array', items: 'c.F' } }, order: 'ignore' },
      ],
    }
    expect(parsingCanonicalForm(schema)).toBe(
      '{"name":"a.b.Outer","type":"record","fields":[' +
        '{"name":"at","type":"long"},' +
        '{"name":"e","type":{"name":"a.b.E","type":"enum","symbols":["X","Y"]}},' +
        '{"name":"again","type":["null","a.b.E"]},' +
        '{"name":"inner","type":{"name":"c.Inner","type":"record","fields":[{"name":"f","type":{"name":"c.F","type":"fixed","size":4}}]}},' +
        '{"name":"m","type":{"type":"map","values":{"type":"array","items":"c.F"}}}]}',
    )
  })

  it('agrees with avsc and fastavro on the released schemas', () => {
    for (const entry of new SchemaCatalog().entries()) {
      const fromFile = parsingCanonicalForm(readFileSync(entry.origin, 'utf8'))
      expect(fromFile).toBe(entry.canonicalForm)
      expect(fromFile).toBe(JSON.stringify(entry.type.schema()))
    }
  })

  it('refuses a reference to a type that was never defined', () => {
    expect(() => parsingCanonicalForm({ type: 'array', items: 'Nope' })).toThrow('unknown type name: Nope')
  })
})

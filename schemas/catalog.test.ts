import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { DEFAULT_SCHEMA_DIR, SchemaCatalog, readSchemaFiles, type CatalogOptions } from './catalog.ts'
import { DiffwatchError } from './errors.ts'
import { newestSchemaVersion } from './test-fixtures.ts'

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

/** A schema folder with the released files plus `extra` files, in its own temp dir. */
function schemaDir(extra: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'dw-schemas-'))
  dirs.push(dir)
  for (const name of readdirSync(DEFAULT_SCHEMA_DIR).filter((n) => n.endsWith('.avsc'))) copyFileSync(join(DEFAULT_SCHEMA_DIR, name), join(dir, name))
  for (const [name, text] of Object.entries(extra)) writeFileSync(join(dir, name), text)
  return dir
}

function catalogError(options: CatalogOptions): { code: string; message: string } {
  try {
    new SchemaCatalog(options)
  } catch (err) {
    if (err instanceof DiffwatchError) return { code: err.code, message: err.message }
    throw err
  }
  throw new Error('catalog did not throw')
}

const GPU_V1 = readSchemaFiles().find((s) => s.kind === 'gpu-sample')?.schema as string

describe('SchemaCatalog', () => {
  it('loads every released version; the reader is the newest; readers need no resolver', () => {
    const catalog = new SchemaCatalog()
    expect(catalog.entries().map((e) => [e.kind, e.version])).toEqual([['request-event', 1], ['request-event', 2], ['gpu-sample', 1]])
    const reader = catalog.reader('request-event')
    expect(reader.version).toBe(2)
    expect(reader.version).toBe(newestSchemaVersion('request-event'))
    expect(reader.type.name).toBe('dev.diffwatch.events.RequestEvent')
    expect(catalog.resolver(reader)).toBeUndefined()
    // The released v1 writer is read through a resolver to the v2 reader, built at start-up.
    const v1 = catalog.versions('request-event')[0]
    if (v1 === undefined) throw new Error('no v1')
    expect(catalog.resolver(v1)).toBeDefined()
    expect(catalog.kindOfRecord('dev.diffwatch.events.GpuSample')).toBe('gpu-sample')
    expect(catalog.kindOfRecord('GpuSample')).toBeUndefined()
  })

  it('builds the writer → reader resolver once and returns the cached one', () => {
    const v2 = JSON.parse(GPU_V1) as { fields: unknown[] }
    v2.fields.push({ name: 'fan_pct', type: ['null', 'float'], default: null })
    const catalog = new SchemaCatalog({ extraSchemas: [{ kind: 'gpu-sample', version: 2, schema: v2 }] })
    const v1 = catalog.versions('gpu-sample')[0]
    if (v1 === undefined) throw new Error('no v1')
    expect(catalog.reader('gpu-sample').version).toBe(2)
    expect(catalog.resolver(v1)).toBeDefined()
    expect(catalog.resolver(v1)).toBe(catalog.resolver(v1))
  })

  it('refuses a misnamed schema file', () => {
    expect(catalogError({ schemaDir: schemaDir({ 'gpu-sample.avsc': GPU_V1 }) })).toEqual({
      code: 'SCH_CATALOG',
      message: 'gpu-sample.avsc: schema files are named <kind>.v<N>.avsc with kind one of request-event, gpu-sample',
    })
    expect(catalogError({ schemaDir: schemaDir({ 'gpu-samples.v2.avsc': GPU_V1 }) }).message).toBe(
      'gpu-samples.v2.avsc: schema files are named <kind>.v<N>.avsc with kind one of request-event, gpu-sample',
    )
  })

  it('refuses a gap in the versions (a released file was deleted)', () => {
    expect(catalogError({ schemaDir: schemaDir({ 'gpu-sample.v3.avsc': GPU_V1 }) })).toEqual({
      code: 'SCH_CATALOG',
      message: 'gpu-sample: versions must run 1..N without gaps; v2 is missing',
    })
  })

  it('refuses a file whose record is not the record of its kind', () => {
    const dir = schemaDir({ 'request-event.v3.avsc': GPU_V1 })
    expect(catalogError({ schemaDir: dir })).toEqual({
      code: 'SCH_CATALOG',
      message: `${join(dir, 'request-event.v3.avsc')}: a request-event schema must define record dev.diffwatch.events.RequestEvent, found dev.diffwatch.events.GpuSample`,
    })
  })

  it('refuses invalid JSON / Avro and a version defined twice', () => {
    expect(catalogError({ extraSchemas: [{ kind: 'gpu-sample', version: 2, schema: '{"type": "record"', origin: 'broken' }] }).message).toMatch(
      /^broken: not a valid Avro schema: /,
    )
    expect(catalogError({ extraSchemas: [{ kind: 'gpu-sample', version: 1, schema: GPU_V1 }] })).toEqual({
      code: 'SCH_CATALOG',
      message: 'gpu-sample v1 is defined twice (gpu-sample.v1 (extra))',
    })
  })

  it('fails at start-up when a released version cannot be read by the reader', () => {
    const v2 = JSON.parse(GPU_V1) as { fields: Array<Record<string, unknown>> }
    v2.fields.push({ name: 'rack', type: 'string' }) // no default: v1 data cannot fill it
    expect(catalogError({ extraSchemas: [{ kind: 'gpu-sample', version: 2, schema: v2 }] })).toEqual({
      code: 'SCH_INCOMPATIBLE_SCHEMA',
      message: 'gpu-sample writer v1 cannot be read with reader v2: no matching field for default-less dev.diffwatch.events.GpuSample.rack',
    })
  })

  it('pins a reader version, and refuses a pin to a missing version', () => {
    const pinned = new SchemaCatalog({ readerVersions: { 'request-event': 1 } })
    expect(pinned.reader('request-event').version).toBe(1)
    const v2 = pinned.versions('request-event')[1]
    if (v2 === undefined) throw new Error('no v2')
    expect(pinned.resolver(v2)).toBeDefined() // a v1 reader still reads v2 writers
    expect(catalogError({ readerVersions: { 'gpu-sample': 2 } })).toEqual({
      code: 'SCH_CATALOG',
      message: `gpu-sample: no schema version 2 in ${DEFAULT_SCHEMA_DIR}`,
    })
  })
})

/**
 * The schema catalog: every released version of every event schema, and how to read each one.
 *
 * Files are `schemas/<kind>.v<N>.avsc`; every version ever released stays on disk, numbered from
 * 1 without gaps. For each version the catalog holds the avsc Type, the Parsing Canonical Form and
 * its CRC-64-AVRO fingerprint. The reader schema of a kind is its newest version (or a pinned one);
 * writer → reader resolvers are built once, when the catalog is built, so an incompatible schema
 * fails at start-up (SCH_INCOMPATIBLE_SCHEMA), never per message. Bad files fail with SCH_CATALOG.
 *
 * avsc options used for every Type: unions are unwrapped (`["null", X]` reads as X or null) and
 * records carry no methods, so decoded values are plain data.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import avro from 'avsc'
import type { Type } from 'avsc'
import { parsingCanonicalForm } from './canonical-form.ts'
import { DiffwatchError } from './errors.ts'
import { schemaFingerprint } from './fingerprint.ts'

export const SCHEMA_KINDS = ['request-event', 'gpu-sample'] as const
export type SchemaKind = (typeof SCHEMA_KINDS)[number]

/** Full Avro name of each kind's record; a file of a kind must define exactly this record. */
export const RECORD_NAMES: Readonly<Record<SchemaKind, string>> = {
  'request-event': 'dev.diffwatch.events.RequestEvent',
  'gpu-sample': 'dev.diffwatch.events.GpuSample',
}

/** The folder of the released `.avsc` files (this folder). */
export const DEFAULT_SCHEMA_DIR = fileURLToPath(new URL('.', import.meta.url))

export type Resolver = ReturnType<Type['createResolver']>

/** How every schema is turned into an avsc Type, writer or reader, on disk or from a registry. */
export function parseAvroType(schema: object): Type {
  return avro.Type.forSchema(schema as avro.Schema, { wrapUnions: 'auto', omitRecordMethods: true })
}

export interface SchemaSource {
  readonly kind: SchemaKind
  readonly version: number
  /** Schema JSON text or parsed object. */
  readonly schema: string | object
  /** Where it came from, for messages (file path, "test"). */
  readonly origin?: string
}

export interface CatalogOptions {
  /** Folder of `<kind>.v<N>.avsc` files. Default: DEFAULT_SCHEMA_DIR. */
  readonly schemaDir?: string
  /** Versions that are not on disk (tests: an older or newer schema). Must not repeat a file's version. */
  readonly extraSchemas?: readonly SchemaSource[]
  /** Pin the reader version of a kind. Default: the newest version of each kind. */
  readonly readerVersions?: Readonly<Partial<Record<SchemaKind, number>>>
}

export interface SchemaEntry {
  readonly kind: SchemaKind
  readonly version: number
  readonly origin: string
  /** The schema as parsed JSON, docs included (the type generator reads it). */
  readonly schema: Readonly<Record<string, unknown>>
  readonly type: Type
  readonly canonicalForm: string
  /** CRC-64-AVRO of the canonical form, unsigned. */
  readonly fingerprint: bigint
}

const FILE_NAME = /^([a-z][a-z0-9-]*)\.v([1-9][0-9]*)\.avsc$/

/** Reads every `.avsc` file of a folder as a SchemaSource; a misnamed file is an error. */
export function readSchemaFiles(dir: string = DEFAULT_SCHEMA_DIR): SchemaSource[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.avsc'))
    .sort()
    .map((name) => {
      const match = FILE_NAME.exec(name)
      const kind = match?.[1]
      if (match === null || !isSchemaKind(kind)) {
        throw catalogError(`${name}: schema files are named <kind>.v<N>.avsc with kind one of ${SCHEMA_KINDS.join(', ')}`)
      }
      return { kind, version: Number(match[2]), schema: readFileSync(join(dir, name), 'utf8'), origin: join(dir, name) }
    })
}

export function isSchemaKind(value: unknown): value is SchemaKind {
  return (SCHEMA_KINDS as readonly unknown[]).includes(value)
}

export class SchemaCatalog {
  private readonly byKind = new Map<SchemaKind, SchemaEntry[]>()
  private readonly readers = new Map<SchemaKind, SchemaEntry>()
  private readonly resolvers = new Map<SchemaEntry, Resolver>()

  constructor(options: CatalogOptions = {}) {
    const sources = [...readSchemaFiles(options.schemaDir), ...(options.extraSchemas ?? [])]
    for (const source of sources) this.add(buildEntry(source))
    for (const kind of SCHEMA_KINDS) {
      const versions = this.versions(kind)
      versions.forEach((entry, i) => {
        if (entry.version !== i + 1) throw catalogError(`${kind}: versions must run 1..N without gaps; v${i + 1} is missing`)
      })
      const pinned = options.readerVersions?.[kind]
      const reader = pinned === undefined ? versions.at(-1) : versions[pinned - 1]
      if (reader === undefined) throw catalogError(`${kind}: no schema version ${pinned ?? 1} in ${options.schemaDir ?? DEFAULT_SCHEMA_DIR}`)
      this.readers.set(kind, reader)
      for (const writer of versions) {
        if (writer !== reader) this.resolvers.set(writer, this.resolverFor(kind, writer.type, `v${writer.version}`))
      }
    }
  }

  /** Every version of a kind, oldest first. */
  versions(kind: SchemaKind): readonly SchemaEntry[] {
    return this.byKind.get(kind) ?? []
  }

  entries(): readonly SchemaEntry[] {
    return SCHEMA_KINDS.flatMap((kind) => this.versions(kind))
  }

  /** The reader schema of a kind: what decoded values look like and what encoders write. */
  reader(kind: SchemaKind): SchemaEntry {
    const reader = this.readers.get(kind)
    if (reader === undefined) throw catalogError(`no reader for ${kind}`) // constructor guarantees one
    return reader
  }

  /** The cached writer → reader resolver; undefined when the writer is the reader itself. */
  resolver(writer: SchemaEntry): Resolver | undefined {
    return this.resolvers.get(writer)
  }

  /** Builds (does not cache) a resolver for a writer Type from elsewhere, e.g. a schema registry. */
  resolverFor(kind: SchemaKind, writer: Type, label: string): Resolver {
    const reader = this.reader(kind)
    try {
      return reader.type.createResolver(writer)
    } catch (cause) {
      throw new DiffwatchError(
        'SCH_INCOMPATIBLE_SCHEMA',
        `${kind} writer ${label} cannot be read with reader v${reader.version}: ${(cause as Error).message}`,
        { cause },
      )
    }
  }

  /** The kind whose record has this full name, if any. */
  kindOfRecord(fullName: string): SchemaKind | undefined {
    return SCHEMA_KINDS.find((kind) => RECORD_NAMES[kind] === fullName)
  }

  private add(entry: SchemaEntry): void {
    const list = this.byKind.get(entry.kind) ?? []
    if (list.some((e) => e.version === entry.version)) {
      throw catalogError(`${entry.kind} v${entry.version} is defined twice (${entry.origin})`)
    }
    list.push(entry)
    list.sort((a, b) => a.version - b.version)
    this.byKind.set(entry.kind, list)
  }
}

function buildEntry(source: SchemaSource): SchemaEntry {
  const origin = source.origin ?? `${source.kind}.v${source.version} (extra)`
  if (!Number.isInteger(source.version) || source.version < 1) throw catalogError(`${origin}: version must be a positive integer`)
  let schema: Record<string, unknown>
  let type: Type
  let canonicalForm: string
  try {
    schema = (typeof source.schema === 'string' ? JSON.parse(source.schema) : source.schema) as Record<string, unknown>
    type = parseAvroType(schema)
    canonicalForm = parsingCanonicalForm(schema)
  } catch (cause) {
    throw catalogError(`${origin}: not a valid Avro schema: ${(cause as Error).message}`, cause)
  }
  if (type.name !== RECORD_NAMES[source.kind]) {
    throw catalogError(`${origin}: a ${source.kind} schema must define record ${RECORD_NAMES[source.kind]}, found ${type.name ?? type.typeName}`)
  }
  return { kind: source.kind, version: source.version, origin, schema, type, canonicalForm, fingerprint: schemaFingerprint(canonicalForm) }
}

function catalogError(message: string, cause?: unknown): DiffwatchError {
  return new DiffwatchError('SCH_CATALOG', message, { cause })
}

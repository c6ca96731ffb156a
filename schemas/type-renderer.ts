/**
 * Renders `schemas/generated/types.ts` from the reader (newest) schema of each kind, so event
 * types are never written by hand. `scripts/gen-schema-types.ts` writes the file; a unit test
 * renders it again in memory and fails when the committed file is stale.
 *
 * Mapping (matches how the codec's avsc Types decode): int/long/float/double → number (long as a
 * JS number: exact up to 2^53, fine for epoch ms), boolean, string, bytes/fixed → Buffer, enum →
 * a union of its symbols plus a `const` array of them, `["null", X]` → `X | null`, array → `X[]`,
 * map → `Record<string, X>`, logical types → their underlying type. Unions with more than one
 * non-null branch are refused: avsc would wrap or guess them, and no schema needs them yet.
 *
 * Two types per record: `RequestEvent` is what `decode` returns (every field present);
 * `RequestEventInput` is what encoders take: fields that have a schema default may be left out
 * (or undefined), and the default is written.
 */
import { SCHEMA_KINDS, SchemaCatalog } from './catalog.ts'

export const GENERATED_TYPES_PATH = 'schemas/generated/types.ts'
export const GENERATOR_COMMAND = 'npx tsx scripts/gen-schema-types.ts'

type Json = Record<string, unknown>

interface RenderState {
  /** Full names already rendered, to their TS name. */
  readonly named: Map<string, string>
  /** Declarations in dependency order (a type before its first user). */
  readonly blocks: string[]
}

export function renderSchemaTypes(catalog: SchemaCatalog = new SchemaCatalog()): string {
  const state: RenderState = { named: new Map(), blocks: [] }
  const readers = SCHEMA_KINDS.map((kind) => catalog.reader(kind))
  const roots = readers.map((entry) => renderRecord(entry.schema, '', state))
  const header = [
    '// GENERATED FILE, do not edit. Source: ' + readers.map((e) => `schemas/${e.kind}.v${e.version}.avsc`).join(', ') + '.',
    `// Regenerate with: ${GENERATOR_COMMAND}`,
  ]
  const byKind = (suffix: string): string[] =>
    SCHEMA_KINDS.map((kind, i) => `  '${kind}': ${roots[i] as string}${suffix}`)
  return [
    ...header,
    '',
    ...state.blocks,
    '/** Decoded value type of each event kind. */',
    'export interface EventByKind {',
    ...byKind(''),
    '}',
    '',
    '/** Encoder input type of each event kind. */',
    'export interface EventInputByKind {',
    ...byKind('Input'),
    '}',
    '',
  ].join('\n')
}

function renderRecord(schema: Json, namespace: string, state: RenderState): string {
  const { full, short, ns } = names(schema, namespace)
  state.named.set(full, short)
  const fields = schema['fields'] as Json[]
  const lines: string[] = []
  const defaulted: string[] = []
  for (const field of fields) {
    const name = field['name'] as string
    const tsType = renderType(field['type'], ns, state)
    const hasDefault = 'default' in field
    if (hasDefault) defaulted.push(name)
    const doc = [
      typeof field['doc'] === 'string' ? field['doc'] : '',
      isFloat(field['type']) ? FLOAT_NOTE : '',
      hasDefault ? `Schema default: \`${JSON.stringify(field['default'])}\`.` : '',
    ]
    lines.push(...jsDoc(doc.filter(Boolean).join(' '), '  '), `  ${name}: ${tsType}`)
  }
  const block = [...jsDoc(docOf(schema), ''), `export interface ${short} {`, ...lines, '}', '']
  const keys = defaulted.map((n) => `'${n}'`).join(' | ')
  block.push(
    `/** Fields of ${short} that an encoder may leave out: the schema default is written. */`,
    `export type ${short}DefaultedField = ${keys === '' ? 'never' : keys}`,
    `/** ${short} as encoders take it: fields with a schema default are optional. */`,
    `export type ${short}Input = Omit<${short}, ${short}DefaultedField> & Partial<Pick<${short}, ${short}DefaultedField>>`,
    '',
  )
  state.blocks.push(block.join('\n'))
  return short
}

function renderType(schema: unknown, namespace: string, state: RenderState): string {
  if (typeof schema === 'string') return primitiveOrReference(schema, namespace, state)
  if (Array.isArray(schema)) {
    const branches = schema.filter((b) => b !== 'null')
    if (branches.length > 1) throw new Error(`union ${JSON.stringify(schema)}: only ["null", X] unions are supported`)
    const inner = branches.length === 0 ? 'null' : renderType(branches[0], namespace, state)
    return branches.length < schema.length && inner !== 'null' ? `${inner} | null` : inner
  }
  const obj = schema as Json
  const type = obj['type']
  if (typeof type !== 'string') return renderType(type, namespace, state)
  switch (type) {
    case 'record':
    case 'error':
      return renderRecord(obj, namespace, state)
    case 'enum':
      return renderEnum(obj, namespace, state)
    case 'fixed':
      state.named.set(names(obj, namespace).full, 'Buffer')
      return 'Buffer'
    case 'array': {
      const items = renderType(obj['items'], namespace, state)
      return items.includes('|') ? `(${items})[]` : `${items}[]`
    }
    case 'map':
      return `Record<string, ${renderType(obj['values'], namespace, state)}>`
    default:
      return primitiveOrReference(type, namespace, state) // primitives, logical types included
  }
}

function renderEnum(schema: Json, namespace: string, state: RenderState): string {
  const { full, short } = names(schema, namespace)
  state.named.set(full, short)
  const symbols = schema['symbols'] as string[]
  const constName = pluralConstName(short)
  const fallback = typeof schema['default'] === 'string' ? ` A reader maps symbols it does not know to \`${schema['default']}\`.` : ''
  state.blocks.push(
    [
      `/** Symbols of enum ${short}, in schema order. */`,
      `export const ${constName} = [${symbols.map((s) => `'${s}'`).join(', ')}] as const`,
      ...jsDoc(`${docOf(schema) || `Enum ${short}.`}${fallback}`, ''),
      `export type ${short} = (typeof ${constName})[number]`,
      '',
    ].join('\n'),
  )
  return short
}

const PRIMITIVE_TS: Readonly<Record<string, string>> = {
  null: 'null', boolean: 'boolean', int: 'number', long: 'number', float: 'number', double: 'number', bytes: 'Buffer', string: 'string',
}

function primitiveOrReference(name: string, namespace: string, state: RenderState): string {
  const primitive = PRIMITIVE_TS[name]
  if (primitive !== undefined) return primitive
  const full = name.includes('.') || namespace === '' ? name : `${namespace}.${name}`
  const known = state.named.get(full) ?? state.named.get(name)
  if (known === undefined) throw new Error(`unknown type name ${name}`)
  return known
}

function names(schema: Json, namespace: string): { full: string; short: string; ns: string } {
  const name = schema['name'] as string
  const ns = typeof schema['namespace'] === 'string' ? schema['namespace'] : namespace
  const full = name.includes('.') || ns === '' ? name : `${ns}.${name}`
  const dot = full.lastIndexOf('.')
  return { full, short: full.slice(dot + 1), ns: dot < 0 ? '' : full.slice(0, dot) }
}

const FLOAT_NOTE = 'Avro float: decodes as the nearest float32 (7.3 reads back as 7.300000190734863).'

function isFloat(schema: unknown): boolean {
  if (Array.isArray(schema)) return schema.some(isFloat)
  return schema === 'float' || (typeof schema === 'object' && schema !== null && (schema as Json)['type'] === 'float')
}

function docOf(schema: Json): string {
  return typeof schema['doc'] === 'string' ? schema['doc'] : ''
}

/** ErrorType → ERROR_TYPES, RequestStatus → REQUEST_STATUSES, SampleSource → SAMPLE_SOURCES. */
export function pluralConstName(typeName: string): string {
  const snake = typeName.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()
  if (/(S|X|CH|SH)$/.test(snake)) return `${snake}ES`
  if (/[^AEIOU]Y$/.test(snake)) return `${snake.slice(0, -1)}IES`
  return `${snake}S`
}

/** A JSDoc block wrapped at ~100 columns; `*\/` inside docs is escaped. */
function jsDoc(text: string, indent: string): string[] {
  if (text === '') return []
  const safe = text.replace(/\*\//g, '*\\/')
  const width = 100 - indent.length - 3
  if (safe.length <= width - 4) return [`${indent}/** ${safe} */`]
  const lines: string[] = []
  let line = ''
  for (const word of safe.split(/\s+/)) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line)
      line = word
    } else {
      line = line === '' ? word : `${line} ${word}`
    }
  }
  if (line !== '') lines.push(line)
  return [`${indent}/**`, ...lines.map((l) => `${indent} * ${l}`), `${indent} */`]
}

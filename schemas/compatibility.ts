/**
 * Schema compatibility check: can data written with one Avro schema be read with another?
 *
 * Implements the Avro specification's schema-resolution rules over the published JSON schemas
 * (not over a library's resolver, so the rule a release must pass is written down here):
 * - primitives match or promote (int → long/float/double, long → float/double, float → double,
 *   string ⇄ bytes); logical types resolve as their underlying type;
 * - records match by name (or alias); a reader field the writer lacks needs a default; a writer
 *   field the reader lacks is skipped;
 * - enums match by name; a writer symbol the reader lacks needs an enum default in the reader;
 * - arrays, maps by their items / values; fixed by name and size;
 * - a writer union needs every branch readable; a reader union needs one branch that reads the
 *   (non-union) writer.
 *
 * `releaseIssues` checks every consecutive pair of released versions of each kind in both
 * directions (FULL compatibility: the new reader reads old data, the old reader reads new data),
 * which is what lets transformers and workers be upgraded in any order. An empty list means the
 * release is safe; every issue names the direction, the field path and what is wrong.
 */
import { readSchemaFiles, SCHEMA_KINDS, DEFAULT_SCHEMA_DIR } from './catalog.ts'

export interface CompatibilityIssue {
  /** Dotted path from the record, e.g. `RequestEvent.error_type`. */
  readonly path: string
  readonly message: string
}

type Json = unknown
type Named = Record<string, Json>
const PRIMITIVES = new Set(['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string'])
const PROMOTIONS: Readonly<Record<string, readonly string[]>> = {
  int: ['long', 'float', 'double'],
  long: ['float', 'double'],
  float: ['double'],
  string: ['bytes'],
  bytes: ['string'],
}

/** A schema with its named types indexed by full name, so references can be followed. */
class SchemaIndex {
  readonly named = new Map<string, Named>()
  readonly root: Json

  constructor(schema: Json) {
    this.root = schema
    this.collect(schema, '')
  }

  /** Follows references and unwraps `{type: "int"}`-style primitives; returns the node. */
  resolve(schema: Json, namespace: string): { node: Json; namespace: string } {
    if (typeof schema === 'string') {
      if (PRIMITIVES.has(schema)) return { node: schema, namespace }
      const full = schema.includes('.') ? schema : namespace === '' ? schema : `${namespace}.${schema}`
      const named = this.named.get(full) ?? this.named.get(schema)
      if (named === undefined) throw new Error(`unknown type reference ${schema}`)
      return { node: named, namespace: namespaceOf(named, namespace) }
    }
    if (isObject(schema) && typeof schema['type'] === 'string' && PRIMITIVES.has(schema['type'])) {
      return { node: schema['type'], namespace }
    }
    return { node: schema, namespace }
  }

  private collect(schema: Json, namespace: string): void {
    if (Array.isArray(schema)) return schema.forEach((branch) => this.collect(branch, namespace))
    if (!isObject(schema)) return
    const type = schema['type']
    if (type === 'record' || type === 'error' || type === 'enum' || type === 'fixed') {
      const ns = namespaceOf(schema, namespace)
      this.named.set(fullName(schema, namespace), schema)
      if (Array.isArray(schema['fields'])) for (const f of schema['fields']) if (isObject(f)) this.collect(f['type'], ns)
    } else if (type === 'array') this.collect(schema['items'], namespace)
    else if (type === 'map') this.collect(schema['values'], namespace)
    else if (isObject(type) || Array.isArray(type)) this.collect(type, namespace)
  }
}

/** Issues that stop `reader` from reading data written with `writer`; empty when it can. */
export function readIssues(reader: Json, writer: Json): CompatibilityIssue[] {
  const issues: CompatibilityIssue[] = []
  const r = new SchemaIndex(reader)
  const w = new SchemaIndex(writer)
  check({ r, w, issues, seen: new Set() }, r.root, '', w.root, '', rootName(reader))
  return issues
}

/** FULL compatibility of two versions: each reads the other's data. Issues are prefixed by direction. */
export function fullCompatibilityIssues(older: Json, newer: Json): CompatibilityIssue[] {
  const tag = (prefix: string) => (i: CompatibilityIssue) => ({ path: i.path, message: `${prefix}: ${i.message}` })
  return [
    ...readIssues(newer, older).map(tag('new reader, old data')),
    ...readIssues(older, newer).map(tag('old reader, new data')),
  ]
}

/** Every released pair (vN, vN+1) of every kind, checked for FULL compatibility. */
export function releaseIssues(schemaDir: string = DEFAULT_SCHEMA_DIR): Array<CompatibilityIssue & { pair: string }> {
  const sources = readSchemaFiles(schemaDir)
  return SCHEMA_KINDS.flatMap((kind) => {
    const versions = sources.filter((s) => s.kind === kind).sort((a, b) => a.version - b.version)
    return versions.slice(1).flatMap((newer, i) => {
      const older = versions[i]!
      const parse = (s: string | object): Json => (typeof s === 'string' ? JSON.parse(s) : s)
      const pair = `${kind} v${older.version} → v${newer.version}`
      return fullCompatibilityIssues(parse(older.schema), parse(newer.schema)).map((issue) => ({ ...issue, pair }))
    })
  })
}

interface Ctx {
  readonly r: SchemaIndex
  readonly w: SchemaIndex
  readonly issues: CompatibilityIssue[]
  /** Record pairs under check, so recursive records terminate. */
  readonly seen: Set<string>
}

function check(ctx: Ctx, readerSchema: Json, rns: string, writerSchema: Json, wns: string, path: string): void {
  const { node: rd, namespace: rNs } = ctx.r.resolve(readerSchema, rns)
  const { node: wr, namespace: wNs } = ctx.w.resolve(writerSchema, wns)
  const wType = typeOf(wr)
  const rType = typeOf(rd)
  if (wType === 'union') {
    for (const branch of wr as Json[]) check(ctx, rd, rNs, branch, wNs, path)
    return
  }
  if (rType === 'union') {
    const readable = (rd as Json[]).some((branch) => {
      const probe: Ctx = { ...ctx, issues: [] }
      check(probe, branch, rNs, wr, wNs, path)
      return probe.issues.length === 0
    })
    if (!readable) issue(ctx, path, `no branch of the reader union ${describe(rd)} reads writer type ${describe(wr)}`)
    return
  }
  if (rType !== wType && !(PROMOTIONS[wType] ?? []).includes(rType)) {
    issue(ctx, path, `type changed: writer ${describe(wr)} cannot be read as ${describe(rd)}`)
    return
  }
  if (PRIMITIVES.has(rType)) return
  const rObj = rd as Named
  const wObj = wr as Named
  if (rType !== 'array' && rType !== 'map' && !namesMatch(rObj, rNs, wObj, wNs)) {
    issue(ctx, path, `named type changed: writer ${fullName(wObj, wNs)} is not reader ${fullName(rObj, rNs)} (nor an alias)`)
    return
  }
  if (rType === 'array') check(ctx, rObj['items'], rNs, wObj['items'], wNs, `${path}[]`)
  else if (rType === 'map') check(ctx, rObj['values'], rNs, wObj['values'], wNs, `${path}{}`)
  else if (rType === 'fixed' && rObj['size'] !== wObj['size']) issue(ctx, path, `fixed size changed from ${String(wObj['size'])} to ${String(rObj['size'])}`)
  else if (rType === 'enum') checkEnum(ctx, rObj, wObj, path)
  else if (rType === 'record' || rType === 'error') checkRecord(ctx, rObj, namespaceOf(rObj, rNs), wObj, namespaceOf(wObj, wNs), path)
}

function checkRecord(ctx: Ctx, reader: Named, rns: string, writer: Named, wns: string, path: string): void {
  const key = `${fullName(reader, rns)}<${fullName(writer, wns)}`
  if (ctx.seen.has(key)) return
  ctx.seen.add(key)
  const writerFields = fieldsOf(writer)
  for (const field of fieldsOf(reader)) {
    const names = [field['name'], ...(Array.isArray(field['aliases']) ? field['aliases'] : [])]
    const match = writerFields.find((wf) => names.includes(wf['name']))
    const at = `${path}.${String(field['name'])}`
    if (match !== undefined) check(ctx, field['type'], rns, match['type'], wns, at)
    else if (!('default' in field)) issue(ctx, at, `reader field ${String(field['name'])} is missing from the writer and has no default`)
  }
}

function checkEnum(ctx: Ctx, reader: Named, writer: Named, path: string): void {
  const readerSymbols = new Set(asStrings(reader['symbols']))
  const missing = asStrings(writer['symbols']).filter((s) => !readerSymbols.has(s))
  if (missing.length > 0 && !('default' in reader)) {
    issue(ctx, path, `enum ${String(reader['name'])} cannot read writer symbol(s) ${missing.join(', ')} and has no default symbol`)
  }
}

function typeOf(node: Json): string {
  if (Array.isArray(node)) return 'union'
  if (typeof node === 'string') return node
  if (isObject(node) && typeof node['type'] === 'string') return node['type']
  throw new Error(`not an Avro schema: ${JSON.stringify(node)}`)
}

function namesMatch(reader: Named, rns: string, writer: Named, wns: string): boolean {
  const unqualified = (n: string): string => n.slice(n.lastIndexOf('.') + 1)
  const writerName = unqualified(fullName(writer, wns))
  const readerNames = [fullName(reader, rns), ...asStrings(reader['aliases'])].map(unqualified)
  return readerNames.includes(writerName)
}

function fullName(named: Named, namespace: string): string {
  const name = String(named['name'])
  if (name.includes('.')) return name
  const ns = typeof named['namespace'] === 'string' ? named['namespace'] : namespace
  return ns === '' ? name : `${ns}.${name}`
}

function namespaceOf(named: Named, enclosing: string): string {
  const full = fullName(named, enclosing)
  const dot = full.lastIndexOf('.')
  return dot < 0 ? '' : full.slice(0, dot)
}

function rootName(schema: Json): string {
  return isObject(schema) && typeof schema['name'] === 'string' ? schema['name'] : '(root)'
}

function fieldsOf(record: Named): Named[] {
  return Array.isArray(record['fields']) ? record['fields'].filter(isObject) : []
}

function asStrings(value: Json): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []
}

function describe(node: Json): string {
  if (Array.isArray(node)) return `[${node.map(describe).join(', ')}]`
  if (typeof node === 'string') return node
  if (isObject(node)) return typeof node['name'] === 'string' ? `${String(node['type'])} ${node['name']}` : String(node['type'])
  return String(node)
}

function isObject(value: Json): value is Named {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function issue(ctx: Ctx, path: string, message: string): void {
  ctx.issues.push({ path, message })
}

/**
 * Parsing Canonical Form of an Avro schema, written from the rules of the Avro specification
 * ("Parsing Canonical Form for Schemas"): PRIMITIVES, FULLNAMES, STRIP, ORDER, STRINGS,
 * INTEGERS, WHITESPACE. Two schemas that read and write the same bytes have the same form, so
 * its CRC-64-AVRO fingerprint identifies a writer schema on the wire.
 *
 * Guarantees: input is the parsed JSON of a schema (or its text); output is the exact string the
 * spec defines. Docs, aliases, defaults (of fields and enums), logical types and `order` are
 * stripped; names become full names; a named type already defined is written as its full name.
 * Throws on a malformed schema (unknown type name, missing fields), never returns garbage.
 */

const PRIMITIVES = new Set(['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string'])

interface Scope {
  /** Namespace that short names resolve against (the enclosing named type's namespace). */
  readonly namespace: string
  /** Full names already written; later references are written by name only. */
  readonly defined: Set<string>
}

export function parsingCanonicalForm(schema: unknown): string {
  const parsed: unknown = typeof schema === 'string' && !PRIMITIVES.has(schema) ? tryParseJson(schema) : schema
  return canonical(parsed, { namespace: '', defined: new Set() })
}

function tryParseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch {
    return text // a bare named reference like "RequestEvent" is not JSON
  }
}

function canonical(schema: unknown, scope: Scope): string {
  if (typeof schema === 'string') return canonicalName(schema, scope)
  if (Array.isArray(schema)) return `[${schema.map((branch) => canonical(branch, scope)).join(',')}]`
  if (schema === null || typeof schema !== 'object') throw new Error(`not an Avro schema: ${JSON.stringify(schema)}`)
  const obj = schema as Record<string, unknown>
  const type = obj['type']
  if (typeof type !== 'string') return canonical(type, scope) // {"type": {...}} or {"type": [...]}
  switch (type) {
    case 'record':
    case 'error':
      return canonicalRecord(obj, type, scope)
    case 'enum': {
      const { name } = declare(obj, scope)
      return `{"name":${JSON.stringify(name)},"type":"enum","symbols":${JSON.stringify(stringArray(obj['symbols'], name))}}`
    }
    case 'fixed': {
      const { name } = declare(obj, scope)
      const size = obj['size']
      if (typeof size !== 'number' || !Number.isInteger(size) || size < 0) throw new Error(`fixed ${name}: bad size`)
      return `{"name":${JSON.stringify(name)},"type":"fixed","size":${size}}`
    }
    case 'array':
      return `{"type":"array","items":${canonical(obj['items'], scope)}}`
    case 'map':
      return `{"type":"map","values":${canonical(obj['values'], scope)}}`
    default:
      // {"type": "long", "logicalType": ...} and friends collapse to the primitive name.
      return canonicalName(type, scope)
  }
}

function canonicalRecord(obj: Record<string, unknown>, type: string, outer: Scope): string {
  const { name, scope } = declare(obj, outer)
  const fields = obj['fields']
  if (!Array.isArray(fields)) throw new Error(`record ${name}: fields must be an array`)
  const parts = fields.map((field: unknown) => {
    if (field === null || typeof field !== 'object') throw new Error(`record ${name}: bad field`)
    const f = field as Record<string, unknown>
    if (typeof f['name'] !== 'string') throw new Error(`record ${name}: field without a name`)
    return `{"name":${JSON.stringify(f['name'])},"type":${canonical(f['type'], scope)}}`
  })
  return `{"name":${JSON.stringify(name)},"type":"${type}","fields":[${parts.join(',')}]}`
}

/** Registers a named type and returns its full name plus the scope its children resolve in. */
function declare(obj: Record<string, unknown>, outer: Scope): { name: string; scope: Scope } {
  const short = obj['name']
  if (typeof short !== 'string' || short === '') throw new Error(`named type without a name: ${JSON.stringify(obj)}`)
  const ns = typeof obj['namespace'] === 'string' ? obj['namespace'] : outer.namespace
  const name = fullName(short, ns)
  if (outer.defined.has(name)) throw new Error(`type ${name} is defined twice`)
  outer.defined.add(name)
  return { name, scope: { namespace: namespaceOf(name), defined: outer.defined } }
}

function canonicalName(name: string, scope: Scope): string {
  if (PRIMITIVES.has(name)) return JSON.stringify(name)
  const full = fullName(name, scope.namespace)
  if (!scope.defined.has(full)) throw new Error(`unknown type name: ${name}`)
  return JSON.stringify(full)
}

function fullName(name: string, namespace: string): string {
  return name.includes('.') || namespace === '' ? name : `${namespace}.${name}`
}

function namespaceOf(full: string): string {
  const dot = full.lastIndexOf('.')
  return dot < 0 ? '' : full.slice(0, dot)
}

function stringArray(value: unknown, owner: string): string[] {
  if (!Array.isArray(value) || !value.every((s): s is string => typeof s === 'string')) {
    throw new Error(`${owner}: symbols must be an array of strings`)
  }
  return value
}

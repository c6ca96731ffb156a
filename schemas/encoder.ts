/**
 * Encoders: a value of a kind → single-object framed bytes written with that kind's reader schema.
 *
 * Guarantees: the value is checked first (avsc `isValid`, undeclared fields refused too, so a
 * misspelt optional field is not silently dropped); an invalid value throws a SchemaValueError
 * (code SCH_INVALID_VALUE) that names every bad field path. A valid value costs one Buffer
 * allocation: the datum is written after a pre-built header in a reusable scratch buffer, then
 * copied out at its exact size.
 */
import type { Type, types } from 'avsc'
import avro from 'avsc'
import type { SchemaEntry } from './catalog.ts'
import { DiffwatchError } from './errors.ts'
import { SINGLE_OBJECT_HEADER_LENGTH, writeSingleObjectHeader } from './framing.ts'

export class SchemaValueError extends DiffwatchError {
  /** Dotted paths of the bad fields ("steps", "throttle_reasons.2"); "(value)" for the whole value. */
  readonly fieldPaths: readonly string[]

  constructor(message: string, fieldPaths: readonly string[]) {
    super('SCH_INVALID_VALUE', message)
    this.name = 'SchemaValueError'
    this.fieldPaths = fieldPaths
  }
}

const CHECK_OPTIONS = { noUndeclaredFields: true } as const
const INITIAL_SCRATCH_BYTES = 4096

export type Encoder = (value: unknown) => Buffer

export function createEncoder(entry: SchemaEntry): Encoder {
  const { type, fingerprint } = entry
  let scratch = Buffer.allocUnsafe(INITIAL_SCRATCH_BYTES)
  writeSingleObjectHeader(scratch, fingerprint)
  return (value) => {
    if (!type.isValid(value, CHECK_OPTIONS)) throw invalidValueError(entry, value)
    let end = type.encode(value, scratch, SINGLE_OBJECT_HEADER_LENGTH)
    if (end < 0) {
      // avsc returns minus the missing byte count; grow once to fit, keep the bigger scratch.
      scratch = Buffer.allocUnsafe(Math.max(scratch.length * 2, scratch.length - end))
      writeSingleObjectHeader(scratch, fingerprint)
      end = type.encode(value, scratch, SINGLE_OBJECT_HEADER_LENGTH)
    }
    const out = Buffer.allocUnsafe(end)
    scratch.copy(out, 0, 0, end)
    return out
  }
}

/** Builds the error for an invalid value; only runs on the failure path, so it may allocate freely. */
export function invalidValueError(entry: SchemaEntry, value: unknown): SchemaValueError {
  const problems: string[] = []
  const paths: string[] = []
  entry.type.isValid(value, {
    errorHook: (path: string[], bad: unknown, type: Type) => {
      const at = path.length === 0 ? '(value)' : path.join('.')
      paths.push(at)
      problems.push(`${at}: expected ${describe(type)}, got ${show(bad)}`)
    },
  })
  for (const field of undeclaredFields(entry.type, value)) {
    paths.push(field)
    problems.push(`${field}: not a field of ${entry.type.name ?? entry.kind}`)
  }
  const list = problems.length > 0 ? problems.join('; ') : 'rejected by the schema'
  return new SchemaValueError(`invalid ${entry.kind} value (schema v${entry.version}): ${list}`, paths)
}

function undeclaredFields(type: Type, value: unknown): string[] {
  if (value === null || typeof value !== 'object' || !avro.Type.isType(type, 'record')) return []
  const declared = new Set((type as types.RecordType).fields.map((f) => f.name))
  return Object.keys(value).filter((key) => !declared.has(key))
}

function describe(type: Type): string {
  if (avro.Type.isType(type, 'union')) return (type as types.UnwrappedUnionType).types.map(describe).join(' | ')
  if (avro.Type.isType(type, 'enum')) return `one of ${(type as types.EnumType).symbols.join('|')}`
  if (avro.Type.isType(type, 'array')) return `array of ${describe((type as types.ArrayType).itemsType)}`
  return type.name ?? type.typeName
}

function show(value: unknown): string {
  if (value === undefined) return 'undefined (missing)'
  if (typeof value === 'bigint') return `${value}n`
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

/**
 * A bounds pre-check for datums whose writer schema holds arrays or maps.
 *
 * Why: avsc trusts the block count of an array or map. A 30-byte message that claims 2e9 array
 * items makes avsc allocate and fill a 2e9-slot array, and the process dies with a fatal
 * "JavaScript heap out of memory" that no try/catch can stop: a poison message that would crash
 * the transformer again after every restart. This walk follows the writer schema over the bytes
 * (reading varints, allocating nothing) and rejects a block count that cannot fit in the bytes
 * left, before avsc sees the datum.
 *
 * Guarantees: `createDatumGuard` returns undefined for schemas without arrays or maps (no cost on
 * the hot path); otherwise a function that returns the end offset of the datum, or -1 with the
 * reason readable from `lastGuardFailure()`. It never throws on any input bytes.
 */
import avro from 'avsc'
import type { Type, types } from 'avsc'

/** Items whose encoding can be zero bytes (null, empty record) get this many per block at most. */
export const MAX_ZERO_SIZE_ITEMS = 4096

/** Returns the offset after the value at `pos`, or -1 when the bytes cannot hold it. */
export type DatumGuard = (buf: Buffer, pos: number) => number
type Walk = DatumGuard

let lastFailure = ''
/** Why the last guard returned -1 (module-wide; read it right after the failing call). */
export function lastGuardFailure(): string {
  return lastFailure
}

function fail(reason: string): number {
  lastFailure = reason
  return -1
}

export function createDatumGuard(writer: Type): DatumGuard | undefined {
  if (!hasCollections(writer, new Set())) return undefined
  return buildWalk(writer, new Map())
}

function hasCollections(type: Type, seen: Set<Type>): boolean {
  if (seen.has(type)) return false
  seen.add(type)
  if (avro.Type.isType(type, 'array', 'map')) return true
  return children(type).some((child) => hasCollections(child, seen))
}

function children(type: Type): Type[] {
  if (avro.Type.isType(type, 'record', 'error')) return (type as types.RecordType).fields.map((f) => f.type)
  if (avro.Type.isType(type, 'union')) return (type as types.UnwrappedUnionType).types
  if (avro.Type.isType(type, 'logical')) return [(type as types.LogicalType).underlyingType]
  if (avro.Type.isType(type, 'array')) return [(type as types.ArrayType).itemsType]
  if (avro.Type.isType(type, 'map')) return [(type as types.MapType).valuesType as Type]
  return []
}

/** Zig-zag varint at `pos`; sets `varintEnd`. Float arithmetic, so 64-bit counts do not wrap. */
let varintEnd = 0
function readVarint(buf: Buffer, pos: number): number {
  let n = 0
  let scale = 1
  let b: number
  do {
    if (pos >= buf.length || scale > 2 ** 63) {
      varintEnd = -1
      return 0
    }
    b = buf[pos++] as number
    n += (b & 0x7f) * scale
    scale *= 128
  } while (b & 0x80)
  varintEnd = pos
  return n % 2 === 0 ? n / 2 : -(n + 1) / 2
}

const skipVarint: Walk = (buf, pos) => {
  readVarint(buf, pos)
  return varintEnd < 0 ? fail('varint runs past the end') : varintEnd
}
const fixedSize = (size: number): Walk => (buf, pos) => (pos + size <= buf.length ? pos + size : fail('value runs past the end'))
const skipLengthPrefixed: Walk = (buf, pos) => {
  const len = readVarint(buf, pos)
  if (varintEnd < 0 || len < 0 || varintEnd + len > buf.length) return fail(`length ${len} runs past the end`)
  return varintEnd + len
}

function buildWalk(type: Type, memo: Map<Type, Walk>): Walk {
  const known = memo.get(type)
  if (known) return known
  // Recursive records refer to themselves: register a forwarder before building the body.
  let body: Walk = () => -1
  memo.set(type, (buf, pos) => body(buf, pos))
  body = buildBody(type, memo)
  memo.set(type, body)
  return body
}

function buildBody(type: Type, memo: Map<Type, Walk>): Walk {
  switch (type.typeName) {
    case 'null': return (_buf, pos) => pos
    case 'boolean': return fixedSize(1)
    case 'int': case 'long': case 'enum': return skipVarint
    case 'float': return fixedSize(4)
    case 'double': return fixedSize(8)
    case 'string': case 'bytes': return skipLengthPrefixed
    case 'fixed': return fixedSize((type as types.FixedType).size)
    case 'array': return blocks(type, [(type as types.ArrayType).itemsType], memo)
    case 'map': return blocks(type, [avro.Type.forSchema('string'), (type as types.MapType).valuesType as Type], memo)
    default: break
  }
  if (avro.Type.isType(type, 'logical')) return buildWalk((type as types.LogicalType).underlyingType, memo)
  if (avro.Type.isType(type, 'union')) return unionWalk((type as types.UnwrappedUnionType).types.map((t) => buildWalk(t, memo)))
  if (avro.Type.isType(type, 'record', 'error')) return sequence((type as types.RecordType).fields.map((f) => buildWalk(f.type, memo)))
  throw new Error(`datum guard: unsupported Avro type ${type.typeName}`)
}

function sequence(walks: Walk[]): Walk {
  return (buf, pos) => {
    let p = pos
    for (let i = 0; i < walks.length && p >= 0; i++) p = (walks[i] as Walk)(buf, p)
    return p
  }
}

function unionWalk(branches: Walk[]): Walk {
  return (buf, pos) => {
    const index = readVarint(buf, pos)
    if (varintEnd < 0) return fail('union index runs past the end')
    const branch = branches[index]
    return branch === undefined ? fail(`union index ${index} out of range`) : branch(buf, varintEnd)
  }
}

function blocks(type: Type, parts: Type[], memo: Map<Type, Walk>): Walk {
  const item = sequence(parts.map((t) => buildWalk(t, memo)))
  const minItemBytes = parts.reduce((sum, t) => sum + minBytes(t, new Set()), 0)
  return (buf, pos) => {
    let p = pos
    for (;;) {
      let count = readVarint(buf, p)
      if (varintEnd < 0) return fail(`${type.typeName} block count runs past the end`)
      p = varintEnd
      if (count === 0) return p
      if (count < 0) {
        count = -count
        const size = readVarint(buf, p) // negative count: a byte size follows
        if (varintEnd < 0 || size < 0 || varintEnd + size > buf.length) return fail(`${type.typeName} block size ${size} runs past the end`)
        p = varintEnd
      }
      const left = buf.length - p
      if (minItemBytes === 0 ? count > MAX_ZERO_SIZE_ITEMS : count > left / minItemBytes) {
        return fail(`${type.typeName} block count ${count} cannot fit in the ${left} bytes left`)
      }
      for (let i = 0; i < count; i++) {
        p = item(buf, p)
        if (p < 0) return -1
      }
    }
  }
}

/** Fewest bytes a value of this type can take on the wire. */
function minBytes(type: Type, seen: Set<Type>): number {
  switch (type.typeName) {
    case 'null': return 0
    case 'float': return 4
    case 'double': return 8
    case 'fixed': return (type as types.FixedType).size
    case 'boolean': case 'int': case 'long': case 'enum': case 'string': case 'bytes': case 'array': case 'map': return 1
    default: break
  }
  if (avro.Type.isType(type, 'union')) return 1
  if (avro.Type.isType(type, 'logical')) return minBytes((type as types.LogicalType).underlyingType, seen)
  if (seen.has(type)) return 0
  seen.add(type)
  return children(type).reduce((sum, t) => sum + minBytes(t, seen), 0)
}

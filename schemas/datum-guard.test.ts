import avro from 'avsc'
import { describe, expect, it } from 'vitest'
import { SchemaCatalog } from './catalog.ts'
import { sampleRequestEvent } from './test-fixtures.ts'
import { MAX_ZERO_SIZE_ITEMS, createDatumGuard, lastGuardFailure, type DatumGuard } from './datum-guard.ts'

// Every kind of Avro type the guard walks: record, recursion, union, enum, fixed, map, array,
// and the fixed-width primitives.
const WIDE = avro.Type.forSchema({
  type: 'record',
  name: 'Wide',
  fields: [
    { name: 'flag', type: 'boolean' },
    { name: 'f', type: 'float' },
    { name: 'd', type: 'double' },
    { name: 'id', type: { type: 'fixed', name: 'Id', size: 4 } },
    { name: 'e', type: { type: 'enum', name: 'E', symbols: ['A', 'B'] } },
    { name: 'tags', type: { type: 'map', values: { type: 'array', items: 'long' } } },
    { name: 'blob', type: ['null', 'bytes'] },
    { name: 'next', type: ['null', 'Wide'] },
  ],
})
const wideValue = {
  flag: true, f: 1.5, d: 2.25, id: Buffer.from('abcd'), e: 'B', tags: { x: [1, -300, 2 ** 40], y: [] }, blob: Buffer.from([9, 9]),
  next: { flag: false, f: 0, d: 0, id: Buffer.from('wxyz'), e: 'A', tags: {}, blob: null, next: null },
}

function guardOf(type: avro.Type): DatumGuard {
  const guard = createDatumGuard(type)
  if (guard === undefined) throw new Error('expected a guard')
  return guard
}

describe('datum guard', () => {
  it('is built only for schemas with arrays or maps: RequestEvent v1 costs nothing, v2 (lora_adapters) is guarded', () => {
    const catalog = new SchemaCatalog()
    const [v1, v2] = catalog.versions('request-event')
    if (v1 === undefined || v2 === undefined) throw new Error('expected request-event v1 and v2')
    expect(createDatumGuard(v1.type)).toBeUndefined()
    expect(createDatumGuard(v2.type)).toBeDefined()
    expect(createDatumGuard(catalog.reader('gpu-sample').type)).toBeDefined()
  })

  it('guards the lora_adapters block count of a RequestEvent v2 datum', () => {
    const v2 = new SchemaCatalog().versions('request-event')[1]
    if (v2 === undefined) throw new Error('expected request-event v2')
    const guard = guardOf(v2.type)
    // With lora_adapters empty and seed, precision, queue_depth null the datum ends in four zero
    // bytes: the array's end block, then three union branch 0 (null).
    const datum = v2.type.toBuffer(sampleRequestEvent({ lora_adapters: [], seed: null, precision: null, queue_depth: null }))
    expect(datum.subarray(-4).toString('hex')).toBe('00000000')
    expect(guard(datum, 0)).toBe(datum.length)
    const head = datum.subarray(0, -4)
    const tail = Buffer.from('000000', 'hex')

    const claimed = Buffer.concat([head, Buffer.from(zigzag(2e9)), tail])
    expect(guard(claimed, 0)).toBe(-1)
    expect(lastGuardFailure()).toBe('array block count 2000000000 cannot fit in the 3 bytes left')

    // Two adapters "a" and "b" fit; the guard walks to the exact end and avsc reads them back.
    const sane = Buffer.concat([head, Buffer.from([...zigzag(2), 0x02, 0x61, 0x02, 0x62, 0x00]), tail])
    expect(guard(sane, 0)).toBe(sane.length)
    expect((v2.type.fromBuffer(sane) as { lora_adapters: string[] }).lora_adapters).toEqual(['a', 'b'])
    // Three claimed, two present: the end block is read as a third (empty) item, every later field
    // shifts by one byte, and the last union branch finds no byte left.
    const short = Buffer.concat([head, Buffer.from([...zigzag(3), 0x02, 0x61, 0x02, 0x62, 0x00]), tail])
    expect(guard(short, 0)).toBe(-1)
    expect(lastGuardFailure()).toBe('union index runs past the end')
  })

  it('walks a valid datum to its exact end, and rejects every strict prefix', () => {
    const guard = guardOf(WIDE)
    const bytes = WIDE.toBuffer(wideValue)
    expect(guard(bytes, 0)).toBe(bytes.length)
    const rejected = Array.from({ length: bytes.length }, (_, k) => guard(bytes.subarray(0, k), 0)).filter((end) => end === -1)
    expect(rejected.length).toBe(bytes.length)
  })

  it('reads negative block counts (count + byte size), as Avro allows', () => {
    const type = avro.Type.forSchema({ type: 'array', items: 'int' })
    // Block of -2 items (zig-zag 03) with byte size 2 (04), items 1 and 2, then the end block.
    expect(guardOf(type)(Buffer.from([0x03, 0x04, 0x02, 0x04, 0x00]), 0)).toBe(5)
    expect(guardOf(type)(Buffer.from([0x03, 0x7e, 0x02, 0x04, 0x00]), 0)).toBe(-1)
    expect(lastGuardFailure()).toBe('array block size 63 runs past the end')
  })

  it('caps blocks of zero-size items (array of null)', () => {
    const type = avro.Type.forSchema({ type: 'array', items: 'null' })
    const ok = Buffer.from([...Buffer.from(zigzag(MAX_ZERO_SIZE_ITEMS)), 0x00])
    expect(guardOf(type)(ok, 0)).toBe(ok.length)
    expect(guardOf(type)(Buffer.from([...Buffer.from(zigzag(MAX_ZERO_SIZE_ITEMS + 1)), 0x00]), 0)).toBe(-1)
    expect(lastGuardFailure()).toBe('array block count 4097 cannot fit in the 1 bytes left')
  })

  it('rejects a union index out of range', () => {
    const type = avro.Type.forSchema({ type: 'array', items: ['null', 'int'] })
    expect(guardOf(type)(Buffer.from([0x02, 0x04, 0x00]), 0)).toBe(-1)
    expect(lastGuardFailure()).toBe('union index 2 out of range')
  })
})

function zigzag(n: number): number[] {
  const out: number[] = []
  let z = n * 2
  while (z >= 0x80) {
    out.push((z & 0x7f) | 0x80)
    z = Math.floor(z / 128)
  }
  out.push(z)
  return out
}

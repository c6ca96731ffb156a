import { describe, expect, it } from 'vitest'
import { RowBinaryWriter, compileRowEncoder, compileType } from './row-sink-rowbinary.ts'

function encode(type: string, value: unknown): number[] {
  const w = new RowBinaryWriter(4) // tiny on purpose: every write must grow the buffer correctly
  compileType(type)(w, value, 'c')
  return [...w.bytes()]
}

describe('RowBinary encoder', () => {
  it('writes fixed-width values little-endian', () => {
    expect(encode('UInt16', 0x1234)).toEqual([0x34, 0x12])
    expect(encode('Int32', -2)).toEqual([0xfe, 0xff, 0xff, 0xff])
    expect(encode('Int64', -1)).toEqual([255, 255, 255, 255, 255, 255, 255, 255])
    expect(encode('UInt64', 2 ** 32 + 5)).toEqual([5, 0, 0, 0, 1, 0, 0, 0])
    expect(encode('Int64', -(2 ** 32) - 1)).toEqual([0xff, 0xff, 0xff, 0xff, 0xfe, 0xff, 0xff, 0xff])
    expect(encode('Bool', true)).toEqual([1])
    const f32 = Buffer.alloc(4)
    f32.writeFloatLE(7.1)
    expect(encode('Float32', 7.1)).toEqual([...f32])
  })

  it('writes DateTime64(3) as epoch-ms ticks and DateTime as epoch seconds', () => {
    const ms = 1_795_000_000_123
    const ticks = Buffer.alloc(8)
    ticks.writeBigInt64LE(BigInt(ms))
    expect(encode("DateTime64(3, 'UTC')", ms)).toEqual([...ticks])
    const micro = Buffer.alloc(8)
    micro.writeBigInt64LE(BigInt(ms) * 1000n)
    expect(encode("DateTime64(6, 'UTC')", ms)).toEqual([...micro])
    expect(encode("DateTime('UTC')", 0x01020304)).toEqual([4, 3, 2, 1])
  })

  it('prefixes strings with their UTF-8 byte length as a varint, also past 127 and 16383 bytes', () => {
    expect(encode('String', 'ab')).toEqual([2, 97, 98])
    expect(encode('LowCardinality(String)', 'é')).toEqual([2, 0xc3, 0xa9])
    expect(encode('String', '')).toEqual([0])
    // ASCII then not: the short-string copy loop gives way to the UTF-8 encoder mid-string.
    expect(encode('String', 'abé')).toEqual([4, 97, 98, 0xc3, 0xa9])
    expect(encode('String', 'a'.repeat(63) + '€')).toEqual([66, ...Array<number>(63).fill(97), 0xe2, 0x82, 0xac])
    expect(encode('String', 'z'.repeat(63))).toEqual([63, ...Array<number>(63).fill(122)])
    expect(encode('String', 'z'.repeat(130)).slice(0, 3)).toEqual([0x82, 0x01, 122])
    const s200 = 'ü'.repeat(100) // 200 bytes -> varint c8 01
    expect(encode('String', s200).slice(0, 4)).toEqual([0xc8, 0x01, 0xc3, 0xbc])
    expect(encode('String', s200)).toHaveLength(202)
    const s20k = 'x'.repeat(20_000) // 20000 = 0x4e20 -> a0 9c 01
    const out = encode('String', s20k)
    expect(out.slice(0, 3)).toEqual([0xa0, 0x9c, 0x01])
    expect(out).toHaveLength(20_003)
    expect(out[3]).toBe(120)
  })

  it('marks nulls, and counts array items', () => {
    expect(encode('Nullable(Int32)', null)).toEqual([1])
    expect(encode('Nullable(Int32)', 1)).toEqual([0, 1, 0, 0, 0])
    expect(encode('LowCardinality(Nullable(String))', 'a')).toEqual([0, 1, 97])
    expect(encode('Array(LowCardinality(String))', ['a', 'bc'])).toEqual([2, 1, 97, 2, 98, 99])
    expect(encode('SimpleAggregateFunction(sum, UInt64)', 3)).toEqual([3, 0, 0, 0, 0, 0, 0, 0])
  })

  it('refuses unknown types at compile time and wrong values at encode time', () => {
    expect(() => compileType('Decimal(10, 2)')).toThrow(expect.objectContaining({ code: 'TRF_ROW_TYPE' }))
    expect(() => compileType('Map(String, String)')).toThrow(expect.objectContaining({ code: 'TRF_ROW_TYPE' }))
    expect(() => encode('Int32', 1.5)).toThrow(expect.objectContaining({ code: 'TRF_ROW_VALUE' }))
    expect(() => encode('String', null)).toThrow(expect.objectContaining({ code: 'TRF_ROW_VALUE' }))
    expect(() => encode('Float64', Number.NaN)).toThrow(expect.objectContaining({ code: 'TRF_ROW_VALUE' }))
    const rows = compileRowEncoder(['a', 'b'], ['UInt8', 'UInt8'])
    expect(() => rows(new RowBinaryWriter(), [[1]])).toThrow(expect.objectContaining({ code: 'TRF_ROW_VALUE' }))
  })
})

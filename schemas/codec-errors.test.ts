import { describe, expect, it } from 'vitest'
import { createCodec, type DecodeErrorCode, type DecodeResult } from './codec.ts'
import type { RequestEventInput } from './generated/types.ts'
import { sampleGpuSample, sampleRequestEvent, sampleRequestEventV1 } from './test-fixtures.ts'

const codec = createCodec()
const requestBytes = codec.encodeRequestEvent(sampleRequestEvent())
/** The same request from a writer that still sends v1 (an encoder pinned to v1). */
const v1RequestBytes = createCodec({ readerVersions: { 'request-event': 1 } }).encodeRequestEvent(sampleRequestEventV1() as RequestEventInput)
const GPU_HEADER = 'c3012e646c01bd3a2d4f'
/** Minimal gpu sample datum, field by field up to the throttle_reasons array count. */
const GPU_DATUM_BEFORE_ARRAY = '0202680000' + '0275026e' + '0000000000000000'
const GPU_DATUM_AFTER_ARRAY = '0000000000' + '02'

function failureOf(result: DecodeResult): { code: DecodeErrorCode; reason: string } {
  if (result.ok) throw new Error('expected a failure, got a decoded event')
  return { code: result.code, reason: result.reason }
}
const hex = (text: string): Buffer => Buffer.from(text, 'hex')

/** Zig-zag varint of a non-negative number, for crafted block counts. */
function varint(n: number): string {
  let z = BigInt(n) * 2n
  const bytes: number[] = []
  while (z >= 0x80n) {
    bytes.push(Number((z & 0x7fn) | 0x80n))
    z >>= 7n
  }
  bytes.push(Number(z))
  return Buffer.from(bytes).toString('hex')
}

describe('decode failures (never thrown, always a code and a reason)', () => {
  it('SCH_EMPTY', () => {
    expect(failureOf(codec.decode(Buffer.alloc(0)))).toEqual({ code: 'SCH_EMPTY', reason: 'empty message (0 bytes)' })
  })

  it('SCH_BAD_MAGIC for JSON, and for C3 followed by anything but 01', () => {
    expect(failureOf(codec.decode(Buffer.from('{"event_id":"x"}')))).toEqual({
      code: 'SCH_BAD_MAGIC',
      reason: 'message starts with 7b226576, neither Avro single-object (c301) nor Confluent (00) framing',
    })
    expect(failureOf(codec.decode(hex('c302d1af0aaf5d298a59')))).toEqual({
      code: 'SCH_BAD_MAGIC',
      reason: 'message starts with c302d1af, neither Avro single-object (c301) nor Confluent (00) framing',
    })
  })

  it('SCH_TRUNCATED when the header is cut', () => {
    expect(failureOf(codec.decode(hex('c3')))).toEqual({
      code: 'SCH_TRUNCATED',
      reason: '1-byte message is shorter than the 10-byte single-object header',
    })
    expect(failureOf(codec.decode(requestBytes.subarray(0, 9)))).toEqual({
      code: 'SCH_TRUNCATED',
      reason: '9-byte message is shorter than the 10-byte single-object header',
    })
    expect(failureOf(codec.decode(hex('000000')))).toEqual({
      code: 'SCH_TRUNCATED',
      reason: '3-byte message is shorter than the 5-byte Confluent header',
    })
  })

  it('SCH_UNKNOWN_FINGERPRINT names the fingerprint as it appears on the wire', () => {
    const bytes = Buffer.concat([hex('c3010102030405060708'), requestBytes.subarray(10)])
    expect(failureOf(codec.decode(bytes))).toEqual({
      code: 'SCH_UNKNOWN_FINGERPRINT',
      reason: 'unknown writer schema fingerprint 0102030405060708 (CRC-64-AVRO, little-endian as on the wire); no schema file of this build has it',
    })
  })

  it('SCH_UNDECODABLE for a datum cut short: a v2 datum is caught by the guard, a v1 datum by avsc', () => {
    // v2 has an array (lora_adapters), so its writer has a datum guard that walks the whole datum.
    // The sample ends with precision "fp16" (02 08 + 4 bytes) and queue_depth (02 06): cutting 5
    // bytes leaves the string length 4 with 1 byte after it.
    const cut = requestBytes.subarray(0, requestBytes.length - 5)
    expect(failureOf(codec.decode(cut))).toEqual({
      code: 'SCH_UNDECODABLE',
      reason: 'request-event v2 datum rejected before decoding: length 4 runs past the end',
    })
    // v1 has no array, hence no guard: avsc itself reports the truncation.
    const v1Cut = v1RequestBytes.subarray(0, v1RequestBytes.length - 5)
    expect(failureOf(codec.decode(v1Cut))).toEqual({
      code: 'SCH_UNDECODABLE',
      reason: `request-event v1 datum is truncated: its ${v1Cut.length - 10} bytes end mid-value`,
    })
    // A header with no datum at all.
    expect(failureOf(codec.decode(v1RequestBytes.subarray(0, 10)))).toEqual({
      code: 'SCH_UNDECODABLE',
      reason: 'request-event v1 datum is truncated: its 0 bytes end mid-value',
    })
    expect(failureOf(codec.decode(requestBytes.subarray(0, 10)))).toEqual({
      code: 'SCH_UNDECODABLE',
      reason: 'request-event v2 datum rejected before decoding: length 0 runs past the end',
    })
  })

  it('SCH_UNDECODABLE for trailing bytes after a complete datum', () => {
    const bytes = Buffer.concat([requestBytes, hex('000000')])
    expect(failureOf(codec.decode(bytes))).toEqual({
      code: 'SCH_UNDECODABLE',
      reason: '3 trailing bytes after the request-event v2 datum',
    })
  })

  it('SCH_UNDECODABLE when avsc throws (enum index out of range)', () => {
    const bytes = hex(GPU_HEADER + GPU_DATUM_BEFORE_ARRAY + '00' + '0000000000' + '0a')
    expect(failureOf(codec.decode(bytes))).toEqual({
      code: 'SCH_UNDECODABLE',
      reason: 'gpu-sample v1 datum does not decode: invalid dev.diffwatch.events.SampleSource enum index: 5',
    })
  })

  it('SCH_UNDECODABLE when a union index is out of range', () => {
    // event_id "", request_id "", then trace_id with union index 2 (zig-zag 04).
    expect(failureOf(codec.decode(hex('c301d1af0aaf5d298a59' + '0000' + '04')))).toEqual({
      code: 'SCH_UNDECODABLE',
      reason: 'request-event v1 datum does not decode: invalid union index: 2',
    })
  })

  it('regression: a 40-byte gpu sample claiming 2e9 throttle reasons crashed the process (fatal heap OOM inside avsc)', () => {
    const bytes = hex(GPU_HEADER + GPU_DATUM_BEFORE_ARRAY + varint(2e9) + GPU_DATUM_AFTER_ARRAY)
    expect(failureOf(codec.decode(bytes))).toEqual({
      code: 'SCH_UNDECODABLE',
      reason: 'gpu-sample v1 datum rejected before decoding: array block count 2000000000 cannot fit in the 6 bytes left',
    })
  })

  it('a v2 request event claiming 2e9 lora_adapters is rejected before avsc allocates them', () => {
    // lora_adapters empty and the three later nullable fields null: the datum ends 00 00 00 00.
    const bytes = codec.encodeRequestEvent(sampleRequestEvent({ lora_adapters: [], seed: null, precision: null, queue_depth: null }))
    expect(bytes.subarray(-4).toString('hex')).toBe('00000000')
    const poisoned = Buffer.concat([bytes.subarray(0, -4), hex(varint(2e9) + '000000')])
    expect(failureOf(codec.decode(poisoned))).toEqual({
      code: 'SCH_UNDECODABLE',
      reason: 'request-event v2 datum rejected before decoding: array block count 2000000000 cannot fit in the 3 bytes left',
    })
  })

  it('a sane array count still decodes (the guard only rejects what cannot fit)', () => {
    const bytes = hex(GPU_HEADER + GPU_DATUM_BEFORE_ARRAY + varint(2) + '0261' + '0262' + '00' + GPU_DATUM_AFTER_ARRAY)
    const result = codec.decode(bytes)
    expect(result.ok && result.kind === 'gpu-sample' && result.value.throttle_reasons).toEqual(['a', 'b'])
  })

  it('SCH_WRONG_KIND from decodeAs, before the datum is decoded', () => {
    expect(failureOf(codec.decodeAs('gpu-sample', requestBytes))).toEqual({
      code: 'SCH_WRONG_KIND',
      reason: 'expected a gpu-sample event, got request-event v2',
    })
    // The datum is garbage, but the kind is known from the header alone.
    expect(failureOf(codec.decodeAs('request-event', hex(GPU_HEADER + 'ffff'))).code).toBe('SCH_WRONG_KIND')
  })

  it('never throws on mutated messages (seeded fuzz, 20k inputs)', () => {
    const sources = [requestBytes, codec.encodeGpuSample(sampleGpuSample())]
    let seed = 0x2545f491
    const next = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
      return seed
    }
    const counts: Record<string, number> = {}
    for (let i = 0; i < 20_000; i++) {
      const source = sources[i % 2] as Buffer
      // One in four is also cut at a random length; the rest keep their length, so flipped counts,
      // lengths and indexes reach deep into the datum.
      const length = i % 4 === 0 ? 10 + (next() % (source.length - 9)) : source.length
      const bytes = Buffer.from(source.subarray(0, length))
      for (let flips = 1 + (next() % 4); flips > 0; flips--) bytes[10 + (next() % Math.max(1, bytes.length - 10))] = next() & 0xff
      const result = codec.decode(bytes)
      const key = result.ok ? 'ok' : result.code
      counts[key] = (counts[key] ?? 0) + 1
    }
    expect(Object.keys(counts).sort()).toEqual(['SCH_UNDECODABLE', 'ok'])
    expect((counts['ok'] ?? 0) + (counts['SCH_UNDECODABLE'] ?? 0)).toBe(20_000)
  })
})

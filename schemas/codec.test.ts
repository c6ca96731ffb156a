import { describe, expect, expectTypeOf, it } from 'vitest'
import { createCodec, type DecodeResult } from './codec.ts'
import { SchemaValueError } from './encoder.ts'
import { isDiffwatchError } from './errors.ts'
import { frameSingleObject } from './framing.ts'
import type { ErrorType, GpuSample, PipelineKind, RequestEvent, RequestEventInput } from './generated/types.ts'
import { sampleGpuSample, sampleRequestEvent } from './test-fixtures.ts'

const codec = createCodec()

/** Writer versions of what `codec` encodes: the newest released schema of each kind. */
const WRITES = { 'request-event': 2, 'gpu-sample': 1 } as const

function decodedValue<K extends 'request-event' | 'gpu-sample'>(result: DecodeResult, kind: K, version: number = WRITES[kind]): unknown {
  if (!result.ok) throw new Error(`expected ok, got ${result.code}: ${result.reason}`)
  expect(result.kind).toBe(kind)
  expect(result.version).toBe(version)
  return { ...result.value } // own fields only, so toStrictEqual compares plain data
}

describe('round trips', () => {
  it('request event: single-object header with the v2 fingerprint, then the datum', () => {
    const event = sampleRequestEvent()
    const bytes = codec.encodeRequestEvent(event)
    const reader = codec.catalog.reader('request-event')
    expect(bytes.subarray(0, 10).toString('hex')).toBe('c30130c5d275e7c95a61')
    expect(bytes).toEqual(frameSingleObject(reader.fingerprint, reader.type.toBuffer(event)))
    // 373 bytes as v1, plus the v2 fields: lora_adapters 31 (count 1 + "detail-tweaker-xl" 1+17 +
    // "film-grain" 1+10 + end 1), seed 7 (branch 1 + 6-byte zig-zag varint of 1234567890123),
    // precision 6 (branch 1 + length 1 + "fp16" 4), queue_depth 2 (branch 1 + varint 1).
    expect(bytes.length).toBe(373 + 31 + 7 + 6 + 2)
    expect(decodedValue(codec.decode(bytes), 'request-event')).toStrictEqual(event)
  })

  it('failed request: nullable enum and strings decode as plain values, not wrapped unions', () => {
    const event = sampleRequestEvent({ status: 'error', error_type: 'oom', error_message: 'CUDA out of memory', http_status: 500 })
    const value = decodedValue(codec.decode(codec.encodeRequestEvent(event)), 'request-event') as RequestEvent
    expect(value.error_type).toBe('oom')
    expect(value.error_message).toBe('CUDA out of memory')
    expect(value.trace_id).toBe('4bf92f3577b34da6a3ce929d0e0e4736')
    expect(value.model_load_ms).toBeNull()
    expect(value).toStrictEqual(event)
  })

  it('gpu sample round trip', () => {
    const sample = sampleGpuSample({ throttle_reasons: ['sw_power_cap', 'hw_slowdown'], last_xid: 79 })
    const bytes = codec.encodeGpuSample(sample)
    expect(bytes.subarray(0, 10).toString('hex')).toBe('c3012e646c01bd3a2d4f')
    expect(decodedValue(codec.decode(bytes), 'gpu-sample')).toStrictEqual(sample)
  })

  it('omitted fields with a schema default are written as that default (bytes checked against fastavro)', () => {
    const bytes = codec.encodeGpuSample({ sampled_at: 1, host: 'h', gpu_index: 0, gpu_uuid: 'u', gpu_name: 'n', source: 'dcgm' })
    expect(bytes.toString('hex')).toBe('c3012e646c01bd3a2d4f' + '02026800000275026e000000000000000000000000000002')
    const expected: GpuSample = {
      sampled_at: 1, host: 'h', worker_id: null, gpu_index: 0, gpu_uuid: 'u', gpu_name: 'n', util_gpu_pct: null,
      util_mem_pct: null, mem_used_mb: null, mem_total_mb: null, temperature_c: null, power_w: null, power_limit_w: null,
      sm_clock_mhz: null, throttle_reasons: [], ecc_uncorrected: null, last_xid: null, host_cpu_pct: null,
      host_mem_used_mb: null, host_mem_total_mb: null, source: 'dcgm',
    }
    expect(decodedValue(codec.decode(bytes), 'gpu-sample')).toStrictEqual(expected)
  })

  it('float fields come back as the nearest float32; long keeps epoch µs exact', () => {
    const event = sampleRequestEvent({ guidance_scale: 7.3, received_at: 1_767_225_600_000_123 })
    const value = decodedValue(codec.decode(codec.encodeRequestEvent(event)), 'request-event') as RequestEvent
    expect(value.guidance_scale).toBe(7.300000190734863)
    expect(value.guidance_scale).toBe(Math.fround(7.3))
    expect(value.received_at).toBe(1_767_225_600_000_123)
  })

  it('encode(kind, value) is the generic form of the two encoders', () => {
    const event = sampleRequestEvent()
    expect(codec.encode('request-event', event)).toEqual(codec.encodeRequestEvent(event))
  })

  it('decodeAs returns the expected kind', () => {
    const result = codec.decodeAs('gpu-sample', codec.encodeGpuSample(sampleGpuSample()))
    expect(result.ok && result.value.gpu_index).toBe(3)
  })

  it('types: the decode result narrows on ok and kind', () => {
    const result = codec.decode(codec.encodeRequestEvent(sampleRequestEvent()))
    if (result.ok && result.kind === 'request-event') {
      expectTypeOf(result.value.error_type).toEqualTypeOf<ErrorType | null>()
      expectTypeOf(result.value.pipeline).toEqualTypeOf<PipelineKind>()
    }
    if (!result.ok) expectTypeOf(result.reason).toEqualTypeOf<string>()
    expectTypeOf<RequestEvent>().toExtend<RequestEventInput>()
  })
})

describe('encoding an invalid value', () => {
  function encodeError(value: unknown): SchemaValueError {
    try {
      codec.encodeRequestEvent(value as RequestEventInput)
    } catch (err) {
      if (err instanceof SchemaValueError) return err
      throw err
    }
    throw new Error('encoding did not throw')
  }

  it('names every bad field path, in schema order', () => {
    const err = encodeError({ ...sampleRequestEvent(), steps: '30', pipeline: 'txt3img' })
    expect(isDiffwatchError(err, 'SCH_INVALID_VALUE')).toBe(true)
    expect(err.retryable).toBe(false)
    expect(err.fieldPaths).toEqual(['pipeline', 'steps'])
    expect(err.message).toBe(
      'invalid request-event value (schema v2): pipeline: expected one of txt2img|img2img|inpaint|upscale|other, got "txt3img"; steps: expected int, got "30"',
    )
  })

  it('reports a missing required field, a wrong nullable and a non-integer', () => {
    const { tenant: _omitted, ...rest } = sampleRequestEvent()
    const err = encodeError({ ...rest, trace_id: 5, width: 1024.5 })
    expect(err.message).toBe(
      'invalid request-event value (schema v2): trace_id: expected null | string, got 5; tenant: expected string, got undefined (missing); width: expected int, got 1024.5',
    )
  })

  it('refuses a field the schema does not declare (a misspelt optional field is not dropped silently)', () => {
    const err = encodeError({ ...sampleRequestEvent(), errorType: 'oom' })
    expect(err.fieldPaths).toEqual(['errorType'])
    expect(err.message).toBe('invalid request-event value (schema v2): errorType: not a field of dev.diffwatch.events.RequestEvent')
  })

  it('reports array items by index and a non-object value', () => {
    expect(() => codec.encodeGpuSample(sampleGpuSample({ throttle_reasons: ['ok', 3 as unknown as string] }))).toThrow(
      'invalid gpu-sample value (schema v1): throttle_reasons.1: expected string, got 3',
    )
    expect(encodeError(null).message).toBe('invalid request-event value (schema v2): (value): expected dev.diffwatch.events.RequestEvent, got null')
    const v2Fields = encodeError({ ...sampleRequestEvent(), lora_adapters: ['ok', 3], queue_depth: 1.5 })
    expect(v2Fields.fieldPaths).toEqual(['lora_adapters.1', 'queue_depth'])
    expect(v2Fields.message).toBe(
      'invalid request-event value (schema v2): lora_adapters.1: expected string, got 3; queue_depth: expected int, got 1.5',
    )
  })
})

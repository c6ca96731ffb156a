/**
 * Malformed Kafka messages for the request topic, by kind, each with the dead-letter code the
 * transformer must give it (schemas/codec.ts and transform/validate.ts define the codes). Every
 * message is built from a valid event so that exactly one thing is wrong with it.
 */
import { createCodec } from '../../../schemas/codec.ts'
import type { RequestEvent } from '../../../schemas/generated/types.ts'
import { sampleGpuSample, sampleRequestEvent } from '../../../schemas/test-fixtures.ts'

export type MalformedKind = { kind: string; code: string; make(i: number, now: number): Buffer | null }

const codec = createCodec()

function request(i: number, now: number, overrides: Partial<RequestEvent> = {}): Buffer {
  const t = now - 60_000
  return codec.encodeRequestEvent(
    sampleRequestEvent({ event_id: `bad-${i}`, received_at: t, dequeued_at: t + 10, inference_start_at: t + 20, inference_end_at: t + 900, completed_at: t + 1_000, ...overrides }),
  )
}

/** Zig-zag varint of a non-negative count (Avro's block count). */
function varint(n: number): number[] {
  let z = BigInt(n) * 2n
  const out: number[] = []
  while (z >= 0x80n) {
    out.push(Number((z & 0x7fn) | 0x80n))
    z >>= 7n
  }
  out.push(Number(z))
  return out
}

export const MALFORMED_KINDS: readonly MalformedKind[] = [
  { kind: 'bad magic', code: 'SCH_BAD_MAGIC', make: (i, now) => Buffer.concat([Buffer.from([0x7b]), request(i, now).subarray(1)]) },
  { kind: 'truncated header', code: 'SCH_TRUNCATED', make: (i, now) => request(i, now).subarray(0, 2 + (i % 8)) },
  { kind: 'cut-short datum', code: 'SCH_UNDECODABLE', make: (i, now) => { const b = request(i, now); return b.subarray(0, 10 + Math.floor((b.length - 10) / 2)) } },
  { kind: 'trailing bytes', code: 'SCH_UNDECODABLE', make: (i, now) => Buffer.concat([request(i, now), Buffer.from([0x00, i & 0xff])]) },
  { kind: 'oversized (valid event + 256 KiB)', code: 'SCH_UNDECODABLE', make: (i, now) => Buffer.concat([request(i, now), Buffer.alloc(256 * 1024, 0x41)]) },
  { kind: 'unknown fingerprint', code: 'SCH_UNKNOWN_FINGERPRINT', make: (i, now) => { const b = Buffer.from(request(i, now)); b.writeUInt32LE((0xdeadbeef ^ i) >>> 0, 2); return b } },
  { kind: 'Confluent framing, unknown id', code: 'SCH_UNKNOWN_FINGERPRINT', make: (i, now) => { const id = Buffer.alloc(5); id.writeUInt32BE(1000 + i, 1); return Buffer.concat([id, request(i, now).subarray(10)]) } },
  { kind: 'GPU sample on the request topic', code: 'SCH_WRONG_KIND', make: (i, now) => codec.encodeGpuSample(sampleGpuSample({ sampled_at: now - 60_000 + i })) },
  { kind: 'array count bomb (2^31 items)', code: 'SCH_UNDECODABLE', make: (i, now) => {
      const b = request(i, now, { lora_adapters: ['\u0001'] })
      // the one-item array: count 1 (0x02), string of length 1 (0x02) holding 0x01, end (0x00)
      const at = b.indexOf(Buffer.from([0x02, 0x02, 0x01, 0x00]), 10)
      if (at < 0) throw new Error('lora_adapters block not found in the encoded event')
      return Buffer.concat([b.subarray(0, at), Buffer.from(varint(2 ** 31)), b.subarray(at + 1)])
    } },
  { kind: 'invalid value (negative steps)', code: 'TRF_OUT_OF_RANGE', make: (i, now) => request(i, now, { steps: -1 - (i % 50) }) },
  { kind: 'inconsistent status (ok with error type)', code: 'TRF_INCONSISTENT', make: (i, now) => request(i, now, { error_type: 'oom' }) },
  { kind: 'NaN / Infinity', code: 'TRF_INVALID_NUMBER', make: (i, now) => request(i, now, { guidance_scale: i % 2 === 0 ? Number.NaN : Number.POSITIVE_INFINITY }) },
  { kind: 'timestamp far in the past (1970)', code: 'TRF_INVALID_TIMESTAMP', make: (i, now) => request(i, now, { received_at: 1_000 + i, dequeued_at: 2_000 + i, inference_start_at: 3_000 + i, inference_end_at: 4_000 + i, completed_at: 5_000 + i }) },
  { kind: 'timestamp far in the future (+1 day)', code: 'TRF_FUTURE_EVENT', make: (i, now) => { const t = now + 86_400_000 + i; return request(i, now, { received_at: t, dequeued_at: t, inference_start_at: t, inference_end_at: t, completed_at: t }) } },
  { kind: 'huge strings (256 KiB model name)', code: 'TRF_OVERSIZED_FIELD', make: (i, now) => request(i, now, { model: `m${i}-${'x'.repeat(256 * 1024)}` }) },
  { kind: 'empty value / tombstone', code: 'SCH_EMPTY', make: (i) => (i % 2 === 0 ? null : Buffer.alloc(0)) },
]

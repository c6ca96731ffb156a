/**
 * Codec micro-benchmark: prints µs per message for encode and decode of both kinds, plus the
 * avsc datum decode alone for comparison. Run: npx tsx schemas/codec.bench.ts
 * Figures, not assertions: timing goals live here, never in tests.
 */
import { readFileSync } from 'node:fs'
import { createCodec } from './codec.ts'
import { sampleGpuSample, sampleRequestEvent } from './test-fixtures.ts'

const codec = createCodec()
const N = Number(process.env['BENCH_N'] ?? 500_000)

function measure(label: string, fn: (i: number) => unknown): void {
  for (let i = 0; i < Math.min(N, 50_000); i++) fn(i) // warm-up: let the JIT settle
  const t0 = process.hrtime.bigint()
  let sink = 0
  for (let i = 0; i < N; i++) sink += fn(i) === undefined ? 0 : 1
  const us = Number(process.hrtime.bigint() - t0) / 1000 / N
  const rate = (1 / us) * 1000
  console.log(`${label.padEnd(34)} ${us.toFixed(3)} µs/msg  ${rate.toFixed(0).padStart(5)}k msg/s${sink === N ? '' : ' (!)'}`)
}

const requests = Array.from({ length: 256 }, (_, i) => sampleRequestEvent({ steps: 20 + (i % 30), request_id: `req-${i}` }))
const samples = Array.from({ length: 256 }, (_, i) => sampleGpuSample({ gpu_index: i % 8, sm_clock_mhz: 1400 + i }))
const requestBytes = requests.map((r) => codec.encodeRequestEvent(r))
const sampleBytes = samples.map((s) => codec.encodeGpuSample(s))
const reader = codec.catalog.reader('request-event').type
console.log(`RequestEvent ${requestBytes[0]?.length} bytes, GpuSample ${sampleBytes[0]?.length} bytes, N=${N}`)

measure('encode RequestEvent', (i) => codec.encodeRequestEvent(requests[i & 255]!))
measure('encode GpuSample', (i) => codec.encodeGpuSample(samples[i & 255]!))
measure('decode RequestEvent', (i) => codec.decode(requestBytes[i & 255]!))
measure('decodeAs request-event', (i) => codec.decodeAs('request-event', requestBytes[i & 255]!))
measure('decode GpuSample (with guard)', (i) => codec.decode(sampleBytes[i & 255]!))
// Resolution cost: v1 bytes read by a reader v2 that adds one defaulted field.
const v2 = JSON.parse(readFileSync(new URL('./request-event.v1.avsc', import.meta.url), 'utf8')) as { fields: unknown[] }
v2.fields.push({ name: 'lora_count', type: 'int', default: 0 })
const v2Codec = createCodec({ extraSchemas: [{ kind: 'request-event', version: 2, schema: v2 }] })
measure('decode RequestEvent v1 → reader v2', (i) => v2Codec.decode(requestBytes[i & 255]!))
measure('avsc decode alone (RequestEvent)', (i) => reader.decode(requestBytes[i & 255]!, 10).value)

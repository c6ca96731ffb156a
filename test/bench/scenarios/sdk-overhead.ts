/**
 * sdk-overhead: what recording a request costs the worker that serves it. Times the request
 * path (startRequest, marks, stages, complete) and the SDK's deferred validate + Avro encode +
 * buffer pass, which runs on the same thread right after the caller's turn, with a transport
 * that never delivers, as when Kafka is down, so the buffer fills to its bound. The bare Avro
 * encode of the same event is shown next to them (the floor any SDK that ships Avro pays).
 * Warm-up rounds run first so the JIT's first compilations are not counted.
 */
import { measureRecordOverhead } from '../../../ingest/sdk/overhead.ts'
import { createCodec } from '../../../schemas/codec.ts'
import { sampleRequestEvent } from '../../../schemas/test-fixtures.ts'
import type { Scenario } from '../context.ts'
import { median, progress, round } from '../report.ts'

function bareEncodeMicros(events: number): number {
  const codec = createCodec()
  const event = sampleRequestEvent()
  for (let i = 0; i < 2_000; i++) codec.encodeRequestEvent(event)
  const t0 = performance.now()
  for (let i = 0; i < events; i++) codec.encodeRequestEvent(event)
  return ((performance.now() - t0) * 1000) / events
}

export const sdkOverhead: Scenario = {
  name: 'sdk-overhead',
  describe: "caller's-thread time per recorded request and memory with the buffer full (Kafka down)",
  async run(ctx) {
    const requests = ctx.params.quick ? 20_000 : 100_000
    const rounds = ctx.params.quick ? 3 : 5
    progress('sdk-overhead: warm-up')
    await measureRecordOverhead(5_000)
    const results = []
    for (let i = 0; i < rounds; i++) {
      progress(`sdk-overhead: round ${i + 1}/${rounds} (${requests.toLocaleString('en-US')} requests)`)
      results.push(await measureRecordOverhead(requests))
    }
    const micros = median(results.map((r) => r.microsPerRequest))
    const deferred = median(results.map((r) => r.deferredMicrosPerRequest))
    const encode = bareEncodeMicros(requests)
    const heapPerRecord = median(results.map((r) => r.heapBytesPerBufferedRecord))
    ctx.report({ scenario: 'sdk-overhead', name: 'request-path time per request', value: round(micros, 2), unit: 'µs', note: `median of ${rounds} × ${requests.toLocaleString('en-US')}; target < 5 µs` })
    ctx.report({ scenario: 'sdk-overhead', name: 'deferred encode per request', value: round(deferred, 2), unit: 'µs', note: 'same thread, after the caller returns' })
    ctx.report({ scenario: 'sdk-overhead', name: 'bare Avro encode', value: round(encode, 2), unit: 'µs' })
    ctx.report({ scenario: 'sdk-overhead', name: 'memory per buffered request', value: round(heapPerRecord), unit: 'B', note: `full buffer of ${requests.toLocaleString('en-US')} = ${round((heapPerRecord * requests) / 1_048_576, 1)} MiB; ${results[0]!.bytesPerEvent} B encoded` })
    ctx.detail('sdk-overhead.rounds', results)
  },
}

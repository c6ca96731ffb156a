/**
 * Ground truth of a simulation run: every produced event as one NDJSON line
 * `{"kind":"request-event"|"gpu-sample","value":{...}}`, in production order, so tests and
 * benchmarks compute their expectations independently of the pipeline. Lines are written only
 * for events handed to Kafka; the writer honours back-pressure.
 */
import { once } from 'node:events'
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs'
import { createInterface } from 'node:readline'
import type { GpuSample, RequestEvent } from '../../schemas/generated/types.ts'
import type { SimEvent } from './event-generator.ts'

export type GroundTruthLine =
  | { readonly kind: 'request-event'; readonly value: RequestEvent }
  | { readonly kind: 'gpu-sample'; readonly value: GpuSample }

export interface GroundTruthWriter {
  write(events: readonly SimEvent[]): Promise<void>
  close(): Promise<void>
}

export function openGroundTruth(path: string): GroundTruthWriter {
  const out: WriteStream = createWriteStream(path, { encoding: 'utf8' })
  let failure: Error | null = null
  out.on('error', (err) => {
    failure = err
  })
  return {
    async write(events) {
      if (failure !== null) throw failure
      let chunk = ''
      for (const e of events) chunk += `{"kind":"${e.kind}","value":${JSON.stringify(e.value)}}\n`
      if (!out.write(chunk)) await once(out, 'drain')
    },
    async close() {
      if (failure !== null) throw failure
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())))
    },
  }
}

/** Reads a ground-truth file back, line by line. */
export async function* readGroundTruth(path: string): AsyncGenerator<GroundTruthLine> {
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity })
  for await (const line of lines) {
    if (line !== '') yield JSON.parse(line) as GroundTruthLine
  }
}

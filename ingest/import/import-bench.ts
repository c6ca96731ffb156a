/**
 * `measureImport`: the figures the benchmark harness prints for `diffwatch import`: records/s,
 * MB/s and peak RSS while importing a generated NDJSON (or array) log of `records` records.
 * With `brokers` the events go to Kafka (acks = all) on `topic`; without, to a sink that only
 * counts, which measures reading, parsing, mapping and Avro encoding alone. The generated file
 * is written first (not timed) and deleted afterwards.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { EventSink } from '../simulator/kafka-sink.ts'
import { connectKafkaSink } from '../simulator/kafka-sink.ts'
import { runImport, type ImportReport } from './importer.ts'
import { writeSampleLog } from './sample-log.ts'

export interface ImportBenchOptions {
  readonly records: number
  readonly format?: 'ndjson' | 'array'
  readonly gzip?: boolean
  readonly brokers?: readonly string[]
  readonly topic?: string
  readonly batchSize?: number
}

export interface ImportBenchResult {
  readonly records: number
  readonly fileBytes: number
  readonly seconds: number
  readonly recordsPerSec: number
  readonly mbPerSec: number
  /** Highest resident set size seen while importing (sampled every 50 ms), MiB. */
  readonly peakRssMb: number
  /** RSS just before the import started, MiB: peak minus this is what the import added. */
  readonly startRssMb: number
  readonly report: ImportReport
}

function countingSink(): EventSink {
  return { async send() {}, async close() {} }
}

export async function measureImport(o: ImportBenchOptions): Promise<ImportBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'dw-import-bench-'))
  try {
    const file = join(dir, `bench.${o.format ?? 'ndjson'}${o.gzip ? '.gz' : ''}`)
    const fileBytes = await writeSampleLog(file, { records: o.records, format: o.format ?? 'ndjson', gzip: o.gzip ?? false, startMs: Date.now() - 86_400_000, spacingMs: 1 })
    const sink = o.brokers ? await connectKafkaSink({ brokers: o.brokers, clientId: 'diffwatch-import-bench', compression: 'none' }) : countingSink()
    const mib = (): number => process.memoryUsage.rss() / 1_048_576
    const startRssMb = mib()
    let peak = startRssMb
    const sampler = setInterval(() => {
      peak = Math.max(peak, mib())
    }, 50)
    const t0 = performance.now()
    let report: ImportReport
    try {
      report = await runImport({ file, topic: o.topic ?? 'diffwatch.requests.v1', sink, batchSize: o.batchSize ?? 2000, stateDir: null, rejectsFile: null })
    } finally {
      clearInterval(sampler)
      await sink.close()
    }
    const seconds = (performance.now() - t0) / 1000
    peak = Math.max(peak, mib())
    return { records: report.read, fileBytes, seconds, recordsPerSec: report.read / seconds, mbPerSec: fileBytes / 1e6 / seconds, peakRssMb: peak, startRssMb, report }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * import: `diffwatch import` of a generated NDJSON log (1 GB; quick 100k records) into Kafka with
 * acks = all, and the same file through a sink that only counts (reading, JSON parsing, mapping
 * and Avro encoding alone: the ceiling of the importer's own work on this machine). Peak RSS is
 * sampled during each run; memory must stay flat in the file's size.
 */
import { measureImport } from '../../../ingest/import/import-bench.ts'
import type { Scenario } from '../context.ts'
import { progress, round } from '../report.ts'

/** Mean NDJSON size of a generated record (measured on the generator): 1 GB ≈ 3.3 M records. */
const BYTES_PER_RECORD = 308

export const importScenario: Scenario = {
  name: 'import',
  describe: 'NDJSON log (1 GB, quick 100k records) imported into Kafka, next to parse-only',
  async run(ctx) {
    const records = ctx.params.quick ? 100_000 : Math.round(1e9 / BYTES_PER_RECORD)
    const topics = await ctx.topics(ctx.params.partitions)
    progress(`import: parse-only over ${records.toLocaleString('en-US')} records`)
    const parseOnly = await measureImport({ records })
    progress(`import: into Kafka (${records.toLocaleString('en-US')} records)`)
    const kafka = await measureImport({ records, brokers: ctx.brokers, topic: topics.topics.requests })
    if (kafka.report.produced !== records) throw new Error(`import produced ${kafka.report.produced} of ${records} records (rejected ${kafka.report.rejected})`)
    const mb = round(kafka.fileBytes / 1e6)
    ctx.report({ scenario: 'import', name: 'NDJSON into Kafka', value: round(kafka.recordsPerSec), unit: 'rec/s', ceiling: { name: 'parse-only', ratio: round(kafka.recordsPerSec / parseOnly.recordsPerSec, 2) }, note: `${mb} MB in ${round(kafka.seconds, 1)} s; target 100k rec/s` })
    ctx.report({ scenario: 'import', name: 'parse-only (no Kafka)', value: round(parseOnly.recordsPerSec), unit: 'rec/s', note: `${round(parseOnly.mbPerSec, 1)} MB/s` })
    ctx.report({ scenario: 'import', name: 'RSS added while importing', value: round(kafka.peakRssMb - kafka.startRssMb), unit: 'MiB', note: `peak ${round(kafka.peakRssMb)} MiB for a ${mb} MB file` })
    ctx.detail('import.kafka', { ...kafka, report: undefined, produced: kafka.report.produced })
    ctx.detail('import.parseOnly', { ...parseOnly, report: undefined })
  },
}

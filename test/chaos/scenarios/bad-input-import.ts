/**
 * Hostile log files through `runImport` (the code behind `diffwatch import`) into the runner's
 * broker, each file a row: NDJSON with good lines mixed with broken JSON, non-objects, missing
 * and mistyped fields; invalid UTF-8 inside a line; a line nested 100k levels deep; and a gzip
 * bomb, a 512 MiB line that compresses to a few hundred KiB, between good lines.
 *
 * Expected per file: the rejections by reason counted from what was written, every good record
 * in Kafka exactly once, the import finishing (no crash, no fatal error), RSS growth under
 * 256 MiB (sampled every 50 ms).
 */
import { once } from 'node:events'
import { createWriteStream, writeFileSync } from 'node:fs'
import path from 'node:path'
import { createGzip } from 'node:zlib'
import { runImport } from '../../../ingest/import/importer.ts'
import { sampleRecord } from '../../../ingest/import/sample-log.ts'
import { connectKafkaSink } from '../../../ingest/simulator/kafka-sink.ts'
import { createCodec } from '../../../schemas/codec.ts'
import type { ChaosRow, ChaosScenario } from '../scenario.ts'
import { sampleMemory } from '../support/figures.ts'
import { createScenarioTopics, readTopic } from '../support/topics.ts'

type LogCase = { name: string; file: string; good: string[]; expected: Record<string, number> }

/** Writes `lines` (strings or raw bytes) as NDJSON, gzipped when asked, streaming. */
async function writeLog(file: string, lines: Iterable<string | Buffer>, gzip: boolean): Promise<void> {
  await writeChunks(file, (function* () {
    for (const line of lines) {
      yield line
      yield '\n'
    }
  })(), gzip)
}

/** Writes `chunks` as they come (a line may span many), gzipped when asked. */
async function writeChunks(file: string, chunks: Iterable<string | Buffer>, gzip: boolean): Promise<void> {
  const out = createWriteStream(file)
  const gz = gzip ? createGzip({ level: 9 }) : null
  gz?.pipe(out)
  const sink = gz ?? out
  for (const chunk of chunks) if (!sink.write(chunk)) await once(sink, 'drain')
  sink.end()
  await once(out, 'finish')
}

function* hugeLine(bytes: number): Generator<string> {
  yield '{"request_id":"'
  const block = 'a'.repeat(1024 * 1024)
  for (let n = 0; n < bytes; n += block.length) yield block
  yield '"}'
}

async function buildCases(dir: string, quick: boolean): Promise<LogCase[]> {
  const n = quick ? 400 : 4_000
  const startMs = Date.now() - 3_600_000
  let next = 0
  const good = (): { line: string; id: string } => {
    const r = sampleRecord(next++, startMs, 200)
    return { line: JSON.stringify(r), id: String(r.request_id) }
  }
  const cases: LogCase[] = []

  const mixed: string[] = []
  const mixedGood: string[] = []
  const expectMixed = { invalid_json: 0, not_an_object: 0, missing_request_id: 0, bad_value: 0 }
  for (let i = 0; i < n; i++) {
    const g = good()
    mixed.push(g.line)
    mixedGood.push(g.id)
    const kind = i % 5
    if (kind === 0) { mixed.push(`{"request_id": "broken-${i}", `); expectMixed.invalid_json++ }
    if (kind === 1) { mixed.push(i % 2 === 0 ? '[1,2,3]' : `"just a string ${i}"`); expectMixed.not_an_object++ }
    if (kind === 2) { const { request_id: _drop, ...rest } = JSON.parse(good().line) as Record<string, unknown>; mixed.push(JSON.stringify(rest)); expectMixed.missing_request_id++ }
    if (kind === 3) { mixed.push(JSON.stringify({ ...(JSON.parse(good().line) as object), steps: { many: true } })); expectMixed.bad_value++ }
  }
  cases.push({ name: 'NDJSON: good lines mixed with broken, non-object, incomplete, mistyped', file: path.join(dir, 'mixed.ndjson'), good: mixedGood, expected: expectMixed })
  await writeLog(cases[0]!.file, mixed, false)

  const utf: (string | Buffer)[] = []
  const utfGood: string[] = []
  for (let i = 0; i < n / 4; i++) {
    const g = good()
    utf.push(g.line)
    utfGood.push(g.id)
    const bad = Buffer.from(good().line.replace('"sampler":"', '"sampler":"\u0001'))
    bad[bad.indexOf(0x01)] = 0xfe
    utf.push(bad)
  }
  cases.push({ name: 'NDJSON: invalid UTF-8 inside every other line', file: path.join(dir, 'utf8.ndjson'), good: utfGood, expected: { invalid_utf8: n / 4 } })
  await writeLog(cases[1]!.file, utf, false)

  const deepLines: string[] = []
  const deepGood: string[] = []
  for (let i = 0; i < 20; i++) {
    const g = good()
    deepLines.push(g.line, `{"request_id":${'['.repeat(100_000)}${']'.repeat(100_000)}}`)
    deepGood.push(g.id)
  }
  cases.push({ name: 'NDJSON: lines nested 100k levels deep', file: path.join(dir, 'deep.ndjson'), good: deepGood, expected: { too_deep: 20 } })
  await writeLog(cases[2]!.file, deepLines, false)

  const bombGood = [good(), good()]
  const bombFile = path.join(dir, 'bomb.ndjson.gz')
  await writeChunks(bombFile, (function* () {
    yield `${bombGood[0]!.line}\n`
    yield* hugeLine(512 * 1024 * 1024)
    yield `\n${bombGood[1]!.line}\n`
  })(), true)
  cases.push({ name: 'gzip bomb: a 512 MiB line between good lines', file: bombFile, good: bombGood.map((g) => g.id), expected: { too_long: 1 } })
  return cases
}

export const badInputImport: ChaosScenario = {
  name: 'bad-input-import',
  group: 'bad-input',
  description: 'Imports NDJSON logs with broken, mistyped, invalid-UTF-8, 100k-deep and 512 MiB lines mixed with good ones; checks rejections by reason, good records once, bounded memory.',
  async run(ctx) {
    const t = await createScenarioTopics(ctx.kafkaBrokers, { name: 'bad-import', partitions: 2 })
    const sink = await connectKafkaSink({ brokers: ctx.kafkaBrokers.split(','), clientId: 'chaos-import', compression: 'gzip' })
    const codec = createCodec()
    const rows: ChaosRow[] = []
    try {
      ctx.progress('writing hostile log files')
      const cases = await buildCases(ctx.workDir, ctx.quick)
      const before = new Map<string, number>()
      for (const c of cases) {
        ctx.progress(c.name)
        const problems: string[] = []
        const mem = sampleMemory()
        let report
        try {
          report = await runImport({ file: c.file, topic: t.topics.requests, sink, rejectsFile: `${c.file}.rejects.ndjson`, stateDir: null, batchSize: 500 })
        } catch (err) {
          problems.push(`the import failed: ${err instanceof Error ? err.message.slice(0, 300) : String(err)}`)
        }
        const m = mem.stop()
        const rssGrowth = Math.round(m.peakRssMiB - m.startRssMiB)
        if (rssGrowth > 256) problems.push(`RSS grew by ${rssGrowth} MiB during the import`)
        if (report?.fatal) problems.push(`the import broke off: ${report.fatal.message.slice(0, 200)}`)
        for (const [reason, count] of Object.entries(c.expected)) {
          const got = report?.rejectedByReason[reason] ?? 0
          if (got !== count) problems.push(`${got} rejected as ${reason}, expected ${count}`)
        }
        for (const [reason, count] of Object.entries(report?.rejectedByReason ?? {})) {
          if (!(reason in c.expected)) problems.push(`${count} rejected as ${reason}, expected none`)
        }
        const inKafka = await readTopic(ctx.kafkaBrokers, t.admin, t.topics.requests)
        const counts = new Map<string, number>()
        for (const msg of inKafka) {
          const d = msg.value ? codec.decode(msg.value) : null
          const id = d?.ok ? (d.value as { request_id: string }).request_id : '(undecodable)'
          counts.set(id, (counts.get(id) ?? 0) + 1 - (before.get(id) ?? 0))
        }
        for (const [id, k] of counts) before.set(id, (before.get(id) ?? 0) + k)
        const goodSet = new Set(c.good)
        const strays = [...counts].filter(([id, k]) => k > 0 && !goodSet.has(id)).length
        if (strays > 0) problems.push(`${strays} records in Kafka that the file did not hold as good`)
        const found = c.good.filter((id) => (counts.get(id) ?? 0) > 0).length
        rows.push({
          scenario: 'bad-input-import', case: c.name, group: 'bad-input',
          produced: c.good.length, delivered: found, lost: c.good.length - found,
          duplicated: c.good.reduce((k, id) => k + Math.max(0, (counts.get(id) ?? 0) - 1), 0),
          deadLettered: report?.rejected ?? 0, expectedDeadLetters: Object.values(c.expected).reduce((a, b) => a + b, 0),
          figures: { read: report?.read ?? 0, produced: report?.produced ?? 0, peakRssGrowthMiB: rssGrowth, recordsPerSec: Math.round(report?.recordsPerSec ?? 0) },
          problems,
        })
      }
      return rows
    } finally {
      await sink.close()
      await t.cleanup().catch(() => undefined)
    }
  },
}

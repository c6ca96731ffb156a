import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { afterAll, describe, expect, it } from 'vitest'
import { createCodec } from '../../schemas/codec.ts'
import type { RequestEvent } from '../../schemas/generated/types.ts'
import type { EventSink, TopicBatch } from '../simulator/kafka-sink.ts'
import { runImport, type ImportOptions } from './importer.ts'
import { BLOCK_BYTES } from './record-stream.ts'
import { sampleRecord, writeSampleLog } from './sample-log.ts'

const dir = mkdtempSync(join(tmpdir(), 'dw-import-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const codec = createCodec()
const NOW = Date.now()
const START = NOW - 3_600_000

function memorySink(): EventSink & { events: RequestEvent[]; keys: string[]; calls: number } {
  const events: RequestEvent[] = []
  const keys: string[] = []
  const sink = {
    events,
    keys,
    calls: 0,
    async send(batches: readonly TopicBatch[]) {
      sink.calls += 1
      for (const b of batches) {
        for (const m of b.messages) {
          const d = codec.decodeAs('request-event', m.value)
          if (!d.ok) throw new Error(d.reason)
          events.push(d.value)
          keys.push(m.key)
        }
      }
    },
    async close() {},
  }
  return sink
}

function file(name: string, content: string | Buffer): string {
  const p = join(dir, name)
  writeFileSync(p, content)
  return p
}

const run = (o: Partial<ImportOptions> & { file: string; sink: EventSink }) => runImport({ topic: 't', batchSize: 7, stateDir: null, rejectsFile: null, ...o })

describe('runImport', () => {
  const records = Array.from({ length: 25 }, (_, i) => sampleRecord(i, START))
  const ndjson = `${records.map((r) => JSON.stringify(r)).join('\n')}\n`
  const array = `[${records.map((r) => JSON.stringify(r)).join(',\n  ')}]`

  it.each([
    ['ndjson', ndjson, false],
    ['array', array, false],
    ['ndjson', ndjson, true],
    ['array', array, true],
  ] as const)('reads a %s file (gzip: %s) record for record', async (format, text, gz) => {
    const sink = memorySink()
    const report = await run({ file: file(`plain-${format}-${gz}.json`, gz ? gzipSync(text) : text), sink })
    expect([report.format, report.gzip, report.read, report.produced, report.rejected]).toEqual([format, gz, 25, 25, 0])
    expect(sink.calls).toBe(Math.ceil(25 / 7))
    expect(sink.events.map((e) => e.request_id)).toEqual(records.map((r) => r.request_id))
    expect(sink.keys).toEqual(records.map((r) => r.worker_id))
    expect(new Set(sink.events.map((e) => e.event_id)).size).toBe(25)
    expect(sink.events.filter((e) => e.status === 'error').length).toBe(records.filter((r) => r.status === 'failed').length)
  })

  it('rejects malformed lines and unmappable records one by one, and imports their neighbours', async () => {
    const lines = [
      JSON.stringify(records[0]),
      '{"request_id": "cut-off", "timestamp":',
      '',
      JSON.stringify(records[1]),
      'not json at all',
      JSON.stringify({ ...records[2], model: undefined }),
      '   ',
      JSON.stringify([1, 2, 3]),
      JSON.stringify({ ...records[3], timestamp: new Date(NOW + 3_600_000).toISOString() }),
      JSON.stringify(records[4]),
    ]
    const rejectsFile = join(dir, 'rejects.ndjson')
    const sink = memorySink()
    const report = await run({ file: file('mixed.ndjson', `${lines.join('\r\n')}\n`), sink, rejectsFile })
    // blank lines are not records; a line of spaces is (and is not JSON)
    expect([report.read, report.produced, report.rejected]).toEqual([9, 3, 6])
    expect(report.rejectedByReason).toEqual({ invalid_json: 3, missing_model: 1, not_an_object: 1, in_future: 1 })
    expect(sink.events.map((e) => e.request_id)).toEqual([records[0], records[1], records[4]].map((r) => r!.request_id))
    const rejected = readFileSync(rejectsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { index: number; reason: string })
    expect(rejected.map((r) => [r.index, r.reason])).toEqual([[1, 'invalid_json'], [3, 'invalid_json'], [4, 'missing_model'], [5, 'invalid_json'], [6, 'not_an_object'], [7, 'in_future']])
  })

  it('imports the records that end before the 64 KiB block holding a break in a JSON array', async () => {
    const sink = memorySink()
    const many = Array.from({ length: 1500 }, (_, i) => JSON.stringify(sampleRecord(i, START)))
    const head = `[${many.join(',')}`
    const broken = `${head}, {"request_id": "x", "timestamp": ]`
    // records whose closing brace lies before the start of the block that holds the break
    const blockStart = Math.floor(head.length / BLOCK_BYTES) * BLOCK_BYTES
    let end = 0
    let expected = 0
    for (const r of many) {
      end += 1 + r.length
      if (end <= blockStart) expected += 1
    }
    expect(expected).toBeGreaterThan(1000)
    const report = await run({ file: file('broken.json', broken), sink })
    expect(report.fatal?.code).toBe('ING_IMPORT_MALFORMED')
    expect([report.read, report.produced]).toEqual([expected, expected])
  })

  it('counts records older than the raw retention', async () => {
    const old = [sampleRecord(0, NOW - 40 * 86_400_000), sampleRecord(1, NOW - 31 * 86_400_000), sampleRecord(2, START)]
    const report = await run({ file: file('old.ndjson', old.map((r) => JSON.stringify(r)).join('\n')), sink: memorySink() })
    expect([report.produced, report.olderThanRetention]).toEqual([3, 2])
  })

  it('produces nothing twice when the same import runs again, and only new records after an append', async () => {
    const stateDir = join(dir, 'state')
    const path = join(dir, 'grow.ndjson')
    await writeSampleLog(path, { records: 40, format: 'ndjson', startMs: START })
    const first = memorySink()
    expect((await run({ file: path, sink: first, stateDir })).produced).toBe(40)
    const again = memorySink()
    const second = await run({ file: path, sink: again, stateDir })
    expect([second.read, second.skipped, second.produced, again.events.length]).toEqual([40, 40, 0, 0])
    // the log grows: only the appended records go out
    const extra = Array.from({ length: 5 }, (_, i) => sampleRecord(40 + i, START))
    writeFileSync(path, extra.map((r) => `${JSON.stringify(r)}\n`).join(''), { flag: 'a' })
    const third = memorySink()
    const report = await run({ file: path, sink: third, stateDir })
    expect([report.read, report.skipped, report.produced]).toEqual([45, 40, 5])
    expect(third.events.map((e) => e.request_id)).toEqual(extra.map((r) => r.request_id))
    // without the ledger, a re-run produces again, with the same event ids
    const forced = memorySink()
    await run({ file: path, sink: forced, stateDir: null })
    expect(forced.events.slice(0, 40).map((e) => e.event_id)).toEqual(first.events.map((e) => e.event_id))
  })

  it('reports progress: the last report has every record and every byte of the file', async () => {
    const path = join(dir, 'progress.ndjson.gz')
    const size = await writeSampleLog(path, { records: 500, format: 'ndjson', gzip: true, startMs: START })
    const seen: { read: number; produced: number; bytesRead: number; totalBytes: number; etaSec: number | null }[] = []
    await run({ file: path, sink: memorySink(), batchSize: 100, onProgress: (p) => seen.push(p), progressIntervalMs: 5 })
    expect(seen.at(-1)).toMatchObject({ read: 500, produced: 500, bytesRead: size, totalBytes: size, etaSec: 0 })
  })

  it('stops its progress reports when Kafka fails', async () => {
    const path = join(dir, 'progress-fail.ndjson')
    await writeSampleLog(path, { records: 50, format: 'ndjson', startMs: START })
    let reports = 0
    const failing: EventSink = { send: () => Promise.reject(new Error('broker down')), async close() {} }
    await expect(run({ file: path, sink: failing, onProgress: () => reports++, progressIntervalMs: 5, maxInFlight: 1 })).rejects.toThrow('broker down')
    const after = reports
    await new Promise((r) => setTimeout(r, 30))
    expect(reports).toBe(after)
  })

  it('leaves the ledger at the last acknowledged batch when Kafka fails', async () => {
    const stateDir = join(dir, 'state-fail')
    const path = join(dir, 'fail.ndjson')
    await writeSampleLog(path, { records: 30, format: 'ndjson', startMs: START })
    let calls = 0
    const failing: EventSink = {
      async send() {
        calls += 1
        if (calls === 3) throw new Error('broker down')
      },
      async close() {},
    }
    await expect(run({ file: path, sink: failing, stateDir, maxInFlight: 1 })).rejects.toThrow('broker down')
    const resumed = memorySink()
    const report = await run({ file: path, sink: resumed, stateDir })
    // batches 1 and 2 (14 records) were acknowledged; the rest is produced on resume
    expect([report.skipped, report.produced]).toEqual([14, 16])
    expect(resumed.events[0]!.request_id).toBe(sampleRecord(14, START).request_id)
  })
})

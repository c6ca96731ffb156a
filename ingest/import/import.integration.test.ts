/**
 * `diffwatch import` against the real broker, twice, then through the transformer into embedded
 * ClickHouse: every mappable record is stored exactly once, with the ids derived from it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitForCommitted } from '../../test/support/kafka.ts'
import { createPipelineHarness, type PipelineHarness } from '../../test/support/pipeline.ts'
import { importCommand } from './command.ts'
import { mapRecord } from './record-mapping.ts'
import { sampleRecord } from './sample-log.ts'

const RECORDS = 3000
const BAD_LINES = ['{"request_id": "half a line"', '{"request_id": "r-no-model", "timestamp": 1, "status": "ok"}']

function capture(): { io: { stdout: { write(t: string): boolean }; stderr: { write(t: string): boolean } }; out: () => string } {
  let out = ''
  return { io: { stdout: { write: (t) => ((out += t), true) }, stderr: { write: () => true } }, out: () => out }
}

describe('diffwatch import → Kafka → transformer → ClickHouse', () => {
  let h: PipelineHarness
  const dir = mkdtempSync(join(tmpdir(), 'dw-import-it-'))
  const file = join(dir, 'worker.log.ndjson')
  const records = Array.from({ length: RECORDS }, (_, i) => sampleRecord(i, Date.now() - 3_600_000, 200))
  const runs: string[] = []
  let badAt: number[] = []

  beforeAll(async () => {
    h = await createPipelineHarness({ partitions: 2 })
    const lines = records.map((r) => JSON.stringify(r))
    lines.splice(1000, 0, BAD_LINES[0]!)
    lines.splice(2000, 0, BAD_LINES[1]!)
    badAt = BAD_LINES.map((l) => lines.indexOf(l))
    writeFileSync(file, `${lines.join('\n')}\n`)
    const env = { ...h.env, IMPORT_STATE_DIR: join(dir, 'state'), IMPORT_REJECTS: join(dir, 'rejects.ndjson'), IMPORT_BATCH_SIZE: '500' }
    for (let i = 0; i < 2; i++) {
      const c = capture()
      expect(await importCommand([file], env, c.io)).toBe(0)
      runs.push(c.out())
    }
    await h.startTransformer()
    await waitForCommitted(h.kafka.admin, h.groupId, [h.kafka.topics.requests])
  })
  afterAll(async () => {
    await h?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('reports read, produced and rejected records, and nothing new on the second run', () => {
    expect(runs[0]).toContain(`read 3,002, produced 3,000, rejected 2, already imported 0`)
    expect(runs[0]).toContain('rejected invalid_json: 1')
    expect(runs[0]).toContain('rejected missing_model: 1')
    expect(runs[1]).toContain(`read 3,002, produced 0, rejected 0, already imported 3,002`)
    const rejects = readFileSync(join(dir, 'rejects.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { index: number; reason: string })
    expect(rejects.map((r) => [r.index, r.reason])).toEqual([[badAt[0], 'invalid_json'], [badAt[1], 'missing_model']])
  })

  it('stores every record once, under the id derived from it', async () => {
    const expectedIds = records.map((r) => {
      const m = mapRecord(r)
      if (!m.ok) throw new Error(m.detail)
      return m.event.event_id
    })
    const [r] = await h.query<{ n: number; ids: number; errors: number }>(
      `SELECT count() AS n, uniqExact(event_id) AS ids, countIf(status = 'error') AS errors FROM ${h.database}.request_events`,
    )
    expect(r).toEqual({ n: RECORDS, ids: RECORDS, errors: records.filter((x) => x.status === 'failed').length })
    const stored = await h.query<{ event_id: string }>(`SELECT event_id FROM ${h.database}.request_events`)
    expect(new Set(stored.map((s) => s.event_id))).toEqual(new Set(expectedIds))
    const [w] = await h.query<{ requests: number }>(`SELECT sum(requests) AS requests FROM ${h.database}.request_windows`)
    expect(Number(w!.requests)).toBe(RECORDS)
  })
})

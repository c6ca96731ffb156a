/**
 * The chaos report: pass/fail comes from the row alone, the table shows every count and problem,
 * and the JSON document round-trips with the summary counted from the rows.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { table, writeReport, type ChaosReport } from './report.ts'
import { rowPasses, type ChaosRow } from './scenario.ts'

const row = (over: Partial<ChaosRow>): ChaosRow => ({
  scenario: 's', case: 'c', group: 'fault', produced: 10, delivered: 10, lost: 0, duplicated: 0,
  deadLettered: 2, expectedDeadLetters: 2, figures: {}, problems: [], ...over,
})

describe('chaos report', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dw-chaos-report-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('marks a row FAIL for a loss, a duplicate, a dead-letter mismatch or a problem, and PASS otherwise', () => {
    const rows = [
      row({ case: 'clean', figures: { recoverS: 1.25, restarts: 3 } }),
      row({ case: 'lost one', delivered: 9, lost: 1 }),
      row({ case: 'one twice', duplicated: 1 }),
      row({ case: 'dlq off', deadLettered: 1 }),
      row({ case: 'problem', problems: ['readyz stayed 200'] }),
    ]
    expect(rows.map(rowPasses)).toEqual([true, false, false, false, false])
    const text = table(rows)
    const lines = text.split('\n')
    expect(lines.filter((l) => l.trimEnd().endsWith('PASS'))).toHaveLength(1)
    expect(lines.filter((l) => l.trimEnd().endsWith('FAIL'))).toHaveLength(4)
    expect(text).toContain('recoverS=1.3 restarts=3')
    expect(text).toContain('problem: readyz stayed 200')
    expect(text).toContain('1/2')
    expect(lines.at(-1)).toBe('1 of 5 rows pass')
  })

  it('writes the timestamped report and latest.json with the same content', () => {
    const rows = [row({}), row({ lost: 1, delivered: 9 })].map((r) => ({ ...r, pass: rowPasses(r) }))
    const report: ChaosReport = {
      started: '2026-11-28T14:00:00.000Z', finished: '2026-11-28T14:01:00.000Z', wallSeconds: 60, quick: true, only: null,
      kafka: { brokers: '127.0.0.1:19400', source: 'local (scripts/kafka.sh)' }, machine: { cpus: 2 }, versions: { node: 'v20' },
      scenarioSeconds: { s: 60 }, rows, summary: { rows: 2, passed: 1, failed: 1 },
    }
    const file = writeReport(dir, report)
    expect(file).toBe(join(dir, 'chaos-2026-11-28T14-00-00-000Z.json'))
    const written = JSON.parse(readFileSync(file, 'utf8')) as ChaosReport
    expect(written).toEqual(report)
    expect(readFileSync(join(dir, 'latest.json'), 'utf8')).toBe(readFileSync(file, 'utf8'))
    expect(written.rows.filter((r) => r.pass)).toHaveLength(written.summary.passed)
  })
})

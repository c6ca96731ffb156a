/**
 * `diffwatch report` end to end: a migrated embedded ClickHouse with 20 simulated minutes of a
 * fleet, the command run with CLICKHOUSE_* variables as a user would, its files read back.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { joinRelativeTimes, reportCommand } from '../../bin/commands/report.ts'
import { openClickHouse } from '../../migrations/clickhouse.ts'
import { migrate } from '../../migrations/runner.ts'
import { insertFleet, simulateFleet, type Fleet } from '../test-support/fleet-data.ts'
import { fillWindows } from '../test-support/windows-fill.ts'

const MIN = 60_000
const END = Date.now() - 5 * MIN
const root = mkdtempSync(join(tmpdir(), 'dw-report-cli-'))
const env = { CLICKHOUSE_DATA_PATH: join(root, 'clickhouse'), CLICKHOUSE_DATABASE: 'report_cli' }
let fleet: Fleet

beforeAll(async () => {
  fleet = simulateFleet({ seed: 3, requestRate: 2, hosts: 3, gpusPerHost: 1, sampleIntervalMs: 10_000 }, END - 20 * MIN, 20 * MIN)
  const client = await openClickHouse({ dataPath: env.CLICKHOUSE_DATA_PATH, database: env.CLICKHOUSE_DATABASE })
  await migrate(client, { database: env.CLICKHOUSE_DATABASE })
  await insertFleet(client, env.CLICKHOUSE_DATABASE, fleet)
  await fillWindows(client, env.CLICKHOUSE_DATABASE)
  await client.close()
}, 60_000)

afterAll(() => rmSync(root, { recursive: true, force: true }))

describe('diffwatch report', () => {
  it('writes a capacity report as Markdown with the requests of each pool', async () => {
    const out = join(root, 'capacity.md')
    expect(await reportCommand(['capacity', '--from', '-1h', '--target-load', '1.5x', '--format', 'markdown', '--out', out], env)).toBe(0)
    const md = readFileSync(out, 'utf8')
    expect(md).toContain('# Capacity report')
    expect(md).toContain('M/M/c (Erlang C)')
    const pools = new Map<string, number>()
    for (const e of fleet.requests) pools.set(`${e.model} | ${e.gpu_type}`, (pools.get(`${e.model} | ${e.gpu_type}`) ?? 0) + 1)
    expect(pools.size).toBeGreaterThanOrEqual(2)
    for (const [pool, n] of pools) {
      // columns: model | GPU type | GPUs now | requests
      expect(md).toMatch(new RegExp(`\\| ${pool.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\| 1 \\| ${n.toLocaleString('en-US')} \\|`))
    }
  })

  it('writes the cost report as CSV blocks and refuses what it cannot do', async () => {
    const out = join(root, 'cost.csv')
    expect(await reportCommand(['cost', '--from=-1h', '--format', 'csv', '--out', out], env)).toBe(0)
    const csv = readFileSync(out, 'utf8')
    expect(csv).toMatch(/^# generated: /)
    for (const id of ['summary', 'by_gpu_type', 'by_model', 'by_tenant', 'unpriced']) expect(csv).toContain(`# section: ${id}\r\n`)
    const summary = csv.split('# section: summary\r\n')[1]!.split('\r\n')
    const header = summary[0]!.split(',')
    expect(Number(summary[1]!.split(',')[header.indexOf('gpus')])).toBe(new Set(fleet.samples.map((s) => s.gpu_uuid)).size)
    expect(await reportCommand(['forecast'], env)).toBe(2)
    expect(await reportCommand(['capacity', '--format', 'pdf'], env)).toBe(2)
    expect(await reportCommand(['capacity', '--target-load', 'lots'], env)).toBe(2)
  })

  it('runs the SLO report from DIFFWATCH_SLO_FILE, and says what is missing without it', async () => {
    const out = join(root, 'slo.json')
    expect(await reportCommand(['slo', '--from', '-1h', '--format', 'json', '--out', out], { ...env, DIFFWATCH_SLO_FILE: 'docs/slo.example.json' })).toBe(0)
    const doc = JSON.parse(readFileSync(out, 'utf8'))
    const slos = (JSON.parse(readFileSync('docs/slo.example.json', 'utf8')) as { slos: Array<{ name: string }> }).slos
    expect(doc.kind).toBe('slo')
    const rows = doc.sections.flatMap((s: { table?: { rows: Array<Record<string, unknown>> } }) => s.table?.rows ?? [])
    for (const slo of slos) expect(rows.some((r: Record<string, unknown>) => r['slo'] === slo.name)).toBe(true)
    expect(await reportCommand(['slo'], env)).toBe(2)
  })

  it('reads "--from -30d" as a relative time, not a flag', () => {
    expect(joinRelativeTimes(['trend', '--from', '-30d', '--to', 'now', '--model', 'x'])).toEqual(['trend', '--from=-30d', '--to', 'now', '--model', 'x'])
  })
})

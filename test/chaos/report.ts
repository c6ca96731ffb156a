/**
 * What `npm run chaos` reports: one progress line on the terminal while it runs, the table of
 * rows (scenario, case, produced, delivered, lost, dup, DLQ got/expected, key figures,
 * PASS/FAIL) and the JSON document chaos-results/chaos-<timestamp>.json (+ latest.json) with the
 * machine, versions, the quick flag, every row and the wall time. Pass/fail is rowPasses() alone.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { rowPasses, type ChaosRow } from './scenario.ts'

export type ChaosReport = {
  started: string
  finished: string
  wallSeconds: number
  quick: boolean
  only: string[] | null
  kafka: { brokers: string; source: 'external (KAFKA_BROKERS)' | 'local (scripts/kafka.sh)' }
  machine: Record<string, string | number>
  versions: Record<string, string>
  /** Scenario name → seconds it ran. */
  scenarioSeconds: Record<string, number>
  rows: (ChaosRow & { pass: boolean })[]
  summary: { rows: number; passed: number; failed: number }
}

export function machine(): Record<string, string | number> {
  const cpus = os.cpus()
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()}`,
    hostname: os.hostname(),
  }
}

export function versions(root: string): Record<string, string> {
  const pkg = (name: string) => {
    try {
      return (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version
    } catch {
      return 'missing'
    }
  }
  // java -version writes to stderr
  const java = spawnSync('java', ['-version'], { encoding: 'utf8' }).stderr ?? ''
  const kafkaScript = readFileSync(join(root, 'scripts/kafka.sh'), 'utf8')
  const kafkaDefault = /KAFKA_VERSION:-([0-9.]+)/.exec(kafkaScript)?.[1] ?? 'unknown'
  return {
    node: process.version,
    kafka: process.env.KAFKA_VERSION ?? kafkaDefault,
    kafkajs: pkg('kafkajs'),
    chdb: pkg('chdb'),
    clickhouseClient: pkg('@clickhouse/client'),
    java: java.split('\n')[0]?.trim() || 'missing',
  }
}

/**
 * A progress line: rewritten in place on a terminal; elsewhere (CI logs) a timestamped line at
 * most every 5 s, so a log stays readable.
 */
export function createProgress(out: NodeJS.WriteStream = process.stderr): { show(msg: string): void; done(): void } {
  const tty = out.isTTY === true
  let shown = false
  let lastLine = 0
  const width = () => Math.max(40, (out.columns ?? 120) - 1)
  return {
    show(msg) {
      if (tty) {
        out.write(`\r\x1b[2K${msg.slice(0, width())}`)
        shown = true
      } else if (Date.now() - lastLine >= 5_000) {
        lastLine = Date.now()
        out.write(`[chaos ${new Date().toISOString().slice(11, 19)}] ${msg}\n`)
      }
    },
    done() {
      if (tty && shown) out.write('\r\x1b[2K')
      shown = false
      lastLine = 0
    },
  }
}

function figureText(figures: ChaosRow['figures']): string {
  return Object.entries(figures)
    .map(([k, v]) => `${k}=${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(1) : v}`)
    .join(' ')
}

/** The terminal table; figures are wrapped onto continuation lines so no column is cut. */
export function table(rows: ChaosRow[]): string {
  const head = ['scenario', 'case', 'produced', 'delivered', 'lost', 'dup', 'DLQ got/exp', 'result']
  const body = rows.map((r) => [
    r.scenario, r.case, String(r.produced), String(r.delivered), String(r.lost), String(r.duplicated),
    `${r.deadLettered}/${r.expectedDeadLetters}`, rowPasses(r) ? 'PASS' : 'FAIL',
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)))
  const numeric = new Set([2, 3, 4, 5, 6])
  const line = (cells: string[]) => cells.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ')
  const out = [line(head), widths.map((w) => '-'.repeat(w)).join('  ')]
  rows.forEach((r, i) => {
    out.push(line(body[i]!))
    const figs = figureText(r.figures)
    if (figs) out.push(`    ${figs}`)
    for (const p of r.problems) out.push(`    problem: ${p}`)
  })
  const failed = rows.filter((r) => !rowPasses(r)).length
  out.push('', `${rows.length - failed} of ${rows.length} rows pass`)
  return out.join('\n')
}

/** Writes chaos-<timestamp>.json and latest.json into `dir`; returns the first path. */
export function writeReport(dir: string, report: ChaosReport): string {
  mkdirSync(dir, { recursive: true })
  const file = join(dir, `chaos-${report.started.replace(/[:.]/g, '-')}.json`)
  const text = JSON.stringify(report, null, 2) + '\n'
  writeFileSync(file, text)
  writeFileSync(join(dir, 'latest.json'), text)
  return file
}

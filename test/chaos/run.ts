/**
 * `npm run chaos [-- --quick] [-- --only name,name] [-- --list] [-- --keep]`
 *
 * Runs the fault, bad-input and API scenarios registered in scenarios/index.ts against a Kafka
 * broker of its own (scripts/kafka.sh on CHAOS_KAFKA_PORT, default 19400, with wiped data; or the
 * cluster in KAFKA_BROKERS, which is then left alone), shows a progress line, prints the table
 * and writes chaos-results/chaos-<timestamp>.json + chaos-results/latest.json. Exits 1 when any
 * row fails (rowPasses), when a scenario throws (reported as a failing row), or when nothing ran.
 *
 * --quick is CI's mode: the same checks on smaller volumes and shorter outages.
 * --keep keeps every scenario's scratch folder (a failing scenario's is always kept).
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createProgress, machine, table, versions, writeReport, type ChaosReport } from './report.ts'
import { rowPasses, type ChaosContext, type ChaosRow, type ChaosScenario } from './scenario.ts'
import { SCENARIOS } from './scenarios/index.ts'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const DEFAULT_KAFKA_PORT = 19400

type Options = { quick: boolean; only: string[] | null; list: boolean; keep: boolean; kafkaPort: number }

function usage(): string {
  return [
    'usage: npm run chaos -- [--quick] [--only name,name] [--list] [--keep] [--kafka-port N]',
    '  --quick       CI mode: smaller volumes and shorter outages, the same checks',
    '  --only        run these scenarios only (names from --list)',
    '  --list        list the scenarios and exit',
    '  --keep        keep every scenario\'s scratch folder (failed ones are always kept)',
    `  --kafka-port  port of the runner's own broker (default CHAOS_KAFKA_PORT or ${DEFAULT_KAFKA_PORT}); ignored when KAFKA_BROKERS is set`,
  ].join('\n')
}

function parse(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      list: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      'kafka-port': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  })
  if (values.help) {
    console.log(usage())
    process.exit(0)
  }
  const only = values.only === undefined ? null : values.only.split(',').map((s) => s.trim()).filter(Boolean)
  const unknown = (only ?? []).filter((n) => !SCENARIOS.some((s) => s.name === n))
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')}; --list shows them`)
  const portText = values['kafka-port'] ?? process.env.CHAOS_KAFKA_PORT ?? String(DEFAULT_KAFKA_PORT)
  const kafkaPort = Number(portText)
  if (!Number.isInteger(kafkaPort) || kafkaPort < 1024 || kafkaPort > 64535) throw new Error(`--kafka-port must be a port 1024-64535, got ${portText}`)
  return { quick: values.quick, only, list: values.list, keep: values.keep, kafkaPort }
}

/** The runner's own single broker, or the external cluster; the helpers read KAFKA_BROKERS. */
function provideKafka(port: number): { brokers: string; external: boolean; stop(): void } {
  const external = process.env.KAFKA_BROKERS
  if (external) return { brokers: external, external: true, stop: () => undefined }
  const env = { ...process.env, KAFKA_PORT: String(port), KAFKA_DATA_RESET: '1', KAFKA_HEAP: process.env.KAFKA_HEAP ?? '512m' }
  execFileSync('bash', [path.join(ROOT, 'scripts/kafka.sh'), 'start'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'inherit'] })
  const brokers = `127.0.0.1:${port}`
  process.env.KAFKA_BROKERS = brokers
  let stopped = false
  return {
    brokers,
    external: false,
    stop() {
      if (stopped) return
      stopped = true
      delete process.env.KAFKA_BROKERS
      execFileSync('bash', [path.join(ROOT, 'scripts/kafka.sh'), 'stop'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'inherit'] })
    },
  }
}

/** A scenario that throws still gets a row: a failing one that says what happened. */
function crashRow(s: ChaosScenario, err: unknown): ChaosRow {
  const why = err instanceof Error ? (err.stack ?? err.message) : String(err)
  return {
    scenario: s.name, case: 'scenario run', group: s.group, produced: 0, delivered: 0, lost: 0, duplicated: 0,
    deadLettered: 0, expectedDeadLetters: 0, figures: {}, problems: [`the scenario threw: ${why.split('\n').slice(0, 6).join(' | ')}`],
  }
}

async function runAll(o: Options, brokers: string, progress: ReturnType<typeof createProgress>) {
  const chosen = SCENARIOS.filter((s) => o.only === null || o.only.includes(s.name))
  const rows: ChaosRow[] = []
  const seconds: Record<string, number> = {}
  const failureLogs: string[] = []
  for (const [i, s] of chosen.entries()) {
    const workDir = mkdtempSync(path.join(tmpdir(), `dw-chaos-${s.name}-`))
    const t0 = performance.now()
    const ctx: ChaosContext = {
      quick: o.quick,
      kafkaBrokers: brokers,
      workDir,
      progress: (msg) => progress.show(`[${i + 1}/${chosen.length}] ${s.name} ${Math.round((performance.now() - t0) / 1000)}s: ${msg}`),
    }
    ctx.progress('starting')
    let got: ChaosRow[]
    try {
      got = await s.run(ctx)
      if (got.length === 0) got = [crashRow(s, new Error('the scenario returned no rows'))]
    } catch (err) {
      got = [crashRow(s, err)]
    }
    seconds[s.name] = Math.round((performance.now() - t0) / 100) / 10
    rows.push(...got)
    const failed = got.filter((r) => !rowPasses(r))
    progress.done()
    console.error(`${failed.length === 0 ? 'PASS' : 'FAIL'} ${s.name} (${got.length} rows, ${seconds[s.name]} s)${failed.length > 0 || o.keep ? `; scratch kept in ${workDir}` : ''}`)
    if (failed.length > 0) failureLogs.push(...logTails(workDir))
    if (failed.length === 0 && !o.keep) rmSync(workDir, { recursive: true, force: true })
  }
  return { rows, seconds, failureLogs }
}

/** The last lines of every process log a failed scenario left in its scratch folder (members log into logs/). */
function logTails(workDir: string, lines = 30): string[] {
  return (readdirSync(workDir, { recursive: true }) as string[])
    .filter((f) => f.endsWith('.log'))
    .map((f) => {
      const text = readFileSync(path.join(workDir, f), 'utf8').split('\n').filter(Boolean).slice(-lines)
      return [`--- last ${text.length} lines of ${path.join(workDir, f)}`, ...text.map((l) => (l.length > 400 ? `${l.slice(0, 400)}…` : l))].join('\n')
    })
}

async function main(): Promise<void> {
  const o = parse(process.argv.slice(2))
  if (o.list) {
    for (const s of SCENARIOS) console.log(`${s.name.padEnd(28)} ${s.group.padEnd(9)} ${s.description}`)
    return
  }
  const started = new Date()
  const progress = createProgress()
  progress.show('starting Kafka')
  const kafka = provideKafka(o.kafkaPort)
  // Ctrl-C or a CI timeout: stop the broker this run started (children die with their pipes).
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      progress.done()
      kafka.stop()
      process.exit(sig === 'SIGINT' ? 130 : 143)
    })
  }
  let result: Awaited<ReturnType<typeof runAll>>
  try {
    result = await runAll(o, kafka.brokers, progress)
  } finally {
    progress.done()
    kafka.stop()
  }
  const finished = new Date()
  const rows = result.rows.map((r) => ({ ...r, pass: rowPasses(r) }))
  const report: ChaosReport = {
    started: started.toISOString(),
    finished: finished.toISOString(),
    wallSeconds: Math.round((finished.getTime() - started.getTime()) / 100) / 10,
    quick: o.quick,
    only: o.only,
    kafka: { brokers: kafka.brokers, source: kafka.external ? 'external (KAFKA_BROKERS)' : 'local (scripts/kafka.sh)' },
    machine: machine(),
    versions: versions(ROOT),
    scenarioSeconds: result.seconds,
    rows,
    summary: { rows: rows.length, passed: rows.filter((r) => r.pass).length, failed: rows.filter((r) => !r.pass).length },
  }
  const file = writeReport(path.join(ROOT, 'chaos-results'), report)
  console.log(table(result.rows))
  console.log(`\nwall time ${report.wallSeconds} s${o.quick ? ' (quick)' : ''}; report ${path.relative(ROOT, file)}`)
  // Repeated last, so the tail of a CI log (often all that is kept) says what failed and why.
  for (const r of rows.filter((row) => !row.pass)) {
    console.error(`FAILED ${r.scenario} / ${r.case}: lost ${r.lost}, duplicated ${r.duplicated}, dead letters ${r.deadLettered}/${r.expectedDeadLetters}`)
    for (const p of r.problems) console.error(`  ${p.length > 1_500 ? `${p.slice(0, 1_500)}…` : p}`)
  }
  for (const log of result.failureLogs) console.error(log)
  if (rows.length === 0) console.error('no scenario ran')
  if (rows.length === 0 || report.summary.failed > 0) process.exitCode = 1
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err)
  process.exit(1)
})

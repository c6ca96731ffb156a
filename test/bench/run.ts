/**
 * `npm run bench [scenario ...] [--quick] [--events N] [--repeats N] [--partitions N]
 *                [--sinks json,file] [--profile] [--chunk-max-events N] [--fresh-rates 10000,50000]`
 *
 * Runs the named scenarios (all when none is named) against KAFKA_BROKERS or a broker of its own
 * (port 19600, started and stopped here) and an embedded ClickHouse in a temp folder; prints a
 * table and writes bench-results/<timestamp>.json with every figure, the machine, versions and
 * parameters. --quick is the CI smoke: small sizes, a few minutes, no timing asserted.
 * Scenarios register in SCENARIOS.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { createContext, startBroker, ROOT, type BenchParams, type Scenario } from './context.ts'
import { machine, progressDone, table, writeResults, type Figure } from './report.ts'
import { freshness } from './scenarios/freshness.ts'
import { importScenario } from './scenarios/import.ts'
import { ingestThroughput } from './scenarios/ingest-throughput.ts'
import { queryLatency } from './scenarios/query-latency.ts'
import { sdkOverhead } from './scenarios/sdk-overhead.ts'

export const SCENARIOS: readonly Scenario[] = [ingestThroughput, freshness, queryLatency, sdkOverhead, importScenario]

function usage(): string {
  return [
    'usage: npm run bench -- [scenario ...] [--quick] [--events N] [--repeats N] [--partitions N] [--sinks json,file] [--profile] [--chunk-max-events N] [--fresh-rates 10000,50000]',
    'scenarios:',
    ...SCENARIOS.map((s) => `  ${s.name.padEnd(18)} ${s.describe}`),
  ].join('\n')
}

function parse(argv: string[]): { names: string[]; params: BenchParams } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      quick: { type: 'boolean', default: false },
      events: { type: 'string' },
      repeats: { type: 'string' },
      partitions: { type: 'string', default: '4' },
      sinks: { type: 'string', default: 'json,file' },
      profile: { type: 'boolean', default: false },
      'chunk-max-events': { type: 'string' },
      'fresh-rates': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  })
  if (values.help) {
    console.log(usage())
    process.exit(0)
  }
  const unknown = positionals.filter((n) => !SCENARIOS.some((s) => s.name === n))
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')}\n${usage()}`)
  const int = (v: string | undefined, d: number, what: string) => {
    const n = v === undefined ? d : Number(v)
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${what} must be a positive integer, got ${v}`)
    return n
  }
  const sinks = values.sinks.split(',').map((s) => s.trim())
  if (sinks.some((s) => s !== 'json' && s !== 'file')) throw new Error(`--sinks takes json and/or file, got ${values.sinks}`)
  return {
    names: positionals.length > 0 ? positionals : SCENARIOS.map((s) => s.name),
    params: {
      quick: values.quick,
      events: int(values.events, values.quick ? 100_000 : 1_000_000, 'events'),
      repeats: int(values.repeats, values.quick ? 1 : 3, 'repeats'),
      partitions: int(values.partitions, 4, 'partitions'),
      profile: values.profile,
      sinks: sinks as BenchParams['sinks'],
      freshRates: values['fresh-rates']?.split(',').map((r) => int(r.trim(), 0, 'fresh-rates')),
      chunkMaxEvents: values['chunk-max-events'] === undefined ? undefined : int(values['chunk-max-events'], 0, 'chunk-max-events'),
    },
  }
}

function versions(kafkaVersion: string, chdbEngine: string): Record<string, string> {
  const pkg = (name: string) => (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version
  // java -version writes to stderr
  const java = spawnSync('java', ['-version'], { encoding: 'utf8' }).stderr?.split('\n')[0]?.trim() ?? ''
  return { node: process.version, kafka: kafkaVersion, kafkajs: pkg('kafkajs'), chdb: pkg('chdb'), chdbEngine, java }
}

async function main(): Promise<void> {
  const { names, params } = parse(process.argv.slice(2))
  const external = Boolean(process.env.KAFKA_BROKERS)
  const broker = startBroker()
  const figures: Figure[] = []
  const details: Record<string, unknown> = {}
  const { ctx, close } = createContext(params, broker.brokers, figures, details)
  const started = new Date().toISOString()
  const failures: Record<string, string> = {}
  let chdbEngine = ''
  try {
    const probe = await ctx.database('probe')
    chdbEngine = ((await (await probe.client.query({ query: 'SELECT version() AS v', format: 'JSONEachRow' })).json<{ v: string }>())[0]?.v) ?? ''
    for (const s of SCENARIOS.filter((x) => names.includes(x.name))) {
      const t0 = performance.now()
      try {
        await s.run(ctx)
      } catch (err) {
        failures[s.name] = err instanceof Error ? (err.stack ?? err.message) : String(err)
      }
      details[`${s.name}.seconds`] = Math.round((performance.now() - t0) / 100) / 10
    }
  } finally {
    progressDone()
    await close()
    broker.stop()
  }
  const file = writeResults(join(ROOT, 'bench-results'), {
    started, finished: new Date().toISOString(), scenarios: names, params, machine: machine(),
    versions: versions(ctx.kafkaVersion, chdbEngine), brokers: external ? 'external' : 'local (scripts/kafka.sh)',
    figures, details, failures,
  })
  console.log(table(figures))
  for (const [name, why] of Object.entries(failures)) console.error(`\nscenario ${name} FAILED:\n${why}`)
  console.log(`\nresults: ${file}`)
  if (Object.keys(failures).length > 0) process.exitCode = 1
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err)
  process.exit(1)
})

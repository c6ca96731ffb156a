/**
 * `diffwatch report <capacity|trend|cost|slo> [--from -30d] [--to now] [--format markdown] [--out FILE]`:
 * computes a report straight from ClickHouse (opened as `diffwatch migrate` does: CLICKHOUSE_*
 * variables, embedded chdb when CLICKHOUSE_URL is unset) and writes it to stdout or FILE.
 * Report options: --target-load 2x|150, --target-p95-wait-ms, --peak-window 5m (capacity);
 * --forecast-days, --baseline-days (trend); --model, --gpu-type (capacity, trend); the slo report
 * reads its SLOs from DIFFWATCH_SLO_FILE (query-api/slo/config.ts). Prices and
 * defaults come from the REPORT_* / DIFFWATCH_PRICES_FILE variables (query-api/reports/report-config.ts).
 */
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { openClickHouse } from '../../migrations/clickhouse.ts'
import { capacityReport, DEFAULT_PEAK_WINDOW_SECONDS, parseTargetLoad } from '../../query-api/reports/capacity.ts'
import { costReport } from '../../query-api/reports/cost.ts'
import type { ReportDocument } from '../../query-api/reports/document.ts'
import { REPORT_FORMATS, renderReport, type ReportFormat } from '../../query-api/reports/render.ts'
import { loadReportConfig, type ReportConfig } from '../../query-api/reports/report-config.ts'
import { trendReport } from '../../query-api/reports/trend.ts'
import { loadSloConfig } from '../../query-api/slo/config.ts'
import { sloReport } from '../../query-api/slo/report.ts'
import { createStore, type Store } from '../../query-api/store.ts'
import { parseStep, resolveTimeRange } from '../../query-api/time-range.ts'
import { loadTransformConfig } from '../../transform/config.ts'
import { clickHouseOptions } from './services.ts'

const KINDS = ['capacity', 'trend', 'cost', 'slo'] as const
type Kind = (typeof KINDS)[number]
const DEFAULT_DAYS: Readonly<Record<Kind, number>> = { capacity: 1, trend: 30, cost: 7, slo: 30 }

const USAGE = `usage: diffwatch report <${KINDS.join('|')}> [--from -30d] [--to now] [--format ${REPORT_FORMATS.join('|')}] [--out FILE]
  capacity: [--target-load 1x|2x|150] [--target-p95-wait-ms 1000] [--peak-window 5m] [--model a,b] [--gpu-type t]
  trend:    [--forecast-days 14] [--baseline-days 7] [--model a,b] [--gpu-type t]
  cost:     prices from DIFFWATCH_PRICES_FILE (JSON {"currency":"USD","gpuHourly":{"H100":2.49}})
  slo:      SLOs from DIFFWATCH_SLO_FILE
`

type Flags = Record<string, string | undefined>

function list(value: string | undefined): string[] | undefined {
  const items = value?.split(',').map((v) => v.trim()).filter((v) => v !== '')
  return items && items.length > 0 ? items : undefined
}

function positive(flags: Flags, name: string, fallback: number): number {
  const raw = flags[name]
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (!(n > 0) || !Number.isFinite(n)) throw new RangeError(`--${name} must be a positive number, got ${JSON.stringify(raw)}`)
  return n
}

async function build(kind: Kind, store: Store, flags: Flags, config: ReportConfig, env: NodeJS.ProcessEnv, now: number): Promise<ReportDocument> {
  const range = resolveTimeRange({ from: flags['from'] ?? `-${DEFAULT_DAYS[kind]}d`, to: flags['to'] }, now, {
    maxRangeSeconds: Math.round(config.raw.REPORT_MAX_RANGE_DAYS * 86_400),
    defaultRangeSeconds: DEFAULT_DAYS[kind] * 86_400,
  })
  const filters = { models: list(flags['model']), gpuTypes: list(flags['gpu-type']) }
  switch (kind) {
    case 'capacity': {
      const targetLoad = parseTargetLoad(flags['target-load'] ?? '1x')
      if (targetLoad === null) throw new RangeError(`--target-load must be a multiplier such as 1.5x or requests/s such as 120, got ${JSON.stringify(flags['target-load'])}`)
      return capacityReport(store, {
        from: range.fromMs, to: range.toMs, now, targetLoad, filters,
        targetP95QueueWaitMs: positive(flags, 'target-p95-wait-ms', config.raw.REPORT_TARGET_P95_QUEUE_WAIT_MS),
        peakWindowSeconds: flags['peak-window'] === undefined ? DEFAULT_PEAK_WINDOW_SECONDS : parseStep(flags['peak-window']),
      })
    }
    case 'trend':
      return trendReport(store, {
        from: range.fromMs, to: range.toMs, now, filters,
        forecastDays: Math.round(positive(flags, 'forecast-days', 14)), baselineDays: Math.round(positive(flags, 'baseline-days', 7)),
      })
    case 'slo': {
      const slo = loadSloConfig(env)
      if (slo === null) throw new RangeError('the slo report needs DIFFWATCH_SLO_FILE (the SLO definitions, see docs/slo.example.json)')
      return sloReport(store, { from: range.fromMs, to: range.toMs, now, config: slo })
    }
    case 'cost':
      return costReport(store, { from: range.fromMs, to: range.toMs, now, prices: config.prices, pricesSource: config.pricesSource, gapCapMs: config.raw.REPORT_SAMPLE_GAP_CAP_SECONDS * 1000 })
  }
}

/** `--from -30d` → `--from=-30d`: node's parseArgs takes a value starting with `-` for a flag otherwise. */
export function joinRelativeTimes(argv: readonly string[]): string[] {
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? ''
    const next = argv[i + 1]
    if (/^--[a-z0-9-]+$/.test(arg) && next !== undefined && /^-\d/.test(next)) {
      out.push(`${arg}=${next}`)
      i += 1
    } else out.push(arg)
  }
  return out
}

export async function reportCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const str = { type: 'string' } as const
  let parsed
  try {
    parsed = parseArgs({
    args: joinRelativeTimes(argv), allowPositionals: true,
    options: {
      from: str, to: str, format: str, out: str, model: str, 'gpu-type': str, 'target-load': str, 'target-p95-wait-ms': str,
      'peak-window': str, 'forecast-days': str, 'baseline-days': str, help: { type: 'boolean', short: 'h' },
    },
    })
  } catch (err) {
    process.stderr.write(`diffwatch report: ${(err as Error).message}\n${USAGE}`)
    return 2
  }
  const { values, positionals } = parsed
  const kind = positionals[0]
  if (values.help) {
    process.stdout.write(USAGE)
    return 0
  }
  const format = (values.format ?? 'markdown') as ReportFormat
  if (!KINDS.includes(kind as Kind) || positionals.length !== 1 || !REPORT_FORMATS.includes(format)) {
    process.stderr.write(USAGE)
    return 2
  }
  const config = loadReportConfig(env)
  const tcfg = loadTransformConfig(env)
  const client = await openClickHouse(clickHouseOptions(tcfg))
  try {
    const store = createStore(client, tcfg.CLICKHOUSE_DATABASE, 300)
    const text = renderReport(await build(kind as Kind, store, values as Flags, config, env, Date.now()), format)
    if (values.out) writeFileSync(values.out, text)
    else process.stdout.write(text.endsWith('\n') ? text : `${text}\n`)
    return 0
  } catch (err) {
    if (err instanceof RangeError) {
      process.stderr.write(`diffwatch report: ${err.message}\n${USAGE}`)
      return 2
    }
    throw err
  } finally {
    await client.close()
  }
}

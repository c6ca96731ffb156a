/**
 * `diffwatch demo`: the whole pipeline on one machine. Creates the topics on the broker in
 * KAFKA_BROKERS (scripts/demo.sh starts the local one), migrates embedded ClickHouse, runs the
 * transformer and the API in this process, drives a simulated fleet in real time, waits until
 * the transformer has committed everything, then prints a per-model summary read back through
 * the query API and keeps serving until Ctrl-C (or exits with --exit).
 */
import { parseArgs } from 'node:util'
import { Kafka, logLevel as kafkaLogLevel } from 'kafkajs'
import { ensureTopics } from '../../ingest/topics-admin.ts'
import { runSimulation } from '../../ingest/simulator/producer.ts'
import { DiffwatchError } from '../../schemas/errors.ts'
import { topicSet } from '../../schemas/topics.ts'
import { brokerList, loadTransformConfig } from '../../transform/config.ts'
import { consumerLag } from '../../transform/kafka-io.ts'
import { startServices, untilSignal } from './services.ts'

type LatencyBody = { groups: { group: string; count: number; percentiles: { label: string; value_ms: number | null }[] }[] }
type ThroughputBody = { series: { group: string; totals: { requests: number; images: number; error_rate: number | null } }[] }

function number(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isFinite(n) || n <= 0) throw new DiffwatchError('CFG_INVALID', `${name} must be a positive number (got ${JSON.stringify(value)})`)
  return n
}

export async function demoCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { exit: { type: 'boolean', default: false }, duration: { type: 'string' }, rate: { type: 'string' } },
  })
  const durationSec = number('--duration / DEMO_DURATION_SEC', values.duration ?? env.DEMO_DURATION_SEC, 60)
  const rate = number('--rate / DEMO_RATE', values.rate ?? env.DEMO_RATE, 400)
  const demoEnv = { LOG_LEVEL: 'warn', API_PORT: '8080', ...env }
  const config = loadTransformConfig(demoEnv)
  const out = process.stdout
  const brokers = brokerList(config)

  out.write(`diffwatch demo: Kafka ${brokers.join(',')}, embedded ClickHouse in ${config.CLICKHOUSE_DATA_PATH}, ${durationSec} s of simulated load at ${rate} events/s\n`)
  const kafka = new Kafka({ clientId: 'diffwatch-demo', brokers, logLevel: kafkaLogLevel.NOTHING })
  const admin = kafka.admin()
  await admin.connect().catch((err: unknown) => {
    throw new DiffwatchError('ING_KAFKA_UNAVAILABLE', `cannot reach Kafka at ${brokers.join(',')}: start it with \`bash scripts/kafka.sh start\` or set KAFKA_BROKERS`, { cause: err })
  })
  try {
    const created = await ensureTopics(admin, topicSet(config.TOPIC_PREFIX), { partitions: 3 })
    if (created.length > 0) out.write(`  created topics ${created.join(', ')}\n`)
    const services = await startServices(demoEnv, { transform: true, api: true, migrate: true })
    const transformer = services.transformer!
    const startedMs = Date.now()
    const eventsBefore = transformer.stats.eventsProcessed
    const sim = await runSimulation({
      brokers, topics: transformer.topics, rate, durationSec, seed: startedMs % 1_000_000, realtime: true,
      onProgress: (p) => {
        const line = `  simulating: ${p.eventsSent} events sent (${Math.round(p.eventsPerSec)}/s), ${transformer.stats.eventsProcessed - eventsBefore} stored, ${Math.round(p.elapsedMs / 1000)}/${durationSec} s`
        // one updating line on a terminal; a line every 5 s in logs (CI)
        if (out.isTTY) out.write(`\r${line}   `)
        else if (Math.round(p.elapsedMs / 1000) % 5 === 0) out.write(`${line}\n`)
      },
    })
    out.write(`${out.isTTY ? '\n' : ''}  waiting for the transformer to commit everything...\n`)
    const topics = [transformer.topics.requests, transformer.topics.gpuSamples]
    for (let lag = Infinity; lag > 0;) {
      lag = [...(await consumerLag(admin, config.TRANSFORM_GROUP_ID, topics)).values()].reduce((a, b) => a + b, 0)
      if (lag > 0) await new Promise((r) => setTimeout(r, 200))
    }
    const caughtUpMs = Date.now()
    const stored = transformer.stats.eventsProcessed - eventsBefore
    const from = new Date(startedMs - 60_000).toISOString()
    const to = new Date(caughtUpMs + 60_000).toISOString()
    const base = services.apiUrl!
    const latency = (await (await fetch(`${base}/v1/latency/percentiles?from=${from}&to=${to}&groupBy=model`)).json()) as LatencyBody
    const throughput = (await (await fetch(`${base}/v1/throughput?from=${from}&to=${to}&groupBy=model`)).json()) as ThroughputBody
    out.write(summary(latency, throughput, durationSec, sim.eventsPerSec, stored, (caughtUpMs - startedMs) / 1000, transformer.stats.deadLetters))
    out.write(`\nQuery API: ${base}  (docs ${base}/docs, e.g. ${base}/v1/latency/percentiles?from=-1h&groupBy=model)\n`)
    if (values.exit) {
      await services.stop()
      return 0
    }
    out.write('Serving until Ctrl-C.\n')
    return await untilSignal(services)
  } finally {
    await admin.disconnect()
  }
}

function summary(latency: LatencyBody, throughput: ThroughputBody, durationSec: number, producedPerSec: number, stored: number, seconds: number, deadLetters: number): string {
  const lat = new Map(latency.groups.map((g) => [g.group, g]))
  const rows = throughput.series.map((s) => {
    const p = lat.get(s.group)?.percentiles ?? []
    const ms = (label: string) => {
      const v = p.find((x) => x.label === label)?.value_ms
      return v === null || v === undefined ? '-' : v.toFixed(0)
    }
    const errPct = s.totals.error_rate === null ? '-' : (s.totals.error_rate * 100).toFixed(2) + '%'
    return [s.group, String(s.totals.requests), (s.totals.requests / durationSec).toFixed(2), ms('p50'), ms('p95'), ms('p99'), errPct]
  })
  const header = ['model', 'requests', 'RPS', 'p50 ms', 'p95 ms', 'p99 ms', 'errors']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')
  return [
    '',
    `Per model over the ${durationSec} s run (latency: end to end, successful requests; errors: share of requests):`,
    '  ' + line(header),
    ...rows.map((r) => '  ' + line(r)),
    '',
    `Pipeline: ${stored} events stored in ${seconds.toFixed(1)} s (${(stored / seconds).toFixed(0)} events/s end to end; simulator produced ${producedPerSec.toFixed(0)}/s), ${deadLetters} dead letters.`,
    '',
  ].join('\n')
}

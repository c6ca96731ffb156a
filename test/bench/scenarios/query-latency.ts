/**
 * query-latency: raw request events spread over the last 24 h (10 M; quick 1 M) and 30 days of
 * request_windows rows, generated inside ClickHouse with INSERT ... SELECT FROM numbers() (the
 * latency rollups fill through their materialized views as in production); then median and p99
 * latency of the API routes through Fastify inject (sequential) and through real HTTP with
 * concurrent clients. The loaded row count is checked, and every response must be a 200.
 */
import type { AddressInfo } from 'node:net'
import { buildApi } from '../../../query-api/app.ts'
import { INSERT_COLUMNS, REQUEST_WINDOW_ERROR_COLUMNS } from '../../../migrations/tables.ts'
import type { Scenario } from '../context.ts'
import { median, progress, quantile, round } from '../report.ts'

// Expressions per request_events column, from n = number; cheap, deterministic, realistic spread.
const RAW: Record<string, string> = {
  event_id: "concat('ev-', toString(n))", request_id: "concat('rq-', toString(n))", trace_id: 'NULL',
  tenant: "['acme','globex','initech'][n % 3 + 1]", region: "['eu-west','us-east'][n % 2 + 1]", deployment: "'prod'",
  worker_id: "concat('w-', toString(n % 64))", host: "concat('h-', toString(n % 16))", gpu_uuid: "concat('GPU-', toString(n % 64))",
  gpu_type: "['H100-80GB','A100-40GB'][n % 2 + 1]", model: "['sdxl-base','flux-dev','sd15','sd3-medium','kandinsky'][n % 5 + 1]",
  model_version: "'v1'", pipeline: "['txt2img','img2img'][n % 2 + 1]", sampler: "'euler_a'", steps: '20 + n % 30',
  guidance_scale: '7.5', width: '1024', height: '1024', images: '1 + n % 4', batch_size: '1', prompt_hash: 'NULL', cold_start: 'n % 1000 = 0',
  model_load_ms: 'NULL', received_at: 'c - toIntervalMillisecond(e2e)', dequeued_at: 'c - toIntervalMillisecond(e2e * 0.8)',
  inference_start_at: 'c - toIntervalMillisecond(e2e * 0.8)', inference_end_at: 'c - toIntervalMillisecond(50)', completed_at: 'c',
  text_encode_ms: '20', denoise_ms: 'e2e * 0.6', vae_decode_ms: '80', safety_ms: '15', upload_ms: '30',
  status: "if(n % 50 = 0, 'error', 'ok')", error_type: "if(n % 50 = 0, ['oom','timeout','model_error'][n % 3 + 1], NULL)",
  error_message: "if(n % 50 = 0, 'synthetic', NULL)", http_status: 'if(n % 50 = 0, 500, 200)', peak_gpu_mem_mb: '20000',
  lora_adapters: '[]', seed: 'n', precision: "'fp16'", queue_depth: 'n % 8', _topic: "'bench'", _partition: '0', _offset: 'n',
}

async function loadData(client: Awaited<ReturnType<Parameters<Scenario['run']>[0]['database']>>['client'], database: string, rawRows: number): Promise<number> {
  const cols = INSERT_COLUMNS.requestEvents
  const missing = cols.filter((c) => RAW[c] === undefined)
  if (missing.length > 0) throw new Error(`query-latency has no generator for ${missing.join(', ')}`)
  const span = 86_400_000
  // Batches keep the engine's memory flat on a small machine.
  const batch = 1_000_000
  for (let off = 0; off < rawRows; off += batch) {
    progress(`query-latency: loading raw events ${off.toLocaleString('en-US')} / ${rawRows.toLocaleString('en-US')}`)
    await client.command({
      query: `INSERT INTO ${database}.request_events (${cols.join(', ')})
              SELECT ${cols.map((c) => RAW[c]).join(', ')}
              FROM (SELECT number AS n, 300 + (cityHash64(number) % 9000) AS e2e,
                      now64(3) - toIntervalMillisecond(toUInt64(cityHash64(number, 1) % ${span})) AS c
                    FROM numbers(${off}, ${Math.min(batch, rawRows - off)}))`,
    })
  }
  // 30 days of 10 s windows for 5 models x 4 workers.
  const windows = 30 * 8640 * 20
  const wcols = INSERT_COLUMNS.requestWindows
  const expr: Record<string, string> = {
    window_start: "toDateTime(toStartOfInterval(now() - toIntervalSecond(intDiv(n, 20) * 10), toIntervalSecond(10)), 'UTC')",
    window_seconds: '10', model: "['sdxl-base','flux-dev','sd15','sd3-medium','kandinsky'][n % 5 + 1]", model_version: "'v1'",
    worker_id: "concat('w-', toString(intDiv(n % 20, 5)))", pipeline: "'txt2img'", gpu_type: "'H100-80GB'", region: "'eu-west'",
    tenant: "'acme'", deployment: "'prod'", requests: '20', successes: '19', images: '40', errors: '1', late_events: '0',
    e2e_ms_sum: '40000', queue_ms_sum: '4000', inference_ms_sum: '30000', queue_ms_count: '20', inference_ms_count: '20', e2e_ms_max: '9000', agg_version: '1',
  }
  for (const c of REQUEST_WINDOW_ERROR_COLUMNS) expr[c] = c === 'err_oom' ? '1' : '0'
  progress('query-latency: loading 30 days of windows')
  await client.command({
    query: `INSERT INTO ${database}.request_windows (${wcols.join(', ')}) SELECT ${wcols.map((c) => expr[c]).join(', ')} FROM (SELECT number AS n FROM numbers(${windows}))`,
  })
  return windows
}

const ROUTES = [
  { name: 'latency percentiles 24 h', url: '/v1/latency/percentiles?from=-24h' },
  { name: 'latency series 24 h, 1 min', url: '/v1/latency/series?from=-24h&step=1m' },
  { name: 'throughput 30 d, 1 h', url: '/v1/throughput?from=-30d&step=1h' },
  { name: 'errors by type 24 h', url: '/v1/errors?from=-24h&step=1h' },
  { name: 'capacity report 24 h', url: '/v1/reports/capacity?from=-24h' },
  { name: 'trend report 30 d', url: '/v1/reports/trend?from=-30d' },
]

export const queryLatency: Scenario = {
  name: 'query-latency',
  describe: '10 M raw events over 24 h and 30 days of windows; API route latency via inject and HTTP under concurrency',
  async run(ctx) {
    const rawRows = ctx.params.quick ? 1_000_000 : 10_000_000
    const { client, database } = await ctx.database('query')
    const windows = await loadData(client, database, rawRows)
    const [stored] = await (await client.query({ query: `SELECT count() AS n FROM ${database}.request_events`, format: 'JSONEachRow' })).json<{ n: number }>()
    if (Number(stored?.n) !== rawRows) throw new Error(`query-latency: loaded ${stored?.n} raw events of ${rawRows}`)
    ctx.detail('query.data', { rawRows, windows })
    const app = await buildApi({ clickhouse: client, database, dashboard: false, docs: false })
    const iterations = ctx.params.quick ? 10 : 30
    try {
      for (const route of ROUTES) {
        const times: number[] = []
        for (let i = 0; i < iterations + 2; i++) {
          progress(`query-latency: ${route.name} (inject) ${i + 1}/${iterations + 2}`)
          const t0 = performance.now()
          const res = await app.inject({ method: 'GET', url: route.url })
          const ms = performance.now() - t0
          if (res.statusCode !== 200) throw new Error(`${route.url} answered ${res.statusCode}: ${res.body.slice(0, 300)}`)
          if (i >= 2) times.push(ms) // the first two warm caches and JIT
        }
        ctx.report({ scenario: 'query-latency', name: `${route.name}, inject p50`, value: round(median(times), 1), unit: 'ms' })
        ctx.report({ scenario: 'query-latency', name: `${route.name}, inject p99`, value: round(quantile(times, 0.99), 1), unit: 'ms' })
        ctx.detail(`query.inject.${route.name}`, times.map((t) => round(t, 2)))
      }
      await app.listen({ host: '127.0.0.1', port: 0 })
      const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
      const concurrency = 8
      const perClient = ctx.params.quick ? 5 : 15
      const route = ROUTES[0]!
      const times: number[] = []
      const t0 = performance.now()
      await Promise.all(Array.from({ length: concurrency }, async () => {
        for (let i = 0; i < perClient; i++) {
          const s = performance.now()
          const res = await fetch(base + route.url)
          await res.arrayBuffer()
          if (res.status !== 200) throw new Error(`${route.url} over HTTP answered ${res.status}`)
          times.push(performance.now() - s)
          progress(`query-latency: HTTP x${concurrency} ${times.length}/${concurrency * perClient}`)
        }
      }))
      const secs = (performance.now() - t0) / 1000
      ctx.report({ scenario: 'query-latency', name: `${route.name}, HTTP x${concurrency} p50`, value: round(median(times), 1), unit: 'ms' })
      ctx.report({ scenario: 'query-latency', name: `${route.name}, HTTP x${concurrency} p99`, value: round(quantile(times, 0.99), 1), unit: 'ms' })
      ctx.report({ scenario: 'query-latency', name: `${route.name}, HTTP x${concurrency} throughput`, value: round(times.length / secs, 1), unit: 'req/s' })
    } finally {
      await app.close()
    }
  },
}

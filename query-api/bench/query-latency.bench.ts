/**
 * Query latency of the main routes over a day of raw events (10 M by default): loads synthetic
 * rows into a fresh embedded ClickHouse with INSERT ... SELECT (the materialized views fill the
 * percentile rollups as they would from the transformer), fills the windowed aggregates, then
 * times each route through Fastify inject and prints median and p99 in milliseconds.
 *
 *   npx tsx query-api/bench/query-latency.bench.ts            # 10 M events, 20 runs per route
 *   BENCH_ROWS=1000000 BENCH_RUNS=10 npx tsx query-api/bench/query-latency.bench.ts
 *
 * Figures, not assertions: a slow machine prints slow numbers and nothing fails.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openClickHouse } from '../../migrations/clickhouse.ts'
import { migrate } from '../../migrations/runner.ts'
import { buildApi } from '../app.ts'
import { fillWindows } from '../test-support/windows-fill.ts'

const ROWS = Number(process.env['BENCH_ROWS'] ?? 10_000_000)
const RUNS = Number(process.env['BENCH_RUNS'] ?? 20)
const DAY = 86_400_000
const END = Math.floor(Date.now() / 3_600_000) * 3_600_000
const START = END - DAY
const database = 'bench'
const root = mkdtempSync(join(tmpdir(), 'dw-query-bench-'))
const iso = (ms: number) => new Date(ms).toISOString()

const client = await openClickHouse({ dataPath: join(root, 'clickhouse'), database })
try {
  await migrate(client, { database })
  const t0 = performance.now()
  // 64 workers (one per GPU) over 3 GPU types and 4 models; log-normal latencies; 3 % errors.
  await client.command({
    query: `
      INSERT INTO request_events (event_id, request_id, tenant, region, deployment, worker_id, host, gpu_uuid, gpu_type, model, model_version,
        pipeline, sampler, steps, guidance_scale, width, height, images, batch_size, cold_start, received_at, dequeued_at,
        inference_start_at, inference_end_at, completed_at, denoise_ms, status, error_type, _topic, _partition, _offset)
      SELECT toString(number), toString(number), ['acme', 'globex', 'initech'][number % 3 + 1], ['eu-west', 'us-east', 'us-west'][w % 3 + 1], 'prod',
        concat('w', toString(w)), concat('h', toString(intDiv(w, 8))), concat('GPU-', toString(w)), ['H100-80GB', 'A100-40GB', 'L4-24GB'][w % 3 + 1],
        ['sdxl-base', 'flux-schnell', 'sd-x4-upscaler', 'sdxl-turbo'][intDiv(w, 16) + 1], 'v1', 'txt2img', ['euler', 'dpmpp_2m'][number % 2 + 1],
        steps, 7, side, side, 1, 1, false,
        completed - toIntervalMillisecond(queue + infer + 200), completed - toIntervalMillisecond(infer + 200),
        completed - toIntervalMillisecond(infer + 100), completed - toIntervalMillisecond(100), completed, infer * 0.9,
        if(err, 'error', 'ok'), if(err, 'oom', NULL), 'bench', 0, number
      FROM (
        SELECT number, number % 64 AS w, [4, 20, 30, 50][number % 4 + 1] AS steps, [512, 768, 1024, 1536][intDiv(number, 4) % 4 + 1] AS side,
               toDateTime64({start:Int64} / 1000 + number * ({day:Int64} / 1000 / {rows:Int64}), 3, 'UTC') AS completed,
               toUInt32(exp(5 + randNormal(0, 1))) AS queue, toUInt32(steps * exp(3.5 + randNormal(0, 0.3))) AS infer, rand() % 100 < 3 AS err
        FROM numbers({rows:UInt64})
      )`,
    query_params: { start: START, day: DAY, rows: ROWS },
  })
  await client.command({
    query: `
      INSERT INTO gpu_samples (sampled_at, host, worker_id, gpu_index, gpu_uuid, gpu_name, util_gpu_pct, mem_used_mb, mem_total_mb, temperature_c, power_w, source, _topic, _partition, _offset)
      SELECT toDateTime64({start:Int64} / 1000 + intDiv(number, 64) * 10, 3, 'UTC'), concat('h', toString(intDiv(g, 8))), concat('w', toString(g)), g % 8,
             concat('GPU-', toString(g)), 'NVIDIA H100 80GB HBM3', rand() % 101, 40000 + rand() % 30000, 81559, 50 + rand() % 30, 300 + rand() % 400, 'simulated', 'bench', 0, number
      FROM (SELECT number, number % 64 AS g FROM numbers(64 * 8640))`,
    query_params: { start: START },
  })
  await fillWindows(client, database)
  console.log(`loaded ${ROWS.toLocaleString('en')} request events over 24 h (+ rollups, windows, 553k GPU samples) in ${((performance.now() - t0) / 1000).toFixed(1)} s`)

  const api = await buildApi({ clickhouse: client, database, docs: false, dashboard: false, now: () => END })
  // The same API never choosing the hourly tier, to time the 1-minute tier on the same range.
  const minuteApi = await buildApi({ clickhouse: client, database, docs: false, dashboard: false, now: () => END, limits: { hourlyRollupMinRangeSeconds: 400 * 86_400 } })
  const day = `from=${iso(START)}&to=${iso(END)}`
  const hour = `from=${iso(END - 3_600_000)}&to=${iso(END)}`
  const routes: Array<[string, string, typeof api?]> = [
    ['latency 24h (auto)', `/v1/latency/percentiles?${day}&groupBy=model`],
    ['latency 24h, rollup_1m', `/v1/latency/percentiles?${day}&groupBy=model`, minuteApi],
    ['latency 24h, raw', `/v1/latency/percentiles?${day}&groupBy=model&source=raw`],
    ['latency 1h, raw (auto)', `/v1/latency/percentiles?${hour}&groupBy=model`],
    ['latency series 24h/15m (auto)', `/v1/latency/series?${day}&step=15m`],
    ['latency series 24h/1h (auto)', `/v1/latency/series?${day}&step=1h`],
    ['latency series 24h/1h, raw', `/v1/latency/series?${day}&step=1h&source=raw`],
    ['latency series 24h/15m, raw', `/v1/latency/series?${day}&step=15m&source=raw`],
    ['throughput 24h/5m', `/v1/throughput?${day}&step=5m`],
    ['errors 24h/5m by model', `/v1/errors?${day}&step=5m&groupBy=model`],
    ['availability 24h/1h', `/v1/availability?${day}&step=1h`],
    ['gpu utilization 24h per GPU', `/v1/gpu/utilization?${day}`],
    ['gpu series 24h/15m', `/v1/gpu/series?${day}&step=15m`],
    ['oom 24h', `/v1/oom?${day}`],
  ]
  console.log(`${'route'.padEnd(34)} ${'median ms'.padStart(10)} ${'p99 ms'.padStart(10)}  (${RUNS} runs after 1 warm-up)`)
  for (const [name, url, target = api] of routes) {
    const first = await target.inject({ method: 'GET', url })
    if (first.statusCode !== 200) throw new Error(`${url}: ${first.statusCode} ${first.body}`)
    const source = (first.json() as { source?: string }).source
    const times: number[] = []
    for (let i = 0; i < RUNS; i++) {
      const t = performance.now()
      await target.inject({ method: 'GET', url })
      times.push(performance.now() - t)
    }
    times.sort((a, b) => a - b)
    const at = (q: number) => times[Math.min(times.length - 1, Math.ceil(q * times.length) - 1)] ?? NaN
    console.log(`${name.padEnd(34)} ${at(0.5).toFixed(1).padStart(10)} ${at(0.99).toFixed(1).padStart(10)}${source ? `  source=${source}` : ''}`)
  }
  await api.close()
  await minuteApi.close()
} finally {
  await client.close()
  rmSync(root, { recursive: true, force: true })
}

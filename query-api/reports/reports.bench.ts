/**
 * Latency of the reports over synthetic data in a fresh embedded ClickHouse:
 * - trend over 30 and 90 days, from the tables it reads (request_windows and gpu_windows at the
 *   transformer's 10-s windows for BENCH_WORKERS workers, the hourly t-digest rollup with every
 *   dimension), loaded with INSERT ... SELECT;
 * - capacity and cost over 24 h of BENCH_ROWS raw request events (64 workers) and 10-s GPU samples.
 * Prints median and p99 per report in milliseconds; figures, not assertions.
 *
 *   npx tsx query-api/reports/reports.bench.ts
 *   BENCH_DAYS=90 BENCH_WORKERS=64 BENCH_ROWS=10000000 BENCH_RUNS=10 npx tsx query-api/reports/reports.bench.ts
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openClickHouse } from '../../migrations/clickhouse.ts'
import { migrate } from '../../migrations/runner.ts'
import { createStore } from '../store.ts'
import { capacityReport } from './capacity.ts'
import { costReport } from './cost.ts'
import { DEFAULT_PRICES } from './prices.ts'
import { DAY_MS, trendReport } from './trend.ts'

const DAYS = Number(process.env['BENCH_DAYS'] ?? 90)
const WORKERS = Number(process.env['BENCH_WORKERS'] ?? 16)
const ROWS = Number(process.env['BENCH_ROWS'] ?? 2_000_000)
const RUNS = Number(process.env['BENCH_RUNS'] ?? 10)
const END = Math.floor(Date.now() / DAY_MS) * DAY_MS
const database = 'bench_reports'
const root = mkdtempSync(join(tmpdir(), 'dw-reports-bench-'))
const client = await openClickHouse({ dataPath: join(root, 'clickhouse'), database })

async function load(): Promise<void> {
  const params = { start: (END - DAYS * DAY_MS) / 1000, windows: DAYS * 8640, workers: WORKERS }
  // Per worker and 10-s window: Poisson-ish requests growing 5 %/week, 2 % errors.
  await client.command({
    query: `
      INSERT INTO request_windows (window_start, window_seconds, model, model_version, worker_id, pipeline, gpu_type, region, tenant, deployment,
        requests, successes, images, errors, err_internal, e2e_ms_sum, agg_version)
      SELECT toDateTime({start:UInt32} + intDiv(number, {workers:UInt32}) * 10, 'UTC'), 10, ['sdxl-base', 'flux-schnell', 'sd15', 'sdxl-turbo'][w % 4 + 1], 'v1',
             concat('w', toString(w)), 'txt2img', ['H100-80GB', 'A100-40GB', 'L4-24GB'][w % 3 + 1], 'eu-west', ['acme', 'globex', 'initech'][w % 3 + 1], 'prod',
             n, n - e, n, e, e, n * 2000.0, 1
      FROM (SELECT number, number % {workers:UInt32} AS w, toUInt64(3 * exp(intDiv(number, {workers:UInt32}) / 8640 * ln(1.05) / 7) + rand() % 3) AS n,
                   toUInt64(rand(1) % 100 < 2) AS e FROM numbers({windows:UInt64} * {workers:UInt32}))`,
    query_params: params,
  })
  await client.command({
    query: `
      INSERT INTO gpu_windows (window_start, window_seconds, gpu_uuid, host, gpu_name, worker_id, samples, util_sum, util_max, busy_samples, agg_version)
      SELECT toDateTime({start:UInt32} + intDiv(number, {workers:UInt32}) * 10, 'UTC'), 10, concat('GPU-', toString(w)), concat('h', toString(intDiv(w, 8))),
             'NVIDIA H100 80GB HBM3', concat('w', toString(w)), 10, u * 10, u, 10, 1
      FROM (SELECT number, number % {workers:UInt32} AS w, toFloat64(rand() % 101) AS u FROM numbers({windows:UInt64} * {workers:UInt32}))`,
    query_params: params,
  })
  // Hourly rollup with every dimension: 4 values per (hour, worker, tenant, sampler, steps, resolution, status) key.
  await client.command({
    query: `
      INSERT INTO latency_rollup_1h
      SELECT ts, model, gpu_type, 'txt2img', 'eu-west', tenant, sampler, steps_bucket, resolution_bucket, status,
             count(), count(), count(), count(), quantilesTDigestState(0.5)(v), quantilesTDigestState(0.5)(v * 0.1), quantilesTDigestState(0.5)(v * 0.8), quantilesTDigestState(0.5)(v / 30)
      FROM (
        SELECT toDateTime({start:UInt32} + intDiv(number, 4 * 192 * {workers:UInt32}) * 3600, 'UTC') AS ts, intDiv(number, 4) % (192 * {workers:UInt32}) AS k,
               k % {workers:UInt32} AS w, ['sdxl-base', 'flux-schnell', 'sd15', 'sdxl-turbo'][w % 4 + 1] AS model, ['H100-80GB', 'A100-40GB', 'L4-24GB'][w % 3 + 1] AS gpu_type,
               ['acme', 'globex', 'initech'][intDiv(k, {workers:UInt32}) % 3 + 1] AS tenant, ['euler', 'dpmpp_2m'][intDiv(k, 3 * {workers:UInt32}) % 2 + 1] AS sampler,
               ['1-10', '11-20', '21-30', '31-50'][intDiv(k, 6 * {workers:UInt32}) % 4 + 1] AS steps_bucket,
               ['<=512x512', '<=768x768', '<=1024x1024', '<=1536x1536'][intDiv(k, 24 * {workers:UInt32}) % 4 + 1] AS resolution_bucket,
               ['ok', 'error'][intDiv(k, 96 * {workers:UInt32}) % 2 + 1] AS status, exp(7.5 + randNormal(0, 0.4)) AS v
        FROM numbers({windows:UInt64} / 360 * 4 * 192 * {workers:UInt32})
      )
      GROUP BY ts, model, gpu_type, tenant, sampler, steps_bucket, resolution_bucket, status`,
    query_params: params,
  })
  // 24 h of raw events and 10-s GPU samples for capacity and cost (the views fill the rollups too).
  await client.command({
    query: `
      INSERT INTO request_events (event_id, request_id, tenant, region, deployment, worker_id, host, gpu_uuid, gpu_type, model, model_version, pipeline, sampler,
        steps, guidance_scale, width, height, images, batch_size, cold_start, received_at, dequeued_at, inference_start_at, inference_end_at, completed_at, status, error_type, _topic, _partition, _offset)
      SELECT toString(number), toString(number), ['acme', 'globex', 'initech'][number % 3 + 1], 'eu-west', 'prod', concat('w', toString(w)), concat('h', toString(intDiv(w, 8))),
             concat('GPU-', toString(w)), ['H100-80GB', 'A100-40GB', 'L4-24GB'][w % 3 + 1], ['sdxl-base', 'flux-schnell', 'sd15', 'sdxl-turbo'][w % 4 + 1], 'v1', 'txt2img', 'euler',
             [4, 20, 30, 50][number % 4 + 1], 7, side, side, 1, 1, false,
             completed - toIntervalMillisecond(queue + infer + 200), completed - toIntervalMillisecond(infer + 200), completed - toIntervalMillisecond(infer + 100),
             completed - toIntervalMillisecond(100), completed, if(err, 'error', 'ok'), if(err, 'oom', NULL), 'bench', 0, number
      FROM (SELECT number, number % 64 AS w, [512, 768, 1024, 1536][intDiv(number, 4) % 4 + 1] AS side,
                   toDateTime64({end:Int64} / 1000 - 86400 + number * (86400 / {rows:Int64}), 3, 'UTC') AS completed,
                   toUInt32(exp(5 + randNormal(0, 1))) AS queue, toUInt32(exp(7.5 + randNormal(0, 0.4))) AS infer, rand() % 100 < 3 AS err
            FROM numbers({rows:UInt64}))`,
    query_params: { end: END, rows: ROWS },
  })
  await client.command({
    query: `
      INSERT INTO gpu_samples (sampled_at, host, worker_id, gpu_index, gpu_uuid, gpu_name, util_gpu_pct, source, _topic, _partition, _offset)
      SELECT toDateTime64({end:Int64} / 1000 - 86400 + intDiv(number, 64) * 10, 3, 'UTC'), concat('h', toString(intDiv(g, 8))), concat('w', toString(g)), g % 8,
             concat('GPU-', toString(g)), 'NVIDIA H100 80GB HBM3', rand() % 101, 'simulated', 'bench', 0, number
      FROM (SELECT number, number % 64 AS g FROM numbers(64 * 8640))`,
    query_params: { end: END },
  })
}

async function time(label: string, run: () => Promise<unknown>): Promise<void> {
  await run() // warm-up: first-touch of parts and marks
  const ms: number[] = []
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now()
    await run()
    ms.push(performance.now() - t)
  }
  ms.sort((a, b) => a - b)
  const p99 = ms[Math.min(ms.length - 1, Math.ceil(0.99 * ms.length) - 1)] ?? NaN
  console.log(`${label.padEnd(34)} median ${(ms[Math.floor(ms.length / 2)] ?? NaN).toFixed(0).padStart(6)} ms   p99 ${p99.toFixed(0).padStart(6)} ms`)
}

try {
  await migrate(client, { database })
  const t0 = performance.now()
  await load()
  const count = async (table: string) => (await (await client.query({ query: `SELECT count() AS n FROM ${database}.${table}`, format: 'JSONEachRow' })).json<{ n: string }>())[0]?.n
  console.log(`loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s: request_windows ${await count('request_windows')}, gpu_windows ${await count('gpu_windows')}, latency_rollup_1h ${await count('latency_rollup_1h')}, request_events ${await count('request_events')}, gpu_samples ${await count('gpu_samples')} rows`)
  const store = createStore(client, database, 300)
  const trend = (days: number) => () => trendReport(store, { from: END - days * DAY_MS, to: END, now: END, forecastDays: 14, baselineDays: 7, filters: {} })
  await time('trend 30 days', trend(30))
  if (DAYS >= 90) await time('trend 90 days', trend(90))
  await time('trend 90 days, one model', () => trendReport(store, { from: END - Math.min(DAYS, 90) * DAY_MS, to: END, now: END, forecastDays: 14, baselineDays: 7, filters: { models: ['sd15'] } }))
  const day = { from: END - DAY_MS, to: END, now: END }
  await time('capacity 24 h', () => capacityReport(store, { ...day, targetLoad: { kind: 'multiplier', value: 2 }, targetP95QueueWaitMs: 1000, peakWindowSeconds: 300, filters: {} }))
  await time('cost 24 h', () => costReport(store, { ...day, prices: DEFAULT_PRICES, pricesSource: 'defaults', gapCapMs: 60_000 }))
} finally {
  await client.close()
  rmSync(root, { recursive: true, force: true })
}

import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ClickHouseClient } from '@clickhouse/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { newestSchemaVersion } from '../schemas/test-fixtures.ts'
import { openClickHouse } from './clickhouse.ts'
import { migrate } from './runner.ts'
import { INSERT_COLUMNS, TABLES, type InsertTableKey } from './tables.ts'

// One embedded engine per test file (chdb binds one data folder per process), migrated once.
const root = mkdtempSync(join(tmpdir(), 'dw-tables-test-'))
const database = 'tables_test'
let client: ClickHouseClient

beforeAll(async () => {
  client = await openClickHouse({ dataPath: join(root, 'clickhouse'), database })
  await migrate(client, { database })
})
afterAll(async () => {
  await client.close()
  rmSync(root, { recursive: true, force: true })
})

async function rows<T>(query: string, params: Record<string, unknown> = {}): Promise<T[]> {
  return (await client.query({ query, format: 'JSONEachRow', query_params: params })).json<T>()
}

function avroFields(file: string): string[] {
  const schema = JSON.parse(readFileSync(new URL(`../schemas/${file}`, import.meta.url), 'utf8')) as { fields: Array<{ name: string }> }
  return schema.fields.map((f) => f.name)
}

// Raw tables have a 30-day TTL, and rows already past it are dropped at insert: use recent times.
const midnight = new Date(new Date().toISOString().slice(0, 10) + 'T00:00:00Z').getTime()
const at = (offsetMs: number) => new Date(midnight + offsetMs).toISOString().replace('T', ' ').replace('Z', '')

const requestEvent = (i: number, completedMs: number) => ({
  event_id: `ev-${i}`, request_id: `rq-${i}`, trace_id: null, tenant: 'acme', region: 'eu-west', deployment: 'prod',
  worker_id: 'w-1', host: 'h-1', gpu_uuid: 'GPU-1', gpu_type: 'H100-80GB', model: 'sdxl-base', model_version: 'v1',
  pipeline: 'txt2img', sampler: 'euler_a', steps: 25, guidance_scale: 7.5, width: 1024, height: 1024, images: 1,
  batch_size: 1, prompt_hash: 'abc', cold_start: false, model_load_ms: null, received_at: at(completedMs - 1500),
  dequeued_at: at(completedMs - 1400), inference_start_at: at(completedMs - 1300), inference_end_at: at(completedMs - 300),
  completed_at: at(completedMs), text_encode_ms: null, denoise_ms: null, vae_decode_ms: null, safety_ms: null, upload_ms: null, status: 'ok',
  error_type: null, error_message: null, http_status: 200, peak_gpu_mem_mb: null,
  // v2 fields (0006): the first event carries values, the others what a v1 event reads as.
  lora_adapters: i === 1 ? ['detail-tweaker-xl', 'film-grain'] : [], seed: i === 1 ? 4242 : null,
  precision: i === 1 ? 'bf16' : null, queue_depth: i === 1 ? 3 : null,
  _topic: 'diffwatch.requests.v1', _partition: 0, _offset: i,
})

const gpuSample = (i: number) => ({
  sampled_at: at(i * 1000), host: 'h-1', worker_id: null, gpu_index: 0, gpu_uuid: 'GPU-1',
  gpu_name: 'NVIDIA H100 80GB HBM3', util_gpu_pct: 90, util_mem_pct: 40, mem_used_mb: 50_000, mem_total_mb: 81_559,
  temperature_c: 60, power_w: 500, power_limit_w: 700, sm_clock_mhz: 1980, throttle_reasons: ['sw_power_cap'],
  ecc_uncorrected: 0, last_xid: null, host_cpu_pct: 20, host_mem_used_mb: 100_000, host_mem_total_mb: 512_000,
  source: 'simulated', _topic: 'diffwatch.gpu-samples.v1', _partition: 1, _offset: i,
})

const requestWindow = (worker: string, requests: number, e2eMax: number) => ({
  window_start: '2026-01-01 00:00:10', window_seconds: 10, model: 'sdxl-base', model_version: 'v1', worker_id: worker,
  pipeline: 'txt2img', gpu_type: 'H100-80GB', region: 'eu-west', tenant: 'acme', deployment: 'prod',
  requests, successes: requests - 1, images: requests, errors: 1, err_oom: 1, err_timeout: 0, err_queue_timeout: 0,
  err_invalid_input: 0, err_safety_blocked: 0, err_model_error: 0, err_upstream: 0, err_gpu_fault: 0,
  err_cancelled: 0, err_internal: 0, late_events: 0, e2e_ms_sum: requests * 1000, queue_ms_sum: 10,
  inference_ms_sum: 900, e2e_ms_max: e2eMax, agg_version: 1,
})

const gpuWindow = (gpu: string, samples: number) => ({
  window_start: '2026-01-01 00:00:10', window_seconds: 10, gpu_uuid: gpu, host: 'h-1', gpu_name: 'NVIDIA H100 80GB HBM3',
  worker_id: 'w-1', samples, util_sum: samples * 90, util_max: 95, util_mem_sum: samples * 40, mem_used_sum: samples * 5e4,
  mem_used_max: 5e4, mem_total_max: 81_559, power_sum: samples * 500, power_max: 650, temp_max: 70,
  throttled_samples: 1, xid_samples: 0, busy_samples: samples, agg_version: 1,
})

/** Rows as the transformer sends them: JSONCompactEachRow arrays in INSERT_COLUMNS order. */
async function insertCompact(table: InsertTableKey, objects: Array<Record<string, unknown>>, token?: string): Promise<void> {
  const columns = INSERT_COLUMNS[table]
  await client.insert({
    table: TABLES[table],
    columns: [...columns],
    values: objects.map((o) => columns.map((c) => o[c])),
    format: 'JSONCompactEachRow',
    clickhouse_settings: token === undefined ? {} : { insert_deduplication_token: token },
  })
}

async function count(table: InsertTableKey): Promise<number> {
  const [row] = await rows<{ n: number }>(`SELECT count() AS n FROM ${TABLES[table]}`)
  return row?.n ?? -1
}

describe('INSERT_COLUMNS', () => {
  it.each(Object.keys(INSERT_COLUMNS) as InsertTableKey[])('%s lists every insertable column of the table, in table order', async (key) => {
    const described = await rows<{ name: string; default_kind: string }>(
      'SELECT name, default_kind FROM system.columns WHERE database = {db:String} AND table = {t:String} ORDER BY position',
      { db: database, t: TABLES[key] },
    )
    expect(described.length).toBeGreaterThan(0)
    expect([...INSERT_COLUMNS[key]]).toEqual(described.filter((c) => c.default_kind === '').map((c) => c.name))
  })

  it('covers every field of the newest event schemas, under the same names', () => {
    expect(INSERT_COLUMNS.requestEvents.slice(0, -3)).toEqual(avroFields(`request-event.v${newestSchemaVersion('request-event')}.avsc`))
    expect(INSERT_COLUMNS.gpuSamples.slice(0, -3)).toEqual(avroFields(`gpu-sample.v${newestSchemaVersion('gpu-sample')}.avsc`))
  })
})

describe('insert deduplication', () => {
  const cases: Array<[InsertTableKey, Array<Record<string, unknown>>]> = [
    // Two days: the insert is split into two partition blocks, both must be recognised on replay.
    ['requestEvents', [requestEvent(1, -1000), requestEvent(2, 1000), requestEvent(3, 2000)]],
    ['gpuSamples', [gpuSample(1), gpuSample(2), gpuSample(3)]],
    ['requestWindows', [requestWindow('w-1', 5, 1500), requestWindow('w-2', 7, 2500)]],
    ['gpuWindows', [gpuWindow('GPU-1', 10), gpuWindow('GPU-2', 10)]],
  ]

  it.each(cases)('%s keeps one copy of a chunk inserted twice with the same token', async (table, objects) => {
    const token = `v1:${TABLES[table]}:topic:0:100-199`
    await insertCompact(table, objects, token)
    await insertCompact(table, objects, token)
    expect(await count(table)).toBe(objects.length)
    await insertCompact(table, objects, `${token}-next`)
    expect(await count(table)).toBe(objects.length * 2)
  })

  it('computes the materialized request_events columns', async () => {
    const [row] = await rows<Record<string, unknown>>(
      "SELECT e2e_ms, queue_ms, inference_ms, ms_per_step, megapixels, _ingested_at > '2020-01-01' AS ingested FROM request_events WHERE event_id = 'ev-1' LIMIT 1",
    )
    expect(row).toEqual({ e2e_ms: 1500, queue_ms: 100, inference_ms: 1000, ms_per_step: 40, megapixels: 1.048576, ingested: 1 })
  })

  it('stores the v2 columns added by ALTER TABLE, and reads [] / NULL where an event has none', async () => {
    const v2Columns = await rows<Record<string, unknown>>(
      "SELECT event_id, lora_adapters, seed, precision, queue_depth FROM request_events WHERE event_id IN ('ev-1', 'ev-2') ORDER BY event_id LIMIT 1 BY event_id",
    )
    expect(v2Columns).toEqual([
      { event_id: 'ev-1', lora_adapters: ['detail-tweaker-xl', 'film-grain'], seed: 4242, precision: 'bf16', queue_depth: 3 },
      { event_id: 'ev-2', lora_adapters: [], seed: null, precision: null, queue_depth: null },
    ])
  })
})

describe('window tables', () => {
  it('merge partial rows for one key with sum and max, before and after background merges', async () => {
    const query = `SELECT sum(requests) AS requests, sum(err_oom) AS oom, max(e2e_ms_max) AS e2e_max
      FROM request_windows WHERE model = 'sdxl-base' AND worker_id = 'w-merge'`
    await insertCompact('requestWindows', [requestWindow('w-merge', 3, 900)], 'merge-a')
    await insertCompact('requestWindows', [requestWindow('w-merge', 4, 1900)], 'merge-b')
    expect(await rows(query)).toEqual([{ requests: 7, oom: 2, e2e_max: 1900 }])
    await client.command({ query: 'OPTIMIZE TABLE request_windows FINAL' })
    expect(await rows(query)).toEqual([{ requests: 7, oom: 2, e2e_max: 1900 }])
    expect(await rows("SELECT count() AS n FROM request_windows WHERE worker_id = 'w-merge'")).toEqual([{ n: 1 }])
  })
})

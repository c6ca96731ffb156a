/**
 * The one module of ClickHouse table names, and of the columns the transformer inserts.
 *
 * `INSERT_COLUMNS.x` is every column of table x that is neither MATERIALIZED nor DEFAULT, in
 * table order, so a writer can send JSONCompactEachRow rows (one array per row, values in this
 * order) with `columns: INSERT_COLUMNS.x`. A test checks each list against DESCRIBE on a
 * migrated database; a migration that adds a column must extend the list in the same change.
 * Names are unqualified: the client's database selects where they live (see clickhouse.ts).
 */
export const TABLES = Object.freeze({
  requestEvents: 'request_events',
  gpuSamples: 'gpu_samples',
  requestWindows: 'request_windows',
  gpuWindows: 'gpu_windows',
  /** t-digest states of request latency per minute / hour (0005), fed by materialized views. */
  latencyRollup1m: 'latency_rollup_1m',
  latencyRollup1h: 'latency_rollup_1h',
  schemaMigrations: 'schema_migrations',
  /** API keys (hashes only) and their last use (0007). */
  apiKeys: 'api_keys',
  apiKeyUsage: 'api_key_usage',
  /** SLO alert transitions (0008). */
  sloAlerts: 'slo_alerts',
} as const)

export type TableKey = keyof typeof TABLES
export type TableName = (typeof TABLES)[TableKey]

/** Columns a Kafka-sourced row carries besides its event fields (where it came from). */
export const INGEST_METADATA_COLUMNS = ['_topic', '_partition', '_offset'] as const

const REQUEST_EVENT_FIELDS = [
  'event_id', 'request_id', 'trace_id', 'tenant', 'region', 'deployment', 'worker_id', 'host',
  'gpu_uuid', 'gpu_type', 'model', 'model_version', 'pipeline', 'sampler', 'steps',
  'guidance_scale', 'width', 'height', 'images', 'batch_size', 'prompt_hash', 'cold_start',
  'model_load_ms', 'received_at', 'dequeued_at', 'inference_start_at', 'inference_end_at',
  'completed_at', 'text_encode_ms', 'denoise_ms', 'vae_decode_ms', 'safety_ms', 'upload_ms',
  'status', 'error_type', 'error_message', 'http_status', 'peak_gpu_mem_mb',
  // RequestEvent v2 (migration 0006_request_events_v2.sql)
  'lora_adapters', 'seed', 'precision', 'queue_depth',
] as const

const GPU_SAMPLE_FIELDS = [
  'sampled_at', 'host', 'worker_id', 'gpu_index', 'gpu_uuid', 'gpu_name', 'util_gpu_pct',
  'util_mem_pct', 'mem_used_mb', 'mem_total_mb', 'temperature_c', 'power_w', 'power_limit_w',
  'sm_clock_mhz', 'throttle_reasons', 'ecc_uncorrected', 'last_xid', 'host_cpu_pct',
  'host_mem_used_mb', 'host_mem_total_mb', 'source',
] as const

/** Error-type counters of request_windows, one per ErrorType symbol, in table order. */
export const REQUEST_WINDOW_ERROR_COLUMNS = [
  'err_oom', 'err_timeout', 'err_queue_timeout', 'err_invalid_input', 'err_safety_blocked',
  'err_model_error', 'err_upstream', 'err_gpu_fault', 'err_cancelled', 'err_internal',
] as const

export const INSERT_COLUMNS = Object.freeze({
  requestEvents: [...REQUEST_EVENT_FIELDS, ...INGEST_METADATA_COLUMNS] as const,
  gpuSamples: [...GPU_SAMPLE_FIELDS, ...INGEST_METADATA_COLUMNS] as const,
  requestWindows: [
    'window_start', 'window_seconds',
    'model', 'model_version', 'worker_id', 'pipeline', 'gpu_type', 'region', 'tenant', 'deployment',
    'requests', 'successes', 'images', 'errors', ...REQUEST_WINDOW_ERROR_COLUMNS, 'late_events',
    'e2e_ms_sum', 'queue_ms_sum', 'inference_ms_sum', 'queue_ms_count', 'inference_ms_count', 'e2e_ms_max',
    'agg_version',
  ] as const,
  gpuWindows: [
    'window_start', 'window_seconds',
    'gpu_uuid', 'host', 'gpu_name', 'worker_id',
    'samples', 'util_sum', 'util_max', 'util_mem_sum', 'mem_used_sum', 'mem_used_max',
    'mem_total_max', 'power_sum', 'power_max', 'temp_max', 'throttled_samples', 'xid_samples',
    'busy_samples', 'late_events',
    'agg_version',
  ] as const,
} satisfies Partial<Record<TableKey, readonly string[]>>)

export type InsertTableKey = keyof typeof INSERT_COLUMNS

-- The transformer's windowed partial aggregates of GPU samples: one row per (tumbling
-- event-time window, GPU) per transformer chunk; several rows per key are correct because
-- queries re-aggregate with sum()/max() ... GROUP BY (see 0003 for why AggregatingMergeTree
-- with SimpleAggregateFunction columns). Averages are sum / samples; busy_samples counts
-- samples with utilisation > 0, the share of time the GPU had work at all.
--
-- ORDER BY (gpu_name, window_start, host, gpu_uuid, worker_id, window_seconds, agg_version):
-- fleet views group GPUs by product (few values) over a time range; per-host and per-GPU
-- drill-downs follow. Every dimension is in the key so rows merge only within one GPU and
-- window; PRIMARY KEY keeps the index to what queries filter on.
--
-- PARTITION BY toYYYYMM(window_start), 400-day TTL: long-term capacity and trend data, few parts.
-- non_replicated_deduplication_window = 10000: replayed chunks are dropped, never double-counted.
CREATE TABLE IF NOT EXISTS gpu_windows
(
    window_start        DateTime('UTC'),
    window_seconds      UInt16,
    gpu_uuid            LowCardinality(String),
    host                LowCardinality(String),
    gpu_name            LowCardinality(String),
    worker_id           LowCardinality(String),

    samples             SimpleAggregateFunction(sum, UInt64),
    util_sum            SimpleAggregateFunction(sum, Float64),
    util_max            SimpleAggregateFunction(max, Float64),
    util_mem_sum        SimpleAggregateFunction(sum, Float64),
    mem_used_sum        SimpleAggregateFunction(sum, Float64),
    mem_used_max        SimpleAggregateFunction(max, Float64),
    mem_total_max       SimpleAggregateFunction(max, Float64),
    power_sum           SimpleAggregateFunction(sum, Float64),
    power_max           SimpleAggregateFunction(max, Float64),
    temp_max            SimpleAggregateFunction(max, Float64),
    throttled_samples   SimpleAggregateFunction(sum, UInt64),
    xid_samples         SimpleAggregateFunction(sum, UInt64),
    busy_samples        SimpleAggregateFunction(sum, UInt64),
    late_events         SimpleAggregateFunction(sum, UInt64),

    agg_version         UInt16
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(window_start)
PRIMARY KEY (gpu_name, window_start)
ORDER BY (gpu_name, window_start, host, gpu_uuid, worker_id, window_seconds, agg_version)
TTL window_start + INTERVAL 400 DAY
SETTINGS non_replicated_deduplication_window = 10000
COMMENT 'Windowed partial aggregates of GPU samples; always read with sum()/max() GROUP BY. PARTITION BY month (long retention, few parts); ORDER BY gpu_name, window_start, then every GPU dimension.';

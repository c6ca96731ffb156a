-- Raw GPU samples: one row per GpuSample v1, one column per Avro field with the same name.
-- Types mirror the Avro types (see 0001); host, GPU and enum strings are LowCardinality.
--
-- PARTITION BY toDate(sampled_at): sampled_at is the event time; time-range queries prune
-- whole days and retention drops whole daily parts.
--
-- ORDER BY (host, gpu_uuid, sampled_at): raw samples are read for drill-downs into one host or
-- one GPU over a time range (fleet-wide views read gpu_windows). A host's GPUs sit together, so a
-- host view is one contiguous read and the host-level columns (CPU, host memory), identical for
-- all GPUs of a host at one instant, compress well; within a GPU rows are in time order, so
-- utilisation, memory and clocks compress as slowly varying series and time ranges prune
-- granules. Host before uuid (rather than uuid alone) costs a lookup by uuid without its host
-- little: a host holds a handful of GPUs.
--
-- non_replicated_deduplication_window = 10000: see 0001 (replayed chunks must still be recognised).
CREATE TABLE IF NOT EXISTS gpu_samples
(
    sampled_at          DateTime64(3, 'UTC'),
    host                LowCardinality(String),
    worker_id           LowCardinality(Nullable(String)),
    gpu_index           Int32,
    gpu_uuid            LowCardinality(String),
    gpu_name            LowCardinality(String),
    util_gpu_pct        Nullable(Float32),
    util_mem_pct        Nullable(Float32),
    mem_used_mb         Nullable(Float64),
    mem_total_mb        Nullable(Float64),
    temperature_c       Nullable(Float32),
    power_w             Nullable(Float32),
    power_limit_w       Nullable(Float32),
    sm_clock_mhz        Nullable(Int32),
    throttle_reasons    Array(LowCardinality(String)),
    ecc_uncorrected     Nullable(Int64),
    last_xid            Nullable(Int32),
    host_cpu_pct        Nullable(Float32),
    host_mem_used_mb    Nullable(Float64),
    host_mem_total_mb   Nullable(Float64),
    source              LowCardinality(String),

    _topic              LowCardinality(String),
    _partition          Int32,
    _offset             Int64,
    _ingested_at        DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
PARTITION BY toDate(sampled_at)
ORDER BY (host, gpu_uuid, sampled_at)
TTL toDateTime(sampled_at) + INTERVAL 30 DAY
SETTINGS non_replicated_deduplication_window = 10000, ttl_only_drop_parts = 1
COMMENT 'Raw GpuSample v1 rows. PARTITION BY day of sampled_at (time pruning, whole-part TTL drops); ORDER BY (host, gpu_uuid, sampled_at) for per-host/per-GPU time series. Retention 30 days.';

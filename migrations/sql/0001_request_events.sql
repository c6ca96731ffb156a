-- Raw request events: one row per RequestEvent v1, one column per Avro field with the same name.
--
-- Column types mirror the Avro types (int -> Int32, long -> Int64, float -> Float32,
-- double -> Float64, nullable union -> Nullable) so that every record the Avro reader accepts
-- can be inserted; a narrower type would turn one odd value into a failed insert of a whole
-- chunk. Strings with few distinct values (tenant, model, worker, GPU, enums) are
-- LowCardinality: smaller on disk and faster to GROUP BY. Timestamps are epoch ms in UTC.
--
-- PARTITION BY toDate(completed_at): completed_at is the event time every query filters on, so
-- time-range queries prune whole days, and retention drops whole daily parts (ttl_only_drop_parts)
-- instead of rewriting them.
--
-- ORDER BY (model, toStartOfMinute(completed_at), worker_id): the everyday questions are
-- percentiles and throughput of one model (or all of them, grouped by model) over a time range.
-- Model first: few distinct values, so a query for one model reads one contiguous run per day,
-- and a fleet-wide time-range query still prunes on the second key column (ClickHouse skips
-- granules on a later key column when the earlier ones are constant over them). The minute,
-- not the raw timestamp, so that within a minute rows cluster by worker: host, GPU, region and
-- deployment columns, which follow the worker, compress far better. The key is used for range
-- conditions on completed_at itself because toStartOfMinute is monotonic.
--
-- non_replicated_deduplication_window = 10000: an insert is dropped as a duplicate only while its
-- token is among the table's last N insert blocks. A transformer replays a chunk after a crash or
-- rebalance (tens of seconds); with many partitions, instances and daily-partition splits, 1000
-- blocks can pass in a minute, so keep a generous margin. The cost is a small hash list on disk.
CREATE TABLE IF NOT EXISTS request_events
(
    event_id            String,
    request_id          String,
    trace_id            Nullable(String),
    tenant              LowCardinality(String),
    region              LowCardinality(String),
    deployment          LowCardinality(String),
    worker_id           LowCardinality(String),
    host                LowCardinality(String),
    gpu_uuid            LowCardinality(String),
    gpu_type            LowCardinality(String),
    model               LowCardinality(String),
    model_version       LowCardinality(String),
    pipeline            LowCardinality(String),
    sampler             LowCardinality(String),
    steps               Int32,
    guidance_scale      Float32,
    width               Int32,
    height              Int32,
    images              Int32,
    batch_size          Int32,
    prompt_hash         Nullable(String),
    cold_start          Bool,
    model_load_ms       Nullable(Float64),
    received_at         DateTime64(3, 'UTC'),
    dequeued_at         Nullable(DateTime64(3, 'UTC')),
    inference_start_at  Nullable(DateTime64(3, 'UTC')),
    inference_end_at    Nullable(DateTime64(3, 'UTC')),
    completed_at        DateTime64(3, 'UTC'),
    text_encode_ms      Nullable(Float64),
    denoise_ms          Nullable(Float64),
    vae_decode_ms       Nullable(Float64),
    safety_ms           Nullable(Float64),
    upload_ms           Nullable(Float64),
    status              LowCardinality(String),
    error_type          LowCardinality(Nullable(String)),
    error_message       Nullable(String),
    http_status         Nullable(Int32),
    peak_gpu_mem_mb     Nullable(Float64),

    -- Derived once at insert time so queries never repeat (or get wrong) the arithmetic.
    e2e_ms              Float64 MATERIALIZED toFloat64(toUnixTimestamp64Milli(completed_at) - toUnixTimestamp64Milli(received_at))
        COMMENT 'completed_at - received_at (ms)',
    queue_ms            Nullable(Float64) MATERIALIZED toFloat64(toUnixTimestamp64Milli(dequeued_at) - toUnixTimestamp64Milli(received_at))
        COMMENT 'dequeued_at - received_at (ms); NULL when never dequeued',
    inference_ms        Nullable(Float64) MATERIALIZED toFloat64(toUnixTimestamp64Milli(inference_end_at) - toUnixTimestamp64Milli(inference_start_at))
        COMMENT 'inference_end_at - inference_start_at (ms); NULL when either is missing',
    ms_per_step         Nullable(Float64) MATERIALIZED if(steps > 0,
            coalesce(denoise_ms, toFloat64(toUnixTimestamp64Milli(inference_end_at) - toUnixTimestamp64Milli(inference_start_at))) / steps,
            NULL)
        COMMENT 'denoise_ms (else inference_ms) / steps',
    megapixels          Float64 MATERIALIZED width * height / 1000000
        COMMENT 'resolution of one output image in megapixels; multiply by images for the request',

    -- Where the row came from: lets an operator trace a row to its Kafka message and audit replays.
    _topic              LowCardinality(String),
    _partition          Int32,
    _offset             Int64,
    _ingested_at        DateTime64(3, 'UTC') DEFAULT now64(3),

    INDEX idx_request_id request_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_error_type error_type TYPE set(32) GRANULARITY 4
)
ENGINE = MergeTree
PARTITION BY toDate(completed_at)
ORDER BY (model, toStartOfMinute(completed_at), worker_id)
TTL toDateTime(completed_at) + INTERVAL 30 DAY
SETTINGS non_replicated_deduplication_window = 10000, ttl_only_drop_parts = 1
COMMENT 'Raw RequestEvent v1 rows. PARTITION BY day of completed_at (time pruning, whole-part TTL drops); ORDER BY (model, minute, worker) for per-model percentile/throughput range queries. Retention 30 days.';

-- The transformer's windowed partial aggregates of request events: one row per
-- (tumbling event-time window, dimensions) per transformer chunk. Several rows for one key are
-- normal (several transformer instances, chunks cutting through a window, late events) and are
-- correct because every query re-aggregates with sum()/max() ... GROUP BY; background merges
-- only shrink the table.
--
-- Engine: AggregatingMergeTree with SimpleAggregateFunction columns rather than
-- SummingMergeTree, because each measure states its own merge function in the schema: counters
-- and sums merge with sum, e2e_ms_max with max. SummingMergeTree would sum every numeric
-- column, turning a max into a sum unless every other column were listed by hand. Plain values
-- are inserted (no -State combinators), so the transformer sends ordinary numbers.
--
-- ORDER BY lists every dimension: rows merge only when the whole sorting key is equal, so a
-- dimension left out would be collapsed to an arbitrary value. Order: model (few values, the
-- usual filter and grouping), then window_start (every query is a time range), then the other
-- dimensions from coarse to fine, window_seconds (a change of window size must not merge), and
-- agg_version (rows built by different aggregation code never merge; queries may filter on it).
-- PRIMARY KEY keeps only (model, window_start) in the in-memory index: those are the columns
-- queries filter on, the rest only identifies the merge group.
--
-- PARTITION BY toYYYYMM(window_start): aggregates are kept for long trends (400 days, year over
-- year), a row count per day far below raw events; monthly partitions keep the part count low
-- while late events still land in their own (old) month.
--
-- non_replicated_deduplication_window = 10000: a replayed chunk carries the same
-- insert_deduplication_token and must be dropped, or its counts would double (see 0001).
CREATE TABLE IF NOT EXISTS request_windows
(
    window_start        DateTime('UTC'),
    window_seconds      UInt16,
    model               LowCardinality(String),
    model_version       LowCardinality(String),
    worker_id           LowCardinality(String),
    pipeline            LowCardinality(String),
    gpu_type            LowCardinality(String),
    region              LowCardinality(String),
    tenant              LowCardinality(String),
    deployment          LowCardinality(String),

    requests            SimpleAggregateFunction(sum, UInt64),
    successes           SimpleAggregateFunction(sum, UInt64),
    images              SimpleAggregateFunction(sum, UInt64),
    errors              SimpleAggregateFunction(sum, UInt64),
    err_oom             SimpleAggregateFunction(sum, UInt64),
    err_timeout         SimpleAggregateFunction(sum, UInt64),
    err_queue_timeout   SimpleAggregateFunction(sum, UInt64),
    err_invalid_input   SimpleAggregateFunction(sum, UInt64),
    err_safety_blocked  SimpleAggregateFunction(sum, UInt64),
    err_model_error     SimpleAggregateFunction(sum, UInt64),
    err_upstream        SimpleAggregateFunction(sum, UInt64),
    err_gpu_fault       SimpleAggregateFunction(sum, UInt64),
    err_cancelled       SimpleAggregateFunction(sum, UInt64),
    err_internal        SimpleAggregateFunction(sum, UInt64),
    late_events         SimpleAggregateFunction(sum, UInt64),
    e2e_ms_sum          SimpleAggregateFunction(sum, Float64),
    queue_ms_sum        SimpleAggregateFunction(sum, Float64),
    inference_ms_sum    SimpleAggregateFunction(sum, Float64),
    queue_ms_count      SimpleAggregateFunction(sum, UInt64),
    inference_ms_count  SimpleAggregateFunction(sum, UInt64),
    e2e_ms_max          SimpleAggregateFunction(max, Float64),

    agg_version         UInt16
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(window_start)
PRIMARY KEY (model, window_start)
ORDER BY (model, window_start, tenant, deployment, region, pipeline, gpu_type, model_version, worker_id, window_seconds, agg_version)
TTL window_start + INTERVAL 400 DAY
SETTINGS non_replicated_deduplication_window = 10000
COMMENT 'Windowed partial aggregates of requests; always read with sum()/max() GROUP BY. PARTITION BY month (long retention, few parts); ORDER BY model, window_start, then every dimension (rows merge only on the full key).';

-- Percentile rollups of request latency: t-digest sketch states per (minute | hour, dimensions),
-- fed by materialized views on request_events and merged at query time with
-- quantilesTDigestMerge(levels...). The query API reads them for long ranges (raw events for
-- short ones and for the partial minutes at the edges of a range).
--
-- Sketch: quantilesTDigest, not quantilesDD. Measured on chdb 26.7, 1 M log-normal values cut
-- into 200 partial states: merged t-digest p50/p90/p99/p99.9 within 0.1 % of the exact values,
-- quantileDD (accuracy 0.01) within 0.8 %, states of similar size (~2.8 KB). Both Merge functions
-- accept quantile levels other than the one in the state type (any quantile at query time), but
-- quantilesDDMerge takes the accuracy as its first parameter, so quantilesDDMerge(0.5, 0.9) quietly
-- answers for one level with a different accuracy: a trap. The raw route uses quantilesTDigest too,
-- so both paths share one estimator and one documented error (rank error of 1 % of the count).
-- The level in the state type (0.5) is only a placeholder: states hold the whole digest.
--
-- Grain and key, chosen by measurement (query-api/bench/query-latency.bench.ts: 10 M events over
-- 24 h, 64 workers, dimensions varying independently, a shared 2-core machine, so absolute
-- figures are noisy; medians of 20 runs). With every dimension in the 1-minute key a minute held
-- ~2 300 key combinations for ~7 000 events, ~3 events per state: p50/p95/p99 per model over 24 h
-- took 851 ms from that rollup against 815 ms from raw events, no gain. With the 1-minute key cut
-- to model, gpu_type, pipeline, region, tenant, status: 263 ms against 822 ms raw (series by
-- 15 min: 617 ms against 869 ms). The 1-hour rollup keeps every dimension and adds sampler,
-- steps bucket and resolution bucket: 91 ms for the 24-h percentiles, 157 ms against 942 ms raw
-- for the series by hour. Not worker or deployment in either tier: a worker multiplies the rows
-- by the fleet size for a drill-down that raw events answer over the short ranges it is asked
-- for. The bucket expressions are the ones in query-api/dimensions.ts (a test checks rollup
-- against raw). Counts are exact: n_* = rows with a value for the metric. The views read the
-- source as `r.` where a column shares its name with an output alias (ms_per_step).
--
-- ORDER BY (model, ts, then the dimensions): as in request_events, a query is one model (or all,
-- grouped) over a time range; every dimension is in the key because rows merge only on the full
-- key. PRIMARY KEY (model, ts) keeps the index to what queries filter on.
--
-- non_replicated_deduplication_window: the transformer inserts with
-- deduplicate_blocks_in_dependent_materialized_views = 1, and a view's target dedups a replayed
-- chunk only with this setting, otherwise a replay would count twice.
-- TTL: 35 days at 1 min (a little longer than raw, 30 d), 400 days at 1 h.
CREATE TABLE IF NOT EXISTS latency_rollup_1m
(
    ts                  DateTime('UTC'),
    model               LowCardinality(String),
    gpu_type            LowCardinality(String),
    pipeline            LowCardinality(String),
    region              LowCardinality(String),
    tenant              LowCardinality(String),
    status              LowCardinality(String),

    n_e2e               SimpleAggregateFunction(sum, UInt64),
    n_queue             SimpleAggregateFunction(sum, UInt64),
    n_inference         SimpleAggregateFunction(sum, UInt64),
    n_ms_per_step       SimpleAggregateFunction(sum, UInt64),
    e2e                 AggregateFunction(quantilesTDigest(0.5), Float64),
    queue               AggregateFunction(quantilesTDigest(0.5), Float64),
    inference           AggregateFunction(quantilesTDigest(0.5), Float64),
    ms_per_step         AggregateFunction(quantilesTDigest(0.5), Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toDate(ts)
PRIMARY KEY (model, ts)
ORDER BY (model, ts, gpu_type, pipeline, region, tenant, status)
TTL ts + INTERVAL 35 DAY
SETTINGS non_replicated_deduplication_window = 10000, ttl_only_drop_parts = 1
COMMENT 'Per-minute t-digest states of e2e, queue, inference and ms-per-step latency by model, gpu_type, pipeline, region, tenant, status; read with quantilesTDigestMerge(levels) and sum(n_*). ORDER BY model, minute, every dimension. Retention 35 days.';

CREATE TABLE IF NOT EXISTS latency_rollup_1h
(
    ts                  DateTime('UTC'),
    model               LowCardinality(String),
    gpu_type            LowCardinality(String),
    pipeline            LowCardinality(String),
    region              LowCardinality(String),
    tenant              LowCardinality(String),
    sampler             LowCardinality(String),
    steps_bucket        LowCardinality(String),
    resolution_bucket   LowCardinality(String),
    status              LowCardinality(String),

    n_e2e               SimpleAggregateFunction(sum, UInt64),
    n_queue             SimpleAggregateFunction(sum, UInt64),
    n_inference         SimpleAggregateFunction(sum, UInt64),
    n_ms_per_step       SimpleAggregateFunction(sum, UInt64),
    e2e                 AggregateFunction(quantilesTDigest(0.5), Float64),
    queue               AggregateFunction(quantilesTDigest(0.5), Float64),
    inference           AggregateFunction(quantilesTDigest(0.5), Float64),
    ms_per_step         AggregateFunction(quantilesTDigest(0.5), Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(ts)
PRIMARY KEY (model, ts)
ORDER BY (model, ts, gpu_type, pipeline, region, tenant, sampler, steps_bucket, resolution_bucket, status)
TTL ts + INTERVAL 400 DAY
SETTINGS non_replicated_deduplication_window = 10000
COMMENT 'Per-hour t-digest states of e2e, queue, inference and ms-per-step latency; read with quantilesTDigestMerge(levels) and sum(n_*). ORDER BY model, hour, every dimension. Retention 400 days.';

CREATE MATERIALIZED VIEW IF NOT EXISTS latency_rollup_1m_mv TO latency_rollup_1m AS
SELECT
    toStartOfMinute(completed_at) AS ts,
    model, gpu_type, pipeline, region, tenant, status,
    count() AS n_e2e,
    count(queue_ms) AS n_queue,
    count(inference_ms) AS n_inference,
    count(r.ms_per_step) AS n_ms_per_step,
    quantilesTDigestState(0.5)(e2e_ms) AS e2e,
    quantilesTDigestStateIf(0.5)(assumeNotNull(queue_ms), queue_ms IS NOT NULL) AS queue,
    quantilesTDigestStateIf(0.5)(assumeNotNull(inference_ms), inference_ms IS NOT NULL) AS inference,
    quantilesTDigestStateIf(0.5)(assumeNotNull(r.ms_per_step), r.ms_per_step IS NOT NULL) AS ms_per_step
FROM request_events AS r
GROUP BY ts, model, gpu_type, pipeline, region, tenant, status;

CREATE MATERIALIZED VIEW IF NOT EXISTS latency_rollup_1h_mv TO latency_rollup_1h AS
SELECT
    toStartOfHour(completed_at) AS ts,
    model, gpu_type, pipeline, region, tenant, sampler,
    multiIf(steps <= 10, '1-10', steps <= 20, '11-20', steps <= 30, '21-30', steps <= 50, '31-50', '51+') AS steps_bucket,
    multiIf(width * height <= 262144, '<=512x512', width * height <= 589824, '<=768x768', width * height <= 1048576, '<=1024x1024',
            width * height <= 2359296, '<=1536x1536', '>1536x1536') AS resolution_bucket,
    status,
    count() AS n_e2e,
    count(queue_ms) AS n_queue,
    count(inference_ms) AS n_inference,
    count(r.ms_per_step) AS n_ms_per_step,
    quantilesTDigestState(0.5)(e2e_ms) AS e2e,
    quantilesTDigestStateIf(0.5)(assumeNotNull(queue_ms), queue_ms IS NOT NULL) AS queue,
    quantilesTDigestStateIf(0.5)(assumeNotNull(inference_ms), inference_ms IS NOT NULL) AS inference,
    quantilesTDigestStateIf(0.5)(assumeNotNull(r.ms_per_step), r.ms_per_step IS NOT NULL) AS ms_per_step
FROM request_events AS r
GROUP BY ts, model, gpu_type, pipeline, region, tenant, sampler, steps_bucket, resolution_bucket, status;

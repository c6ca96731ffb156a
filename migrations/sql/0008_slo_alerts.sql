-- SLO burn-rate alert transitions written by the SLO evaluator (query-api/slo/evaluator.ts): one
-- row each time an alert of (slo, burn-rate pair) starts firing or resolves, never one per
-- evaluation. The evaluator reads the newest row of each (slo, pair) at start-up, so a restart
-- neither repeats a firing row nor forgets to resolve.
--
-- Plain MergeTree, no deduplication setting: rows come from the evaluator only (not from Kafka
-- replays), and two identical transitions are what the evaluator must never write, not what the
-- table should hide.
--
-- ORDER BY (slo, pair, recorded_at): the two reads are "newest state of each (slo, pair)"
-- (argMax over a few rows per key) and "history of one SLO over a time range"; both find their
-- rows by slo first. Alerts are rare (a handful a day), so the table stays tiny.
--
-- PARTITION BY toYYYYMM(recorded_at) and a 400-day TTL: alert history is kept as long as the
-- windowed aggregates, to compare a year of incidents; monthly partitions keep parts few.
CREATE TABLE IF NOT EXISTS slo_alerts
(
    slo               LowCardinality(String),
    pair              LowCardinality(String)        COMMENT 'burn-rate pair, short/long window, e.g. 5m/1h',
    severity          LowCardinality(String)        COMMENT 'page or ticket',
    state             LowCardinality(String)        COMMENT 'firing or resolved',
    factor            Float64                       COMMENT 'burn-rate threshold of the pair',
    short_burn_rate   Nullable(Float64)             COMMENT 'burn rate over the short window when recorded; NULL without events',
    long_burn_rate    Nullable(Float64)             COMMENT 'burn rate over the long window when recorded; NULL without events',
    long_events       UInt64                        COMMENT 'events in the long window when recorded',
    budget_remaining  Nullable(Float64)             COMMENT '1 - bad / budget over the SLO window when recorded',
    fired_at          DateTime64(3, 'UTC')          COMMENT 'when this alert started firing (kept on its resolved row)',
    resolved_at       Nullable(DateTime64(3, 'UTC')) COMMENT 'when it resolved; NULL on firing rows',
    recorded_at       DateTime64(3, 'UTC')          COMMENT 'the evaluation that saw the transition'
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(recorded_at)
ORDER BY (slo, pair, recorded_at)
TTL toDateTime(recorded_at) + INTERVAL 400 DAY
COMMENT 'SLO burn-rate alert transitions (firing / resolved), one row per transition. ORDER BY slo, pair, time: newest state per alert and history per SLO.';

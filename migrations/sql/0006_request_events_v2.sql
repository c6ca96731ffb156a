-- RequestEvent v2 (schemas/request-event.v2.avsc) adds four fields with defaults; the raw table
-- stores them as columns of the same names, placed right after the v1 event fields so that the
-- insert column list stays "event fields in schema order, then ingest metadata".
--
-- Types mirror the Avro types as in 0001: array<string> -> Array(LowCardinality(String)) (few
-- distinct adapter names; an empty array for v1 events and for requests without adapters),
-- ["null","long"] -> Nullable(Int64), ["null","string"] -> LowCardinality(Nullable(String))
-- (a handful of precisions), ["null","int"] -> Nullable(Int32). No DEFAULT clause: rows written
-- before this migration read the type's default ([] or NULL), which is what the Avro reader
-- fills in for a v1 event, so old and new rows mean the same thing. ADD COLUMN only touches
-- metadata; existing parts are not rewritten.
ALTER TABLE request_events
    ADD COLUMN IF NOT EXISTS lora_adapters Array(LowCardinality(String)) AFTER peak_gpu_mem_mb,
    ADD COLUMN IF NOT EXISTS seed Nullable(Int64) AFTER lora_adapters,
    ADD COLUMN IF NOT EXISTS precision LowCardinality(Nullable(String)) AFTER seed,
    ADD COLUMN IF NOT EXISTS queue_depth Nullable(Int32) AFTER precision;

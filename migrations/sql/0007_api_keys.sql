-- API keys of the query API (query-api/auth/). A key is `dwk_<key_id>_<secret>`; only
-- secret_hash = hex sha256("<key_id>.<secret>") is stored, never the secret. The secret is 32
-- random bytes (256 bits), so a fast hash is enough: a slow, salted hash (scrypt, argon2) protects
-- low-entropy passwords against guessing, and nobody can guess 256 random bits; hashing the id
-- with the secret ties each hash to its row.
--
-- Engine: ReplacingMergeTree(version). Creating a key inserts its row; revoking inserts the same
-- key again with revoked_at set and a higher version. Readers never trust "the latest row"
-- alone for revocation: they take max(revoked_at) over every row of the key, so a revocation
-- can never be undone by a later or concurrent write. Tiny table: no partitions, ORDER BY key_id
-- (every lookup is one key id), no TTL (revoked keys stay listed for audit).
CREATE TABLE IF NOT EXISTS api_keys
(
    key_id       String,
    name         String,
    scopes       Array(LowCardinality(String)),
    secret_hash  String,
    created_at   DateTime64(3, 'UTC'),
    revoked_at   Nullable(DateTime64(3, 'UTC')),
    version      UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY key_id
COMMENT 'API keys of the query API: sha256 of id and secret only, never the secret. ORDER BY key_id: point lookups by the public id; tiny, unpartitioned, kept for audit.';

-- When a key was last used, written by the API at most once per key per 10 minutes per process
-- (not on every request). A separate table, so a usage write can never touch revocation.
-- ReplacingMergeTree(used_at) keeps the latest per key; TTL drops keys unused for 400 days.
CREATE TABLE IF NOT EXISTS api_key_usage
(
    key_id   String,
    used_at  DateTime('UTC')
)
ENGINE = ReplacingMergeTree(used_at)
ORDER BY key_id
TTL used_at + INTERVAL 400 DAY
COMMENT 'Last use of each API key (coarse: at most one write per key per 10 minutes per API process). ORDER BY key_id: point lookups.';

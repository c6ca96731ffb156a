/**
 * The attacked system of the api-attack scenario: one embedded ClickHouse folder, migrated and
 * seeded with a simulated fleet, and two real listening query APIs over it, both with auth
 * required and keys checked through the key store:
 * - `main` (generous rate limits, so fuzzing measures answers, not the limiter; a 1 s key cache
 *   so that a revocation is seen within the scenario, and a 1 s SQL time limit with no rows limit);
 * - `strict` (a burst of 5 and 60/min on /v1, 2 and 60/min on /v1/sql) for the rate-limit row.
 * Keys (`read`, `sql`, and one revoked) are created with `createKeyStore`, as `diffwatch keys
 * create` does. `close` stops both servers and removes the folder.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ClickHouseClient } from '@clickhouse/client'
import type { FastifyInstance } from 'fastify'
import { createClickHouse, openClickHouse } from '../../../migrations/clickhouse.ts'
import { migrate } from '../../../migrations/runner.ts'
import { buildApi } from '../../../query-api/app.ts'
import { createKeyStore, type KeyStore } from '../../../query-api/auth/key-store.ts'
import { createKeyVerifier } from '../../../query-api/auth/key-verifier.ts'
import { insertFleet, simulateFleet } from '../../../query-api/test-support/fleet-data.ts'

export type ApiTarget = {
  mainUrl: string
  strictUrl: string
  keys: { read: string; sql: string; revoked: string }
  store: KeyStore
  /** Requests of the seeded fleet (for the SQL row's count check). */
  seededRequests: number
  /** Seconds the key cache keeps a lookup (revocation is visible after this). */
  cacheSeconds: number
  strictLimits: { apiBurst: number; apiPerMinute: number; sqlBurst: number }
  close(): Promise<void>
}

const DATABASE = 'chaos_api'
const MIN = 60_000

export async function startApiTarget(workDir: string, ports: { main: number; strict: number }): Promise<ApiTarget> {
  const root = mkdtempSync(join(workDir || tmpdir(), 'api-attack-'))
  const dataPath = join(root, 'clickhouse')
  const client: ClickHouseClient = await openClickHouse({ dataPath, database: DATABASE })
  const apis: FastifyInstance[] = []
  let sqlClient: ClickHouseClient | undefined
  try {
    await migrate(client, { database: DATABASE })
    // Recent timestamps: rows older than a table's TTL would vanish at insert.
    const fleet = simulateFleet({ seed: 77, requestRate: 1, hosts: 2, gpusPerHost: 2, sampleIntervalMs: 30_000 }, Date.now() - 30 * MIN, 25 * MIN)
    await insertFleet(client, DATABASE, fleet)
    const store = createKeyStore(client, DATABASE)
    const read = (await store.create('chaos read', ['read'])).key
    const sql = (await store.create('chaos sql', ['sql'])).key
    const revoked = await store.create('chaos revoked', ['read', 'sql'])
    const cacheSeconds = 1
    const verifier = createKeyVerifier(store, { cacheSeconds })
    // SQL runs on a client of its own, as `serve` gives it (query-api/sql-guard-engine.ts).
    sqlClient = createClickHouse({ dataPath, database: DATABASE })
    const main = await buildApi({
      clickhouse: client, database: DATABASE, auth: { mode: 'required', verifier },
      rateLimits: { api: { perMinute: 1_000_000, burst: 100_000 }, sql: { perMinute: 1_000_000, burst: 100_000 }, maxClients: 10_000 },
      // Rows-to-read lifted so that a runaway query meets the time limit, not the rows limit.
      sql: { clickhouse: sqlClient, limits: { maxExecutionSeconds: 1, maxRowsToRead: 2e12 } },
    })
    apis.push(main)
    const strictLimits = { apiBurst: 5, apiPerMinute: 60, sqlBurst: 2 }
    const strict = await buildApi({
      clickhouse: client, database: DATABASE, auth: { mode: 'required', verifier },
      rateLimits: { api: { perMinute: strictLimits.apiPerMinute, burst: strictLimits.apiBurst }, sql: { perMinute: 60, burst: strictLimits.sqlBurst }, maxClients: 100 },
      sql: { clickhouse: sqlClient, limits: { maxExecutionSeconds: 1 } },
    })
    apis.push(strict)
    await main.listen({ host: '127.0.0.1', port: ports.main })
    await strict.listen({ host: '127.0.0.1', port: ports.strict })
    // Seen once as valid (cached), then revoked: the scenario checks it is refused after the TTL.
    return {
      mainUrl: `http://127.0.0.1:${ports.main}`, strictUrl: `http://127.0.0.1:${ports.strict}`,
      keys: { read, sql, revoked: revoked.key }, store, seededRequests: fleet.requests.length, cacheSeconds, strictLimits,
      async close() {
        for (const a of apis) await a.close()
        await sqlClient?.close()
        await client.close()
        rmSync(root, { recursive: true, force: true })
      },
    }
  } catch (err) {
    for (const a of apis) await a.close().catch(() => undefined)
    await sqlClient?.close().catch(() => undefined)
    await client.close().catch(() => undefined)
    throw err
  }
}

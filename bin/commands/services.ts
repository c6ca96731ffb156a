/**
 * Wiring shared by `run`, `transform`, `serve` and `demo`: opens ClickHouse, checks or applies
 * migrations, starts the transformer and/or the API, and stops them in a fixed order on
 * SIGINT/SIGTERM (stop intake and flush, close the API, close ClickHouse).
 */
import type { ClickHouseClient } from '@clickhouse/client'
import type { FastifyInstance } from 'fastify'
import { createClickHouse, openClickHouse, type ClickHouseOptions } from '../../migrations/clickhouse.ts'
import { migrate, migrationStatus } from '../../migrations/runner.ts'
import { buildApi } from '../../query-api/app.ts'
import type { AuthMode } from '../../query-api/auth/guard.ts'
import { createKeyStore } from '../../query-api/auth/key-store.ts'
import { createKeyVerifier } from '../../query-api/auth/key-verifier.ts'
import { loadApiConfig, queryLimits, rateLimits, sqlLimits, type ApiConfig } from '../../query-api/config.ts'
import { loadReportConfig } from '../../query-api/reports/report-config.ts'
import { loadSloConfig } from '../../query-api/slo/config.ts'
import { startSloEvaluator } from '../../query-api/slo/evaluator.ts'
import { createStore } from '../../query-api/store.ts'
import { createCodec } from '../../schemas/codec.ts'
import { DiffwatchError } from '../../schemas/errors.ts'
import { loadTransformConfig, type TransformConfig } from '../../transform/config.ts'
import { createLogger, type Logger } from '../../transform/logger.ts'
import { registerTransformerRoutes, startHealthServer, type HealthServer } from '../../transform/health-server.ts'
import { startTransformer, type Transformer } from '../../transform/transformer.ts'

export function clickHouseOptions(c: Readonly<TransformConfig>): ClickHouseOptions {
  return { url: c.CLICKHOUSE_URL, dataPath: c.CLICKHOUSE_DATA_PATH, database: c.CLICKHOUSE_DATABASE, username: c.CLICKHOUSE_USER, password: c.CLICKHOUSE_PASSWORD }
}

export type Services = {
  clickhouse: ClickHouseClient
  transformer: Transformer | null
  api: FastifyInstance | null
  apiUrl: string | null
  /** The lone transformer's /metrics, /healthz, /readyz (TRANSFORM_HTTP_PORT); null with the API (it serves /metrics) or without a transformer. */
  healthUrl: string | null
  log: Logger
  stop(): Promise<void>
}

export type ServiceChoice = { transform: boolean; api: boolean; migrate: boolean }

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/

/**
 * API_AUTH=auto: keys are required for `serve` (a service meant for others) and wherever the API
 * listens beyond loopback; `run` and `demo` on loopback (one person's machine) run without, and
 * say so in the log.
 */
export function authModeFor(acfg: Readonly<ApiConfig>, withTransformer: boolean): AuthMode {
  if (acfg.API_AUTH !== 'auto') return acfg.API_AUTH
  return withTransformer && LOOPBACK.test(acfg.API_HOST) ? 'off' : 'required'
}

export async function startServices(env: NodeJS.ProcessEnv, choice: ServiceChoice): Promise<Services> {
  const tcfg = loadTransformConfig(env)
  const log = createLogger('diffwatch', tcfg.LOG_LEVEL)
  const acfg = choice.api ? loadApiConfig(env) : null
  // Files named by the environment are read before anything starts: a bad one fails start-up.
  const reports = choice.api ? loadReportConfig(env) : undefined
  const slo = choice.api ? loadSloConfig(env) : null
  const clickhouse = await openClickHouse(clickHouseOptions(tcfg))
  let transformer: Transformer | null = null
  let api: FastifyInstance | null = null
  let health: HealthServer | null = null
  let sqlClickhouse: ClickHouseClient | null = null
  let sloEvaluator: { stop(): Promise<void> } | null = null
  const stop = async () => {
    await transformer?.stop()
    await health?.close()
    await sloEvaluator?.stop()
    await api?.close()
    await sqlClickhouse?.close()
    await clickhouse.close()
  }
  try {
    if (choice.migrate) {
      await migrate(clickhouse, { database: tcfg.CLICKHOUSE_DATABASE, log })
    } else {
      const status = await migrationStatus(clickhouse, { database: tcfg.CLICKHOUSE_DATABASE })
      if (status.pending.length > 0 || status.changed.length > 0) {
        throw new DiffwatchError('MIG_PENDING', `the database ${tcfg.CLICKHOUSE_DATABASE} has ${status.pending.length} pending and ${status.changed.length} edited migrations: run \`diffwatch migrate\` first`)
      }
    }
    if (choice.transform) {
      transformer = await startTransformer({ config: tcfg, clickhouse, codec: createCodec(), log })
      log.info('transformer started', { group: tcfg.TRANSFORM_GROUP_ID, topics: transformer.topics })
      // With the API in the same process (`run`, `demo`) the API serves /metrics next to its own
      // /healthz and /readyz; a lone transformer gets its own small server.
      if (!acfg) {
        health = await startHealthServer(transformer, { host: tcfg.TRANSFORM_HTTP_HOST, port: tcfg.TRANSFORM_HTTP_PORT })
        log.info('transformer metrics and health listening', { url: health.url, paths: ['/metrics', '/healthz', '/readyz'] })
      }
    }
    let apiUrl: string | null = null
    if (acfg) {
      const t = transformer
      const auth = authModeFor(acfg, transformer !== null)
      const keyStore = createKeyStore(clickhouse, tcfg.CLICKHOUSE_DATABASE)
      const verifier = createKeyVerifier(keyStore, {
        cacheSeconds: acfg.API_KEY_CACHE_SECONDS,
        onUsageError: (err) => log.warn('could not record API key use', { error: String(err) }),
      })
      if (auth === 'off') {
        log.warn('query API auth is OFF: anyone who can reach it may query it', { host: acfg.API_HOST, why: acfg.API_AUTH === 'off' ? 'API_AUTH=off' : 'API_AUTH=auto and `run`/`demo` on a loopback address' })
      } else if ((await keyStore.list()).every((k) => k.revokedAt !== null)) {
        log.warn('query API requires API keys and none is active: create one with `diffwatch keys create --name NAME --scopes read`')
      }
      // POST /v1/sql gets a client of its own: a dedicated read-only user where configured, and
      // in embedded mode a session apart from the routes' (see query-api/sql-guard-engine.ts).
      sqlClickhouse = createClickHouse({
        ...clickHouseOptions(tcfg),
        username: acfg.API_SQL_CLICKHOUSE_USER ?? tcfg.CLICKHOUSE_USER,
        password: acfg.API_SQL_CLICKHOUSE_USER === undefined ? tcfg.CLICKHOUSE_PASSWORD : acfg.API_SQL_CLICKHOUSE_PASSWORD,
      })
      api = await buildApi({
        clickhouse, database: tcfg.CLICKHOUSE_DATABASE, limits: queryLimits(acfg), docs: acfg.API_DOCS, readiness: t ? () => t.ready() : undefined,
        log: { level: tcfg.LOG_LEVEL, stream: process.stderr },
        auth: { mode: auth, verifier },
        rateLimits: rateLimits(acfg),
        sql: { clickhouse: sqlClickhouse, limits: sqlLimits(acfg) },
        reports,
        slo,
      })
      if (slo) {
        sloEvaluator = startSloEvaluator({ store: createStore(clickhouse, tcfg.CLICKHOUSE_DATABASE, acfg.API_QUERY_TIMEOUT_SECONDS), config: slo, log })
        log.info('SLO evaluator started', { slos: slo.slos.length })
      }
      if (transformer) registerTransformerRoutes(api, transformer, { paths: ['/metrics'] })
      apiUrl = await api.listen({ host: acfg.API_HOST, port: acfg.API_PORT })
      log.info('query API listening', { url: apiUrl, auth })
    }
    return { clickhouse, transformer, api, apiUrl, healthUrl: health?.url ?? null, log, stop }
  } catch (err) {
    await stop().catch(() => undefined)
    throw err
  }
}

/**
 * Starts the services and resolves on the first SIGINT/SIGTERM, after they stopped in order. One
 * handler is installed before the start and stays until the first signal:
 * - a signal during start-up (a rolling restart right after a start) used to kill the process by
 *   default; now it stops the services as soon as they are up;
 * - swapping an early handler for the final one after the start swallowed a signal that arrived
 *   in between: Node closes a signal's watcher when its last listener goes, and a signal caught
 *   but not yet dispatched goes with it, so the member ignored its SIGTERM and was SIGKILLed
 *   30 s later (the chaos suite's transformer-group, in CI).
 */
export async function runUntilSignal(start: () => Promise<Services>): Promise<number> {
  const first = firstSignal()
  let services: Services
  try {
    services = await start()
  } catch (err) {
    first.cancel()
    throw err
  }
  return stopOnSignal(services, await first.signal)
}

/** Resolves on the first SIGINT/SIGTERM, after the services stopped in order. */
export async function untilSignal(services: Services): Promise<number> {
  return stopOnSignal(services, await firstSignal().signal)
}

/** The first SIGINT or SIGTERM from now on; the handlers go once it came (a second one kills). */
function firstSignal(): { signal: Promise<NodeJS.Signals>; cancel(): void } {
  let got!: (sig: NodeJS.Signals) => void
  const signal = new Promise<NodeJS.Signals>((resolve) => (got = resolve))
  const cancel = () => {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
  const onSignal = (sig: NodeJS.Signals) => {
    cancel()
    got(sig)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  return { signal, cancel }
}

function stopOnSignal(services: Services, sig: NodeJS.Signals): Promise<number> {
  services.log.info(`${sig}: shutting down`)
  return new Promise((resolve) => {
    const exit = (code: number) => {
      resolve(code)
      // A client that keeps a socket or timer (kafkajs restarting its consumer when the signal
      // came) must not keep a stopped process alive: everything was flushed by now.
      setTimeout(() => process.exit(code), 2_000).unref()
    }
    services.stop().then(() => exit(0), (err) => {
      services.log.error('shutdown failed', { error: String(err) })
      exit(1)
    })
  })
}

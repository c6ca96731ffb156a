/**
 * Wiring shared by `run`, `transform`, `serve` and `demo`: opens ClickHouse, checks or applies
 * migrations, starts the transformer and/or the API, and stops them in a fixed order on
 * SIGINT/SIGTERM (stop intake and flush, close the API, close ClickHouse).
 */
import type { ClickHouseClient } from '@clickhouse/client'
import type { FastifyInstance } from 'fastify'
import { openClickHouse, type ClickHouseOptions } from '../../migrations/clickhouse.ts'
import { migrate, migrationStatus } from '../../migrations/runner.ts'
import { buildApi } from '../../query-api/app.ts'
import { loadApiConfig, queryLimits } from '../../query-api/config.ts'
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

export async function startServices(env: NodeJS.ProcessEnv, choice: ServiceChoice): Promise<Services> {
  const tcfg = loadTransformConfig(env)
  const log = createLogger('diffwatch', tcfg.LOG_LEVEL)
  const acfg = choice.api ? loadApiConfig(env) : null
  const clickhouse = await openClickHouse(clickHouseOptions(tcfg))
  let transformer: Transformer | null = null
  let api: FastifyInstance | null = null
  let health: HealthServer | null = null
  const stop = async () => {
    await transformer?.stop()
    await health?.close()
    await api?.close()
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
      api = await buildApi({ clickhouse, database: tcfg.CLICKHOUSE_DATABASE, limits: queryLimits(acfg), docs: acfg.API_DOCS, readiness: t ? () => t.ready() : undefined })
      if (transformer) registerTransformerRoutes(api, transformer, { paths: ['/metrics'] })
      apiUrl = await api.listen({ host: acfg.API_HOST, port: acfg.API_PORT })
      log.info('query API listening', { url: apiUrl })
    }
    return { clickhouse, transformer, api, apiUrl, healthUrl: health?.url ?? null, log, stop }
  } catch (err) {
    await stop().catch(() => undefined)
    throw err
  }
}

/** Resolves on the first SIGINT/SIGTERM, after the services stopped in order. */
export function untilSignal(services: Services): Promise<number> {
  return new Promise((resolve) => {
    const onSignal = (sig: NodeJS.Signals) => {
      services.log.info(`${sig}: shutting down`)
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      services.stop().then(() => resolve(0), (err) => {
        services.log.error('shutdown failed', { error: String(err) })
        resolve(1)
      })
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
}

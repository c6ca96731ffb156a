/**
 * The query API as a Fastify instance, ready to `listen` (the CLI does that) or to `inject`.
 *
 * Guarantees:
 * - Every route validates its query string against a closed TypeBox schema: unknown parameters
 *   are a 400 (Ajv runs with removeAdditional off), scalars are coerced from strings, defaults
 *   applied.
 * - Every error, including 404 and validation, is answered by one handler as
 *   `application/problem+json` {type, title, status, detail, code}; 5xx details stay in the log.
 * - The OpenAPI 3.1 document is served at /openapi.json, the interactive docs at /docs, the
 *   dashboard page at /dashboard (/ redirects there).
 * - Nothing here opens or closes ClickHouse: the caller owns the client.
 */
import type { ClickHouseClient } from '@clickhouse/client'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { DEFAULT_QUERY_LIMITS, type QueryLimits } from './config.ts'
import { PROBLEM_CONTENT_TYPE, problem, toProblem } from './errors.ts'
import type { RouteContext } from './routes/context.ts'
import { availabilityRoutes } from './routes/availability.ts'
import { dashboardRoutes } from './routes/dashboard.ts'
import { errorsRoutes } from './routes/errors.ts'
import { gpuRoutes } from './routes/gpu.ts'
import { healthRoutes, type Readiness } from './routes/health.ts'
import { latencyRoutes } from './routes/latency.ts'
import { oomRoutes } from './routes/oom.ts'
import { throughputRoutes } from './routes/throughput.ts'
import { createStore } from './store.ts'

export type BuildApiOptions = {
  clickhouse: ClickHouseClient
  /** Database holding the diffwatch tables; must be a plain identifier. */
  database: string
  /** false (default: no logging), true, pino options, or a pino-compatible logger instance. */
  log?: boolean | FastifyServerOptions['logger'] | FastifyBaseLogger
  /** Extra readiness condition for /readyz, e.g. the transformer's ready() in `diffwatch run`. */
  readiness?: Readiness
  /** Query limits; missing fields take the documented defaults (see config.ts). */
  limits?: Partial<QueryLimits>
  /** Serve the dashboard at /dashboard, and redirect / to it (default true). */
  dashboard?: boolean
  /** Serve the docs UI at /docs (default true). */
  docs?: boolean
  /** Epoch-ms clock for relative times (tests). */
  now?: () => number
}

export const API_VERSION = '0.1.0'

function loggerOptions(log: BuildApiOptions['log']): Pick<FastifyServerOptions, 'logger' | 'loggerInstance'> {
  if (log !== null && typeof log === 'object' && typeof (log as FastifyBaseLogger).child === 'function') {
    return { loggerInstance: log as FastifyBaseLogger }
  }
  return { logger: (log ?? false) as FastifyServerOptions['logger'] }
}

export async function buildApi(options: BuildApiOptions): Promise<FastifyInstance> {
  const limits: QueryLimits = { ...DEFAULT_QUERY_LIMITS, ...options.limits }
  const store = createStore(options.clickhouse, options.database, limits.queryTimeoutSeconds)
  const ctx: RouteContext = { store, limits, now: options.now ?? Date.now }

  const app = Fastify({
    ...loggerOptions(options.log),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, useDefaults: true, allErrors: true } },
  })

  app.setErrorHandler((err, request, reply) => {
    const body = toProblem(err, request.log)
    return reply.code(body.status).type(PROBLEM_CONTENT_TYPE).send(body)
  })
  app.setNotFoundHandler((request, reply) => {
    const body = problem('API_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}: see /docs or /openapi.json for the routes`)
    return reply.code(404).type(PROBLEM_CONTENT_TYPE).send(body)
  })

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'diffwatch query API',
        version: API_VERSION,
        description: 'Latency percentiles, throughput, errors, availability, GPU utilization and OOM rates of a diffusion-model serving fleet. Errors are application/problem+json.',
      },
      tags: [
        { name: 'latency', description: 'Latency percentiles from raw request events and percentile rollups' },
        { name: 'throughput', description: 'Time series from windowed aggregates' },
        { name: 'errors', description: 'Errors by type, availability, OOM rate' },
        { name: 'gpu', description: 'GPU utilization, memory, power, temperature' },
        { name: 'health', description: 'Liveness and readiness' },
      ],
    },
  })
  if (options.docs ?? true) await app.register(swaggerUi, { routePrefix: '/docs' })

  await app.register(healthRoutes(store, options.readiness))
  await app.register(latencyRoutes(ctx))
  await app.register(throughputRoutes(ctx))
  await app.register(errorsRoutes(ctx))
  await app.register(availabilityRoutes(ctx))
  await app.register(gpuRoutes(ctx))
  await app.register(oomRoutes(ctx))
  if (options.dashboard ?? true) await app.register(dashboardRoutes())
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())

  return app
}

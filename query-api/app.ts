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
 * - Every /v1 route goes through one guard (auth/guard.ts): API keys and scopes when `auth.mode`
 *   is `required`, rate limits when `rateLimits` is given. Both are off unless asked for, so an
 *   embedding (tests, `run` on loopback) chooses; `diffwatch serve` asks for both.
 * - One log line per request without secrets (auth/request-log.ts); Fastify's own request
 *   logging, which prints URLs, is off.
 * - Nothing here opens or closes ClickHouse: the caller owns the client(s).
 */
import type { ClickHouseClient } from '@clickhouse/client'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { registerGuard, type AuthMode } from './auth/guard.ts'
import type { KeyVerifier } from './auth/key-verifier.ts'
import { registerRequestLog } from './auth/request-log.ts'
import { DEFAULT_QUERY_LIMITS, DEFAULT_SQL_LIMITS, type QueryLimits, type RateLimits, type SqlLimits } from './config.ts'
import { apiError, PROBLEM_CONTENT_TYPE, problem, toProblem } from './errors.ts'
import type { RouteContext } from './routes/context.ts'
import { availabilityRoutes } from './routes/availability.ts'
import { dashboardRoutes } from './routes/dashboard.ts'
import { errorsRoutes } from './routes/errors.ts'
import { gpuRoutes } from './routes/gpu.ts'
import { healthRoutes, type Readiness } from './routes/health.ts'
import { latencyRoutes } from './routes/latency.ts'
import { oomRoutes } from './routes/oom.ts'
import { hostRoutes } from './routes/hosts.ts'
import { reportRoutes } from './routes/reports.ts'
import { requestGpuRoutes } from './routes/request-gpu.ts'
import { sloRoutes } from './routes/slo.ts'
import type { ReportConfig } from './reports/report-config.ts'
import type { SloConfig } from './slo/config.ts'
import { sqlRoutes } from './routes/sql.ts'
import { throughputRoutes } from './routes/throughput.ts'
import { createStore } from './store.ts'
import { registerStrictJson } from './strict-json.ts'

const ROUTE_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const

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
  /** Epoch-ms clock for relative times and rate limits (tests). */
  now?: () => number
  /** API keys: `required` needs a verifier (auth/key-verifier.ts). Default off. */
  auth?: { mode: AuthMode; verifier?: KeyVerifier }
  /** Token-bucket limits per key / client IP; none when absent. */
  rateLimits?: RateLimits
  /** POST /v1/sql: its limits (defaults: config.ts) and, on a server, a client of a read-only user. */
  sql?: { limits?: Partial<SqlLimits>; clickhouse?: ClickHouseClient }
  /** Price table and defaults of the reports (reports/report-config.ts); built-in when absent. */
  reports?: ReportConfig
  /** SLO definitions (DIFFWATCH_SLO_FILE); /v1/slo answers that none is configured when null. */
  slo?: Readonly<SloConfig> | null
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
    // Fastify's own request lines print URLs (a `?key=` would leak): auth/request-log.ts replaces them.
    logController: new LogController({ disableRequestLogging: true }),
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
  registerStrictJson(app)

  registerGuard(app, { auth: options.auth?.mode ?? 'off', verifier: options.auth?.verifier, rateLimits: options.rateLimits, now: options.now })
  registerRequestLog(app)
  // A known path asked with another method is a 405 with Allow (RFC 9110), not a 404 (found by
  // schemathesis' unsupported_method check, api-attack chaos scenario). A hook, not the 404
  // handler: for body methods (POST, QUERY) Fastify's body parsing would answer first. After
  // the guard, so a /v1 path still needs its key and counts against the rate limit first.
  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.url !== undefined) return
    const path = request.url.split('?')[0] ?? ''
    const allow = ROUTE_METHODS.filter((method) => app.hasRoute({ method, url: path }))
    if (allow.length === 0) return
    reply.header('allow', allow.join(', '))
    throw apiError('API_METHOD_NOT_ALLOWED', `${path} does not answer ${request.method}: use ${allow.join(' or ')}`)
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
        { name: 'sql', description: 'Read-only SQL for power users (scope sql)' },
        { name: 'reports', description: 'Capacity, trend, cost and SLO reports (JSON, HTML, CSV, Markdown)' },
        { name: 'slo', description: 'SLOs, error budgets, burn-rate alerts' },
      ],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'API key `dwk_<id>_<secret>` (diffwatch keys create)' },
          apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        },
      },
    },
    // /v1 routes need a key (when the server requires auth); health, docs and the dashboard do not.
    transform: ({ schema, url }) => {
      const transformed = { ...(schema as Record<string, unknown>) }
      if (url.startsWith('/v1/')) transformed['security'] = [{ bearerAuth: [] }, { apiKeyHeader: [] }]
      return { schema: transformed as typeof schema, url }
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
  await app.register(hostRoutes(ctx))
  await app.register(requestGpuRoutes(ctx))
  await app.register(reportRoutes(ctx, options.reports))
  await app.register(sloRoutes(ctx, options.slo ?? null))
  await app.register(sqlRoutes({ client: options.sql?.clickhouse ?? options.clickhouse, database: store.database, limits: { ...DEFAULT_SQL_LIMITS, ...options.sql?.limits } }))
  if (options.dashboard ?? true) await app.register(dashboardRoutes())
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())

  return app
}

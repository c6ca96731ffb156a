/**
 * The transformer's operations endpoints: `/metrics` (Prometheus text), `/healthz` (liveness:
 * the process answers and the consumer has not crashed for good) and `/readyz` (readiness:
 * 503 once the loop stops making progress while it has lag, see TransformerStats.stalled).
 *
 * `diffwatch transform` serves them on TRANSFORM_HTTP_PORT with node:http (no framework needed
 * for three routes); `diffwatch run` adds the same routes to the query API's Fastify instance
 * with `registerTransformerRoutes`, so both shapes answer the same.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import type { Registry } from 'prom-client'
import { DiffwatchError } from '../schemas/errors.ts'
import { createTransformerMetrics, type MetricsSource } from './metrics.ts'

export type HealthRoutes = {
  /** Path → status code, content type and body. */
  answer(path: string): Promise<{ status: number; type: string; body: string } | null>
}

export function healthRoutes(source: MetricsSource, registry: Registry = createTransformerMetrics(source)): HealthRoutes {
  return {
    async answer(path) {
      if (path === '/metrics') return { status: 200, type: registry.contentType, body: await registry.metrics() }
      if (path === '/healthz') {
        const alive = source.alive?.() ?? true
        return { status: alive ? 200 : 503, type: 'application/json', body: JSON.stringify({ status: alive ? 'ok' : 'consumer crashed for good' }) }
      }
      if (path === '/readyz') {
        const ready = source.ready()
        const s = source.stats
        const body = { status: ready ? 'ready' : 'not ready', lag: s.totalLag, lastProgressAt: new Date(s.lastProgressAtMs).toISOString() }
        return { status: ready ? 200 : 503, type: 'application/json', body: JSON.stringify(body) }
      }
      return null
    },
  }
}

export type HealthServer = { readonly url: string; close(): Promise<void> }

export async function startHealthServer(source: MetricsSource, o: { host: string; port: number }): Promise<HealthServer> {
  const routes = healthRoutes(source)
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405, { allow: 'GET, HEAD' }).end()
    routes.answer(path).then(
      (a) => {
        if (!a) return void res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 404, title: 'Not Found', detail: `no route ${path}` }))
        res.writeHead(a.status, { 'content-type': a.type }).end(req.method === 'HEAD' ? undefined : a.body)
      },
      () => void res.writeHead(500).end(),
    )
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new DiffwatchError('TRF_HTTP_LISTEN', `cannot serve /metrics on ${o.host}:${o.port} (${err.code ?? err.message}); set TRANSFORM_HTTP_PORT to a free port, or 0 for any`, { cause: err })))
    server.listen(o.port, o.host, () => resolve())
  })
  const { port } = server.address() as AddressInfo
  const host = o.host === '0.0.0.0' || o.host === '::' ? '127.0.0.1' : o.host
  return {
    url: `http://${host}:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

/**
 * Adds the transformer's routes to a Fastify app (the query API in `diffwatch run`). The query
 * API has its own /healthz and /readyz (with a readiness hook for the transformer), so it will
 * usually take only `/metrics`, or all three under a prefix such as `/transformer`.
 */
export function registerTransformerRoutes(
  app: FastifyInstance,
  source: MetricsSource,
  o: { prefix?: string; paths?: readonly ('/metrics' | '/healthz' | '/readyz')[] } = {},
): void {
  const routes = healthRoutes(source)
  for (const path of o.paths ?? (['/metrics', '/healthz', '/readyz'] as const)) {
    app.get(`${o.prefix ?? ''}${path}`, { schema: { hide: true } }, async (_req, reply) => {
      const a = (await routes.answer(path))!
      return reply.code(a.status).type(a.type).send(a.body)
    })
  }
}

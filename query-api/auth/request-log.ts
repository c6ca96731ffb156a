/**
 * One log line per request, with nothing secret in it: method, route pattern (not the URL, whose
 * query string may hold a `key`), status, duration in ms, the API key's public id (never the
 * key), the client address, and rows / bytes read when a route reported them. Headers are not
 * logged at all, so Authorization and X-API-Key cannot leak; `redactUrl` is there for anyone
 * who needs to log a URL anyway.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'

type ReadStats = { rowsRead: number; bytesRead: number }
const reads = new WeakMap<FastifyRequest, ReadStats>()
const keyIds = new WeakMap<FastifyRequest, string>()

/** A route reports what ClickHouse read for it. */
export function noteRead(request: FastifyRequest, rowsRead: number, bytesRead: number): void {
  reads.set(request, { rowsRead, bytesRead })
}

/** The auth hook records who made the request (the public key id). */
export function noteKeyId(request: FastifyRequest, keyId: string): void {
  keyIds.set(request, keyId)
}

export function keyIdOf(request: FastifyRequest): string | undefined {
  return keyIds.get(request)
}

const SECRET_PARAMS = /([?&](?:key|api_key|apikey|token|access_token)=)[^&#]*/gi

/** The URL with the values of key-like query parameters replaced by [redacted]. */
export function redactUrl(url: string): string {
  return url.replace(SECRET_PARAMS, '$1[redacted]')
}

export function registerRequestLog(app: FastifyInstance): void {
  app.addHook('onResponse', async (request, reply) => {
    const read = reads.get(request)
    request.log.info(
      {
        method: request.method,
        route: request.routeOptions.url ?? '(no route)',
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
        keyId: keyIds.get(request) ?? null,
        remote: request.ip,
        ...(read ? { rowsRead: read.rowsRead, bytesRead: read.bytesRead } : {}),
      },
      'request',
    )
  })
}

/**
 * GET /healthz: the process is up and serving (no dependency is consulted, so an orchestrator
 * never restarts the API because ClickHouse is down).
 * GET /readyz: ClickHouse answers `SELECT 1` within the timeout and, when the caller gave one,
 * its readiness callback (e.g. the transformer's `ready()` in `diffwatch run`) says yes; 503
 * otherwise, naming the failing check.
 */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { apiError } from '../errors.ts'
import { closed, problemResponses } from '../schemas.ts'
import type { Store } from '../store.ts'

export type Readiness = () => boolean | Promise<boolean>

export const READY_TIMEOUT_MS = 2000

const Status = (value: string) => Type.Object({ status: Type.Literal(value) }, closed)

async function clickHouseAnswers(store: Store): Promise<boolean> {
  const probe = (async () => {
    const result = await store.client.query({ query: 'SELECT 1 AS ok', format: 'JSONEachRow', abort_signal: AbortSignal.timeout(READY_TIMEOUT_MS) })
    const rows = await result.json<{ ok: number | string }>()
    return Number(rows[0]?.ok) === 1
  })()
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), READY_TIMEOUT_MS)))
  try {
    return await Promise.race([probe.catch(() => false), timeout])
  } finally {
    clearTimeout(timer)
  }
}

export function healthRoutes(store: Store, readiness: Readiness | undefined): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/healthz',
      { schema: { summary: 'Liveness: the process is up', tags: ['health'], querystring: Type.Object({}, closed), response: { 200: Status('ok') } } },
      async () => ({ status: 'ok' as const }),
    )
    app.get(
      '/readyz',
      {
        schema: {
          summary: 'Readiness: ClickHouse answers and the host process is ready',
          tags: ['health'],
          querystring: Type.Object({}, closed),
          response: { 200: Status('ready'), ...problemResponses([503]) },
        },
      },
      async (request) => {
        const failing: string[] = []
        if (!(await clickHouseAnswers(store))) failing.push(`ClickHouse did not answer SELECT 1 within ${READY_TIMEOUT_MS} ms`)
        if (readiness) {
          const ready = await Promise.resolve()
            .then(readiness)
            .catch((err: unknown) => {
              request.log.warn({ err }, 'readiness callback failed')
              return false
            })
          if (!ready) failing.push('the host process reports it is not ready')
        }
        if (failing.length > 0) throw apiError('API_NOT_READY', `not ready: ${failing.join('; ')}`)
        return { status: 'ready' as const }
      },
    )
  }
}

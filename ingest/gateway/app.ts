/**
 * The HTTP gateway for workers that cannot speak Kafka: `POST /v1/events`.
 *
 * Guarantees:
 * - Every /v1 request carries a configured API key (401 otherwise, before the body is read).
 * - Bodies: JSON (object, array, NDJSON; `application/json` or `application/x-ndjson`) of the
 *   kind in `?kind=` (request-event, the default, or gpu-sample), or one Avro single-object event
 *   (`application/avro`, any kind); gzip with a cap on the inflated size; raw size capped.
 * - Each record is validated against the newest schema on its own; the answer lists every
 *   record's outcome by index. 200: all accepted; 207: some rejected; 422: none accepted.
 * - Accepted records are answered only after Kafka acknowledged them (acks = -1). When Kafka
 *   cannot take them: 503 with Retry-After and nothing reported as accepted (a client retry may
 *   duplicate records that did land; event_id deduplicates them downstream).
 * - Errors are application/problem+json {type, title, status, detail, code}.
 */
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify'
import type { Codec } from '../../schemas/codec.ts'
import { isSchemaKind, type SchemaKind } from '../../schemas/catalog.ts'
import { DiffwatchError, errorMessage } from '../../schemas/errors.ts'
import type { TopicSet } from '../../schemas/topics.ts'
import type { Transport } from '../sdk/kafka-transport.ts'
import { keyMatches, presentedKey } from './api-keys.ts'
import { avroRecord, encodeJsonRecords, inflate, jsonRecords, type BodyLimits } from './body-records.ts'
import { GatewayError } from './gateway-error.ts'

export interface GatewayOptions {
  readonly transport: Transport
  readonly codec: Codec
  readonly topics: TopicSet
  readonly apiKeyHashes: readonly Buffer[]
  /** Raw (possibly gzip) body cap in bytes. */
  readonly bodyLimitBytes: number
  readonly limits: BodyLimits
  /** Seconds a client should wait after a 503. Default 5. */
  readonly retryAfterSeconds?: number
  readonly logger?: boolean
}

const PROBLEM = 'application/problem+json'

function sendProblem(reply: FastifyReply, status: number, code: string, detail: string): FastifyReply {
  const title = status === 401 ? 'Unauthorized' : status === 413 ? 'Payload Too Large' : status === 503 ? 'Service Unavailable' : status >= 500 ? 'Internal Server Error' : 'Bad Request'
  return reply.code(status).type(PROBLEM).send({ type: 'about:blank', title, status, detail, code })
}

export function buildGateway(options: GatewayOptions): FastifyInstance {
  const app = Fastify({ logger: options.logger ?? false, bodyLimit: options.bodyLimitBytes })
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body))

  app.addHook('onRequest', async (request, reply) => {
    if (!request.url.startsWith('/v1/')) return
    const key = presentedKey(request.headers)
    if (key === undefined || !keyMatches(key, options.apiKeyHashes)) {
      return sendProblem(reply, 401, 'ING_GW_UNAUTHORIZED', 'send a valid API key as `Authorization: Bearer <key>` or `X-API-Key: <key>`')
    }
  })

  app.setErrorHandler((err, request, reply) => {
    if (err instanceof GatewayError) return sendProblem(reply, err.status, err.code, err.message)
    const fst = err as { code?: string; statusCode?: number }
    if (fst.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendProblem(reply, 413, 'ING_GW_TOO_LARGE', `the body is over ${options.bodyLimitBytes} bytes: send fewer records per request`)
    if (fst.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || fst.statusCode === 400) return sendProblem(reply, 400, 'ING_GW_BAD_BODY', errorMessage(err))
    request.log.error({ err }, 'gateway request failed')
    return sendProblem(reply, 500, 'ING_GW_INTERNAL', 'internal error; see the gateway log')
  })

  app.get('/healthz', async () => ({ status: 'ok' }))

  app.post('/v1/events', async (request, reply) => {
    const kindParam = (request.query as Record<string, unknown>)['kind'] ?? 'request-event'
    if (!isSchemaKind(kindParam)) throw new GatewayError(400, 'ING_GW_BAD_KIND', `kind must be request-event or gpu-sample, got ${JSON.stringify(kindParam)}`)
    const kind: SchemaKind = kindParam
    if (!Buffer.isBuffer(request.body) || request.body.length === 0) throw new GatewayError(400, 'ING_GW_EMPTY', 'the body is empty: send events as JSON, NDJSON or Avro')
    const body = inflate(request.body, request.headers['content-encoding'], options.limits)
    const type = (request.headers['content-type'] ?? 'application/json').split(';')[0]!.trim().toLowerCase()
    let outcome
    if (type === 'application/avro' || type === 'avro/binary') outcome = avroRecord(body, options.codec)
    else if (type === 'application/json' || type === 'application/x-ndjson' || type === 'application/ndjson') {
      outcome = encodeJsonRecords(jsonRecords(body, type !== 'application/json'), kind, options.codec, options.limits)
    } else throw new GatewayError(415, 'ING_GW_UNSUPPORTED_TYPE', `Content-Type ${type} is not supported: use application/json, application/x-ndjson or application/avro`)

    const { accepted, rejected } = outcome
    try {
      const topicOf = (k: SchemaKind) => (k === 'request-event' ? options.topics.requests : options.topics.gpuSamples)
      await options.transport.send(accepted.map((r) => ({ topic: topicOf(r.kind), key: r.key, value: r.value })))
    } catch (err) {
      request.log.warn({ err }, 'Kafka did not acknowledge')
      const retryable = err instanceof DiffwatchError ? err.retryable : true
      reply.header('Retry-After', String(options.retryAfterSeconds ?? 5))
      return sendProblem(reply, retryable ? 503 : 502, 'ING_GW_KAFKA_UNAVAILABLE', `Kafka did not acknowledge the ${accepted.length} valid record(s); none were accepted: retry later`)
    }
    const results = [
      ...accepted.map((r) => ({ index: r.index, status: 'accepted' as const })),
      ...rejected.map((r) => ({ ...r, status: 'rejected' as const })),
    ].sort((a, b) => a.index - b.index)
    const status = rejected.length === 0 ? 200 : accepted.length > 0 ? 207 : 422
    return reply.code(status).send({ accepted: accepted.length, rejected: rejected.length, results })
  })
  return app
}

/**
 * The API's JSON body parser: Fastify's own (prototype poisoning refused), fed only bodies that
 * are valid UTF-8 with no byte-order mark. Fastify's default decodes bytes leniently, so invalid
 * UTF-8 reached POST /v1/sql as U+FFFD and the query ran with text the caller never sent, and a
 * BOM was silently dropped (both found by the api-attack chaos scenario). Now both are a 400.
 */
import type { FastifyInstance } from 'fastify'
import { apiError } from './errors.ts'

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

export function registerStrictJson(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const bytes = body as Buffer
    if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
      done(apiError('API_BAD_REQUEST', 'the JSON body starts with a byte-order mark: send UTF-8 without a BOM'), undefined)
      return
    }
    let text: string
    try {
      text = STRICT_UTF8.decode(bytes)
    } catch {
      done(apiError('API_BAD_REQUEST', 'the JSON body is not valid UTF-8: send it encoded as UTF-8'), undefined)
      return
    }
    parseJson(request, text, done)
  })
}

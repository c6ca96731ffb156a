/**
 * The query API's error vocabulary and its one answer shape.
 *
 * Every error the API answers is an RFC 9457 problem document (`application/problem+json`):
 * `{ type, title, status, detail, code }`. `code` is the stable API_ code clients branch on;
 * `detail` says what was wrong and how to fix it for 4xx answers, and is a fixed sentence for
 * 5xx answers (the real cause goes to the log only, so nothing internal leaks to callers).
 */
import { STATUS_CODES } from 'node:http'
import type { FastifyError } from 'fastify'
import { DiffwatchError, isDiffwatchError } from '../schemas/errors.ts'

/** Every code the API answers with, its HTTP status and title. */
export const API_ERRORS = Object.freeze({
  API_BAD_REQUEST: { status: 400, title: 'Bad request' },
  API_BAD_TIME_RANGE: { status: 400, title: 'Bad time range' },
  API_BAD_STEP: { status: 400, title: 'Bad step' },
  API_SQL_REFUSED: { status: 400, title: 'SQL refused' },
  API_SQL_INVALID: { status: 400, title: 'SQL invalid' },
  API_UNAUTHORIZED: { status: 401, title: 'Unauthorized' },
  API_FORBIDDEN: { status: 403, title: 'Forbidden' },
  API_NOT_FOUND: { status: 404, title: 'Not found' },
  API_METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed' },
  API_SQL_TIMEOUT: { status: 422, title: 'SQL time limit exceeded' },
  API_SQL_LIMIT_EXCEEDED: { status: 422, title: 'SQL limit exceeded' },
  API_RATE_LIMITED: { status: 429, title: 'Too many requests' },
  API_NOT_READY: { status: 503, title: 'Not ready' },
  API_STORE_UNAVAILABLE: { status: 503, title: 'Storage unavailable' },
  API_INTERNAL: { status: 500, title: 'Internal error' },
} as const)

export type ApiErrorCode = keyof typeof API_ERRORS

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'
const TYPE_BASE = 'https://diffwatch.dev/problems/'

export type Problem = { type: string; title: string; status: number; detail: string; code: string }

/** A user-facing API error; `detail` must say what to fix. */
export function apiError(code: ApiErrorCode, detail: string, cause?: unknown): DiffwatchError {
  const retryable = API_ERRORS[code].status === 503 || API_ERRORS[code].status === 429
  return new DiffwatchError(code, detail, cause === undefined ? { retryable } : { retryable, cause })
}

export function problem(code: ApiErrorCode, detail: string): Problem {
  const { status, title } = API_ERRORS[code]
  return { type: TYPE_BASE + code.toLowerCase().replace(/^api_/, '').replace(/_/g, '-'), title, status, detail, code }
}

function isApiCode(code: string): code is ApiErrorCode {
  return Object.hasOwn(API_ERRORS, code)
}

type AjvIssue = {
  instancePath?: string
  keyword?: string
  message?: string
  params?: Record<string, unknown>
}

/** One sentence per Ajv issue, naming the parameter and what it accepts. */
export function describeValidation(issues: readonly AjvIssue[], where: string | undefined): string {
  const noun = where === 'querystring' ? 'query parameter' : (where ?? 'request')
  const sentences = issues.map((issue) => {
    const name = (issue.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.')
    const params = issue.params ?? {}
    switch (issue.keyword) {
      case 'additionalProperties':
        return `unknown ${noun} '${String(params['additionalProperty'])}': remove it or check its spelling`
      case 'enum': {
        const allowed = Array.isArray(params['allowedValues']) ? params['allowedValues'].join(', ') : '?'
        return `${noun} '${name}' must be one of: ${allowed}`
      }
      case 'type': {
        const type = String(params['type'])
        return `${noun} '${name}' must be ${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}, given once`
      }
      case 'required':
        return `${noun} '${String(params['missingProperty'])}' is required`
      default:
        return name ? `${noun} '${name}' ${issue.message ?? 'is invalid'}` : `${noun}: ${issue.message ?? 'invalid'}`
    }
  })
  return [...new Set(sentences)].join('; ')
}

export type ErrorLog = { error(obj: unknown, msg?: string): void; warn(obj: unknown, msg?: string): void }

/**
 * Maps any thrown value to the problem document answered for it, logging what the caller does
 * not see. Validation errors become API_BAD_REQUEST, API_ DiffwatchErrors keep their code, other
 * 4xx Fastify errors keep their status, anything else is a 500 whose detail stays in the log.
 */
export function toProblem(err: unknown, log: ErrorLog): Problem {
  const fastifyErr = err as Partial<FastifyError> & { validation?: AjvIssue[]; validationContext?: string }
  if (Array.isArray(fastifyErr.validation)) {
    return problem('API_BAD_REQUEST', describeValidation(fastifyErr.validation, fastifyErr.validationContext))
  }
  if (isDiffwatchError(err) && isApiCode(err.code)) {
    const p = problem(err.code, err.message)
    // A failed readiness probe is an expected answer, not a fault: its detail is our own text.
    if (p.code === 'API_NOT_READY') {
      log.warn({ code: err.code, detail: err.message }, 'not ready')
      return p
    }
    if (p.status >= 500) {
      log.error({ err, code: err.code }, 'request failed')
      const detail = p.code === 'API_STORE_UNAVAILABLE' ? 'the analytics store did not answer; retry shortly' : 'an internal error occurred; it has been logged'
      return { ...p, detail }
    }
    return p
  }
  const status = fastifyErr.statusCode
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const code: ApiErrorCode = status === 404 ? 'API_NOT_FOUND' : 'API_BAD_REQUEST'
    return { ...problem(code, fastifyErr.message ?? 'bad request'), status, title: STATUS_CODES[status] ?? 'Bad request' }
  }
  log.error({ err }, 'unhandled error')
  return problem('API_INTERNAL', 'an internal error occurred; it has been logged')
}

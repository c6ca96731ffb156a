/**
 * TypeBox schemas shared by the routes: the problem document, the common query parameters and
 * the response pieces. Every object is closed (`additionalProperties: false`), so unknown query
 * parameters are refused and responses carry exactly what is documented.
 */
import { Type, type TSchema, type TUnsafe } from '@sinclair/typebox'
import { GROUP_BY } from './dimensions.ts'
import { API_ERRORS, PROBLEM_CONTENT_TYPE } from './errors.ts'

export const closed = { additionalProperties: false } as const

export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: 'URI naming the kind of problem' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String({ description: 'What was wrong and how to fix it (4xx); a fixed sentence for 5xx' }),
    code: Type.String({ enum: Object.keys(API_ERRORS), description: 'Stable error code to branch on' }),
  },
  { ...closed, title: 'Problem (RFC 9457)' },
)

/** Response entries for the error statuses a route can answer. */
export function problemResponses(statuses: readonly number[]): Record<number, unknown> {
  const out: Record<number, unknown> = {}
  for (const status of statuses) {
    out[status] = { description: 'Problem', content: { [PROBLEM_CONTENT_TYPE]: { schema: ProblemSchema } } }
  }
  return out
}

export const TimeParam = (which: 'from' | 'to', fallback: string) =>
  Type.String({
    minLength: 1,
    maxLength: 64,
    description: `${which === 'from' ? 'Start (inclusive)' : 'End (exclusive)'}: ISO-8601 (no offset = UTC), "now", or relative to now (-15m, -24h, -7d). Default ${fallback}.`,
  })

/**
 * A closed set of strings as a plain JSON-schema `enum` (not TypeBox's anyOf of consts), so a
 * wrong value gets one validation error that lists the allowed values.
 */
export function StringEnum<const T extends readonly string[]>(values: T, options: { default?: T[number]; description?: string } = {}): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options })
}

export const GroupByParam = StringEnum(GROUP_BY, { default: 'none', description: 'Dimension to group by; "none" gives one group over everything.' })

export const FormatParam = StringEnum(['json', 'csv'], { default: 'json', description: 'json (default) or csv (text/csv with a header row).' })

export const LimitParam = (max: number, fallback: number) =>
  Type.Integer({ minimum: 1, maximum: max, default: Math.min(fallback, max), description: `Most groups returned, largest first (default ${Math.min(fallback, max)}).` })

export const IsoTime = Type.String({ description: 'ISO-8601 UTC timestamp' })
export const NullableNumber = Type.Union([Type.Number(), Type.Null()])

/** `200` answered as JSON (schema) or CSV (text). */
export function jsonOrCsv(description: string, schema: TSchema): unknown {
  return {
    description,
    content: {
      'application/json': { schema },
      'text/csv': { schema: Type.String({ description: 'CSV with a header row' }) },
    },
  }
}

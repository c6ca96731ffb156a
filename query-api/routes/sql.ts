/**
 * POST /v1/sql: one read-only SELECT over the diffwatch tables for power users (scope `sql`).
 * The query is vetted by ClickHouse's parser and analyzer and runs under read-only limits (see
 * sql-guard-engine.ts); values go in `params` and are referenced as {name:Type}. JSON answers
 * carry the column names and types, the rows, `truncated` and the read statistics; CSV answers
 * are the rows with a header, and say a cut in the `X-Diffwatch-Truncated` header.
 */
import type { ClickHouseClient } from '@clickhouse/client'
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { TABLES } from '../../migrations/tables.ts'
import { noteRead } from '../auth/request-log.ts'
import type { SqlLimits } from '../config.ts'
import { CSV_CONTENT_TYPE, toCsv, type CsvCell } from '../csv.ts'
import { apiError } from '../errors.ts'
import { closed, FormatParam, problemResponses } from '../schemas.ts'
import { DENIED_TABLES, type SqlPolicy } from '../sql-guard.ts'
import { runSql, type SqlParamValue } from '../sql-guard-engine.ts'

const ParamValue = Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null(), Type.Array(Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]))])

export const SqlResponse = Type.Object(
  {
    columns: Type.Array(Type.Object({ name: Type.String(), type: Type.String() }, closed)),
    rows: Type.Array(Type.Object({}, { additionalProperties: true }), { description: 'One object per row, keyed by column name' }),
    rowCount: Type.Integer(),
    truncated: Type.Boolean({ description: 'true when the result had more than maxRows rows and was cut' }),
    tables: Type.Array(Type.String(), { description: 'Tables the query reads, as resolved by ClickHouse' }),
    statistics: Type.Object({ elapsedMs: Type.Number(), rowsRead: Type.Integer(), bytesRead: Type.Integer() }, closed),
  },
  closed,
)

export type SqlRouteOptions = {
  /** The client SQL runs on: a dedicated read-only user where configured, else the API's. */
  client: ClickHouseClient
  database: string
  limits: SqlLimits
}

/** The analytics tables of TABLES, never the key or bookkeeping tables. */
export function readableTables(): Set<string> {
  return new Set(Object.values(TABLES).filter((t) => !DENIED_TABLES.has(t)))
}

function csvCell(value: unknown): CsvCell {
  if (value === null || value === undefined || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value
  return JSON.stringify(value)
}

export function sqlRoutes(options: SqlRouteOptions): FastifyPluginAsyncTypebox {
  const policy: SqlPolicy = { database: options.database, tables: readableTables() }
  return async (app) => {
    app.post('/v1/sql', {
      schema: {
        summary: 'Read-only SQL over the diffwatch tables',
        description:
          'One SELECT (WITH, UNION, JOIN and subqueries allowed) over the diffwatch tables, run read-only with limits on time, rows read, memory and result size. ' +
          'Refused: writes, DDL, SET/SETTINGS, SYSTEM, KILL, several statements, table functions other than numbers/zeros/generate_series/values, system and information_schema tables, other databases. ' +
          'Values go in `params` and are referenced as {name:Type}. Needs the `sql` scope.',
        tags: ['sql'],
        body: Type.Object(
          {
            query: Type.String({ minLength: 1, description: 'One SELECT statement' }),
            // Closed: a name off the pattern could never be referenced, and was accepted unchecked
            // (schemathesis' negative_data_rejection, api-attack chaos scenario).
            params: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }), ParamValue, { description: 'Values of the {name:Type} placeholders', ...closed })),
            format: Type.Optional(FormatParam),
            maxRows: Type.Optional(Type.Integer({ minimum: 1, maximum: options.limits.maxResultRows, description: `Most rows returned (default and upper bound ${options.limits.maxResultRows})` })),
          },
          closed,
        ),
        response: {
          200: { description: 'Rows', content: { 'application/json': { schema: SqlResponse }, 'text/csv': { schema: Type.String() } } },
          ...problemResponses([400, 401, 403, 422, 429, 500, 503]),
        },
      },
      // The API's Ajv coerces types (query strings arrive as text), which turned a body's
      // `"query": false` into the SQL `false` and ran it (schemathesis' negative_data_rejection,
      // api-attack chaos scenario). A JSON body has real types: check them before coercion.
      preValidation: async (request) => {
        const body = request.body as Record<string, unknown> | null
        if (body === null || typeof body !== 'object' || Array.isArray(body)) return
        if ('query' in body && typeof body['query'] !== 'string') throw apiError('API_BAD_REQUEST', 'body/query must be a string holding one SELECT')
        if ('maxRows' in body && typeof body['maxRows'] !== 'number') throw apiError('API_BAD_REQUEST', 'body/maxRows must be a number')
        if ('format' in body && typeof body['format'] !== 'string') throw apiError('API_BAD_REQUEST', "body/format must be 'json' or 'csv'")
      },
    }, async (request, reply) => {
      const { query, params, format, maxRows } = request.body
      const result = await runSql(options.client, { query, params: params as Record<string, SqlParamValue> | undefined, maxRows }, policy, options.limits)
      noteRead(request, result.statistics.rowsRead, result.statistics.bytesRead)
      if (format === 'csv') {
        const names = result.columns.map((c) => c.name)
        const csv = toCsv(names, result.rows.map((row) => names.map((n) => csvCell(row[n]))))
        return reply.type(CSV_CONTENT_TYPE).header('x-diffwatch-truncated', String(result.truncated)).send(csv)
      }
      return result
    })
  }
}

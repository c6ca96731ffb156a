/**
 * Dimension filters and group-by parameters shared by the request routes.
 *
 * A filter is a query parameter named after a dimension (`model=sdxl,flux`): comma-separated
 * values, matched exactly, several values meaning any of them. Values travel only as
 * `{f_<dim>:Array(String)}` parameters; the dimension names come from dimensions.ts, so the
 * schema refuses a filter the table a route reads does not have.
 */
import { Type, type TSchema } from '@sinclair/typebox'
import { dimensionSql, dimensionsOf, type Dimension, type DimensionSource } from './dimensions.ts'
import { StringEnum } from './schemas.ts'

export type FilterQuery = Partial<Record<Dimension, string>>

/** Query-string properties: one optional filter per dimension of `source`. */
export function filterProperties(source: DimensionSource): Record<string, TSchema> {
  const out: Record<string, TSchema> = {}
  for (const dim of dimensionsOf(source)) {
    out[dim] = Type.Optional(Type.String({ minLength: 1, maxLength: 1000, description: `Only these ${dim} values (comma-separated, exact match).` }))
  }
  return out
}

/** `groupBy` over `none` and the dimensions of `source`. */
export function groupByParam(source: DimensionSource) {
  return StringEnum(['none', ...dimensionsOf(source)] as const, { default: 'none', description: 'Dimension to group by; "none" gives one group over everything.' })
}

/** The filters present in `query`, as dimension → values. */
export function activeFilters(query: Record<string, unknown>, dims: readonly Dimension[]): Map<Dimension, string[]> {
  const out = new Map<Dimension, string[]>()
  for (const dim of dims) {
    const raw = query[dim]
    if (typeof raw !== 'string') continue
    const values = [...new Set(raw.split(',').map((v) => v.trim()).filter((v) => v !== ''))]
    if (values.length > 0) out.set(dim, values)
  }
  return out
}

/** ` AND <expr> IN {f_dim:Array(String)}` per filter, adding the values to `params`. */
export function filterSql(source: DimensionSource, filters: Map<Dimension, string[]>, params: Record<string, unknown>): string {
  let sql = ''
  for (const [dim, values] of filters) {
    params[`f_${dim}`] = values
    sql += ` AND ${dimensionSql(source, dim)} IN {f_${dim}:Array(String)}`
  }
  return sql
}

/** The model and GPU-type filters every report takes, as SQL conditions over parameters. */
export type ReportFilters = { models?: string[] | undefined; gpuTypes?: string[] | undefined }

/** ` AND model IN {models:...} AND gpu_type IN {gpu_types:...}` for the filters given; sets their params. */
export function reportFilterSql(filters: ReportFilters, params: Record<string, unknown>): string {
  let sql = ''
  if (filters.models && filters.models.length > 0) {
    params['models'] = filters.models
    sql += ' AND model IN {models:Array(String)}'
  }
  if (filters.gpuTypes && filters.gpuTypes.length > 0) {
    params['gpu_types'] = filters.gpuTypes
    sql += ' AND gpu_type IN {gpu_types:Array(String)}'
  }
  return sql
}

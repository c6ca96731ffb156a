/**
 * Configuration of the reports (API routes and `diffwatch report`), keyed by environment
 * variable, every default here; parsed once with loadConfig (CFG_INVALID lists every problem)
 * and the price file read and checked at the same time (CFG_PRICES_INVALID).
 */
import { Type, type Static } from '@sinclair/typebox'
import { loadConfig } from '../../schemas/config.ts'
import { loadPrices, type Prices } from './prices.ts'

export const ReportConfigSchema = Type.Object({
  DIFFWATCH_PRICES_FILE: Type.String({ default: '', description: 'JSON price table {"currency":"USD","gpuHourly":{"H100":2.49}} for the cost report; empty: built-in list prices (query-api/reports/prices.ts).' }),
  REPORT_MAX_RANGE_DAYS: Type.Number({ default: 400, exclusiveMinimum: 0, maximum: 400, description: 'Longest range a report may cover, in days (the hourly rollups and window tables keep 400 days; raw events 30).' }),
  REPORT_TARGET_P95_QUEUE_WAIT_MS: Type.Number({ default: 1000, exclusiveMinimum: 0, description: 'Capacity report: default target p95 queue wait, ms.' }),
  REPORT_SAMPLE_GAP_CAP_SECONDS: Type.Number({ default: 60, exclusiveMinimum: 0, maximum: 86_400, description: 'Cost report: longest time one GPU sample may stand for (a silent agent is not billed beyond it).' }),
})

export type ReportConfig = { raw: Readonly<Static<typeof ReportConfigSchema>>; prices: Prices; pricesSource: string }

export function loadReportConfig(env: Record<string, string | undefined> = process.env): ReportConfig {
  const raw = loadConfig(ReportConfigSchema, env)
  return Object.freeze({ raw, prices: loadPrices(raw.DIFFWATCH_PRICES_FILE), pricesSource: raw.DIFFWATCH_PRICES_FILE || 'built-in defaults' })
}

export const DEFAULT_REPORT_CONFIG: ReportConfig = loadReportConfig({})

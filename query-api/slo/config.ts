/**
 * SLO configuration: the environment slice (which file, how often to evaluate, webhook timing)
 * read with loadConfig, and the SLO file (JSON, `DIFFWATCH_SLO_FILE`) validated with TypeBox.
 *
 * Guarantees: every problem of the file (schema and cross-field rules: unique names, a latency
 * SLO with a metric and exactly one threshold, an availability SLO with neither, short window
 * shorter than long, long window within the SLO window, an http(s) webhook URL) is reported at
 * once in one CFG_SLO_INVALID error; an unreadable or non-JSON file is CFG_SLO_FILE. The result
 * is frozen and holds durations in milliseconds and the objective as a fraction.
 */
import { readFileSync } from 'node:fs'
import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { loadConfig } from '../../schemas/config.ts'
import { DiffwatchError } from '../../schemas/errors.ts'

export const SloEnvSchema = Type.Object({
  DIFFWATCH_SLO_FILE: Type.Optional(Type.String({ minLength: 1, description: 'Path of the SLO file (JSON, see docs/slo.example.json). Unset: no SLOs, no evaluator.' })),
  SLO_EVAL_INTERVAL_SECONDS: Type.Integer({ default: 60, minimum: 5, maximum: 3600, description: 'Seconds between two evaluations of every SLO. Default 60.' }),
  SLO_WEBHOOK_TIMEOUT_MS: Type.Integer({ default: 5000, minimum: 100, maximum: 60_000, description: 'Timeout of one webhook POST, ms. Default 5000.' }),
  SLO_WEBHOOK_RETRIES: Type.Integer({ default: 3, minimum: 0, maximum: 10, description: 'Retries of a failed webhook POST (after the first try). Default 3.' }),
  SLO_WEBHOOK_BACKOFF_MS: Type.Integer({ default: 1000, minimum: 1, maximum: 60_000, description: 'First retry delay, doubled at each retry, ms. Default 1000.' }),
})

const Duration = Type.String({ pattern: '^[1-9][0-9]{0,3}[mhd]$', description: 'Minutes, hours or days: 5m, 1h, 3d.' })
const Values = Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { minItems: 1, maxItems: 100 })
export const SLO_FILTER_DIMENSIONS = ['model', 'tenant', 'gpu_type', 'region', 'pipeline', 'deployment'] as const
export type SloFilterDimension = (typeof SLO_FILTER_DIMENSIONS)[number]

const SloSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z0-9][a-z0-9_.-]{0,63}$', description: 'Stable id: lower-case letters, digits, _ . -' }),
    description: Type.Optional(Type.String({ maxLength: 500 })),
    objective: Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 100, description: 'Target share of good events, percent (99.5).' }),
    window: Type.Union([Type.Literal('28d'), Type.Literal('30d')]),
    kind: Type.Union([Type.Literal('availability'), Type.Literal('latency')]),
    filters: Type.Optional(Type.Object(Object.fromEntries(SLO_FILTER_DIMENSIONS.map((d) => [d, Type.Optional(Values)])), { additionalProperties: false })),
    metric: Type.Optional(Type.Union([Type.Literal('e2e'), Type.Literal('inference'), Type.Literal('queue')])),
    thresholdMs: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    normalizedThresholdMs: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'ms per step per megapixel' })),
  },
  { additionalProperties: false },
)
const PairSchema = Type.Object(
  { short: Duration, long: Duration, factor: Type.Number({ exclusiveMinimum: 0 }), severity: Type.Union([Type.Literal('page'), Type.Literal('ticket')]) },
  { additionalProperties: false },
)
export const SloFileSchema = Type.Object(
  {
    slos: Type.Array(SloSchema, { minItems: 1, maxItems: 200 }),
    alerting: Type.Optional(
      Type.Object(
        {
          webhookUrl: Type.Optional(Type.String({ minLength: 1 })),
          minRequests: Type.Optional(Type.Integer({ minimum: 1, description: 'Events the long window must hold before an alert may fire. Default 100.' })),
          burnRates: Type.Optional(Type.Array(PairSchema, { minItems: 1, maxItems: 20 })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
)
export type SloFile = Static<typeof SloFileSchema>
type PairInput = Static<typeof PairSchema>

/** The Google SRE workbook's multi-window, multi-burn-rate table for a 30-day budget. */
export const DEFAULT_BURN_RATES: readonly PairInput[] = [
  { short: '5m', long: '1h', factor: 14.4, severity: 'page' },
  { short: '30m', long: '6h', factor: 6, severity: 'page' },
  { short: '2h', long: '1d', factor: 3, severity: 'ticket' },
  { short: '6h', long: '3d', factor: 1, severity: 'ticket' },
]
export const DEFAULT_MIN_REQUESTS = 100

export type SloKind = 'availability' | 'latency'
export type SloDefinition = {
  name: string
  description: string | null
  /** Fraction, e.g. 0.995. */
  objective: number
  window: '28d' | '30d'
  windowMs: number
  kind: SloKind
  filters: Partial<Record<SloFilterDimension, readonly string[]>>
  /** Latency SLOs only: good when metric ≤ thresholdMs, or metric / (steps × megapixels) ≤ normalizedThresholdMs. */
  latency: { metric: 'e2e' | 'inference' | 'queue'; thresholdMs: number | null; normalizedThresholdMs: number | null } | null
}
export type BurnPair = { id: string; short: string; long: string; shortMs: number; longMs: number; factor: number; severity: 'page' | 'ticket' }
export type SloConfig = {
  slos: readonly SloDefinition[]
  alerting: { webhookUrl: string | null; minRequests: number; pairs: readonly BurnPair[] }
  evaluation: { intervalMs: number; webhookTimeoutMs: number; webhookRetries: number; webhookBackoffMs: number }
}

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const
export function durationMs(text: string): number {
  return Number(text.slice(0, -1)) * UNIT_MS[text.slice(-1) as keyof typeof UNIT_MS]
}

function crossCheck(file: SloFile): string[] {
  const problems: string[] = []
  const seen = new Set<string>()
  file.slos.forEach((slo, i) => {
    const at = `slos/${i} (${slo.name})`
    if (seen.has(slo.name)) problems.push(`${at}: name is used twice; SLO names must be unique`)
    seen.add(slo.name)
    const thresholds = [slo.thresholdMs, slo.normalizedThresholdMs].filter((t) => t !== undefined).length
    if (slo.kind === 'latency') {
      if (slo.metric === undefined) problems.push(`${at}: a latency SLO needs "metric" (e2e, inference or queue)`)
      if (thresholds !== 1) problems.push(`${at}: a latency SLO needs exactly one of "thresholdMs" and "normalizedThresholdMs"`)
    } else if (slo.metric !== undefined || thresholds > 0) {
      problems.push(`${at}: an availability SLO takes no "metric", "thresholdMs" or "normalizedThresholdMs"`)
    }
    for (const pair of file.alerting?.burnRates ?? []) {
      if (durationMs(pair.long) > durationMs(slo.window)) problems.push(`${at}: burn-rate window ${pair.long} is longer than the SLO window ${slo.window}`)
    }
  })
  ;(file.alerting?.burnRates ?? []).forEach((pair, i) => {
    if (durationMs(pair.short) >= durationMs(pair.long)) problems.push(`alerting/burnRates/${i}: short window ${pair.short} must be shorter than long window ${pair.long}`)
  })
  const url = file.alerting?.webhookUrl
  if (url !== undefined && !/^https?:$/.test(URL.canParse(url) ? new URL(url).protocol : '')) {
    problems.push(`alerting/webhookUrl: ${JSON.stringify(url)} is not an http(s) URL`)
  }
  return problems
}

function resolveSlo(slo: SloFile['slos'][number]): SloDefinition {
  const filters: Partial<Record<SloFilterDimension, readonly string[]>> = {}
  for (const dim of SLO_FILTER_DIMENSIONS) {
    const values = slo.filters?.[dim]
    if (values) filters[dim] = Object.freeze([...new Set(values)])
  }
  return {
    name: slo.name,
    description: slo.description ?? null,
    objective: slo.objective / 100,
    window: slo.window,
    windowMs: durationMs(slo.window),
    kind: slo.kind,
    filters,
    latency:
      slo.kind === 'latency' && slo.metric !== undefined
        ? { metric: slo.metric, thresholdMs: slo.thresholdMs ?? null, normalizedThresholdMs: slo.normalizedThresholdMs ?? null }
        : null,
  }
}

/** Validates a parsed SLO file together with the environment slice; see the module doc. */
export function parseSloFile(json: unknown, env: Readonly<Static<typeof SloEnvSchema>> = loadConfig(SloEnvSchema, {}), source = 'SLO file'): Readonly<SloConfig> {
  const schemaProblems = [...Value.Errors(SloFileSchema, json)].map((e) => {
    // A union of literals says only "Expected union value": name the values it accepts.
    const allowed = (e.schema as { anyOf?: Array<{ const?: unknown }> }).anyOf?.map((v) => JSON.stringify(v.const))
    const message = allowed?.every((v) => v !== undefined) ? `must be one of ${allowed.join(', ')}` : e.message
    return `${e.path.replace(/^\//, '') || '(root)'}: ${message}`
  })
  const problems = schemaProblems.length > 0 ? schemaProblems : crossCheck(json as SloFile)
  if (problems.length > 0) {
    throw new DiffwatchError('CFG_SLO_INVALID', `invalid ${source}:\n  - ${[...new Set(problems)].join('\n  - ')}`)
  }
  const file = json as SloFile
  const pairs = (file.alerting?.burnRates ?? DEFAULT_BURN_RATES).map((p) => ({
    id: `${p.short}/${p.long}`, short: p.short, long: p.long, shortMs: durationMs(p.short), longMs: durationMs(p.long), factor: p.factor, severity: p.severity,
  }))
  return Object.freeze({
    slos: Object.freeze(file.slos.map(resolveSlo)),
    alerting: Object.freeze({ webhookUrl: file.alerting?.webhookUrl ?? null, minRequests: file.alerting?.minRequests ?? DEFAULT_MIN_REQUESTS, pairs: Object.freeze(pairs) }),
    evaluation: Object.freeze({
      intervalMs: env.SLO_EVAL_INTERVAL_SECONDS * 1000,
      webhookTimeoutMs: env.SLO_WEBHOOK_TIMEOUT_MS,
      webhookRetries: env.SLO_WEBHOOK_RETRIES,
      webhookBackoffMs: env.SLO_WEBHOOK_BACKOFF_MS,
    }),
  })
}

/** Reads the environment and the SLO file it names; null when DIFFWATCH_SLO_FILE is unset. */
export function loadSloConfig(env: Record<string, string | undefined> = process.env): Readonly<SloConfig> | null {
  const settings = loadConfig(SloEnvSchema, env)
  const path = settings.DIFFWATCH_SLO_FILE
  if (path === undefined) return null
  let json: unknown
  try {
    json = JSON.parse(readFileSync(path, 'utf8'))
  } catch (err) {
    throw new DiffwatchError('CFG_SLO_FILE', `cannot read the SLO file ${path} (DIFFWATCH_SLO_FILE) as JSON: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }
  return parseSloFile(json, settings, `SLO file ${path}`)
}

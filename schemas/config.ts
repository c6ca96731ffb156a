/**
 * Configuration loading shared by every service: one TypeBox schema per service whose keys are
 * the environment variable names, parsed once at start-up. Defaults are applied, numbers and
 * booleans coerced, bounds checked, cross-field rules run, and every problem reported at once
 * in one CFG_INVALID error. The result is frozen; nothing deeper in the code reads process.env.
 */
import { type Static, type TObject } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { DiffwatchError } from './errors.ts'

export type CrossCheck<T> = (config: T) => string[]

export function loadConfig<S extends TObject>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
  crossChecks: CrossCheck<Static<S>>[] = [],
): Readonly<Static<S>> {
  const raw: Record<string, unknown> = {}
  for (const key of Object.keys(schema.properties)) {
    const value = env[key]
    if (value !== undefined && value !== '') raw[key] = value
  }
  const withDefaults = Value.Default(schema, raw)
  const converted = Value.Convert(schema, withDefaults)
  const problems = [...Value.Errors(schema, converted)].map((e) => {
    const name = e.path.replace(/^\//, '') || '(root)'
    return `${name}: ${e.message} (got ${JSON.stringify(env[name] ?? null)})`
  })
  if (problems.length === 0) {
    for (const check of crossChecks) problems.push(...check(converted as Static<S>))
  }
  if (problems.length > 0) {
    throw new DiffwatchError('CFG_INVALID', `invalid configuration:\n  - ${problems.join('\n  - ')}`)
  }
  return Object.freeze(converted as Static<S>)
}

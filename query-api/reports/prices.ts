/**
 * GPU prices for the cost report: a JSON file (`DIFFWATCH_PRICES_FILE`) of the shape
 * `{"currency": "USD", "gpuHourly": {"H100": 2.49, "A100-40GB": 1.29}}`, checked at load (every
 * problem reported at once, as CFG_PRICES_INVALID), or the defaults below when no file is set.
 *
 * A GPU's price is found by its fleet GPU type (RequestEvent.gpu_type) and then its product
 * name (GpuSample.gpu_name): an exact key first, else the longest key that appears in the type or
 * name as a whole word, case-insensitive ("H100" prices "H100-80GB" and "NVIDIA H100 80GB
 * HBM3"; "A10" does not price "A100"). A GPU no key matches is unpriced: the report lists it,
 * never counts it as free.
 */
import { readFileSync } from 'node:fs'
import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { DiffwatchError } from '../../schemas/errors.ts'

export const PricesSchema = Type.Object(
  {
    currency: Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217 code, e.g. USD' }),
    gpuHourly: Type.Record(Type.String({ minLength: 1, maxLength: 100 }), Type.Number({ minimum: 0, maximum: 10_000 }), {
      description: 'Price of one GPU for one hour, by GPU type or product-name word',
    }),
  },
  { additionalProperties: false },
)

export type Prices = Static<typeof PricesSchema>

/**
 * On-demand list prices per GPU-hour of common GPU clouds (2025), as a starting point only:
 * set DIFFWATCH_PRICES_FILE to your own contract prices.
 */
export const DEFAULT_PRICES: Readonly<Prices> = Object.freeze({
  currency: 'USD',
  gpuHourly: Object.freeze({ H200: 3.5, H100: 2.49, A100: 1.29, L40S: 0.99, A10G: 0.75, L4: 0.44, T4: 0.35 }),
})

/** Checks a parsed prices document; throws CFG_PRICES_INVALID listing every problem. */
export function parsePrices(value: unknown, source: string): Prices {
  const problems = [...Value.Errors(PricesSchema, value)].map((e) => `${e.path || '(root)'}: ${e.message}`)
  if (problems.length > 0) {
    throw new DiffwatchError('CFG_PRICES_INVALID', `invalid prices in ${source}: ${problems.join('; ')}; expected {"currency": "USD", "gpuHourly": {"H100": 2.49}}`)
  }
  return value as Prices
}

/** The prices of the file at `path`, or the defaults when `path` is empty. */
export function loadPrices(path: string): Prices {
  if (path === '') return DEFAULT_PRICES
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new DiffwatchError('CFG_PRICES_INVALID', `cannot read DIFFWATCH_PRICES_FILE ${path}: ${(err as Error).message}`, { cause: err })
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new DiffwatchError('CFG_PRICES_INVALID', `DIFFWATCH_PRICES_FILE ${path} is not valid JSON: ${(err as Error).message}`, { cause: err })
  }
  return parsePrices(json, path)
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** Hourly price of a GPU and the key that priced it, or null when unpriced. */
export function priceFor(prices: Prices, gpuType: string, gpuName: string): { key: string; hourly: number } | null {
  for (const name of [gpuType, gpuName]) {
    const exact = prices.gpuHourly[name]
    if (name !== '' && exact !== undefined) return { key: name, hourly: exact }
  }
  const keys = Object.keys(prices.gpuHourly).sort((a, b) => b.length - a.length)
  for (const key of keys) {
    const word = new RegExp(`(^|[^a-z0-9])${escapeRegExp(key.toLowerCase())}($|[^a-z0-9])`)
    if (word.test(gpuType.toLowerCase()) || word.test(gpuName.toLowerCase())) return { key, hourly: prices.gpuHourly[key] ?? 0 }
  }
  return null
}

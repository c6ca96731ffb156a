import { describe, expect, it } from 'vitest'
import { isDiffwatchError } from '../schemas/errors.ts'
import { DEFAULT_QUERY_LIMITS, loadApiConfig } from './config.ts'
import { toCsv } from './csv.ts'
import { parseQuantiles, quantileLabel } from './routes/latency.ts'
import { buildSeries } from './series.ts'

const T0 = Date.UTC(2026, 0, 1, 0, 0, 0)

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    return isDiffwatchError(err) ? err.code : 'not a DiffwatchError'
  }
  return undefined
}

describe('buildSeries', () => {
  it('zero-fills, divides edge buckets by the part inside the range, and totals every group', () => {
    const range = { fromMs: T0 + 30_000, toMs: T0 + 150_000 } // 00:00:30 .. 00:02:30, step 1m → 3 buckets
    const rows = [
      { bucket: T0 / 1000, group: 'a', requests: 3, successes: 3, errors: 0, images: 6 },
      { bucket: T0 / 1000 + 120, group: 'a', requests: 1, successes: 0, errors: 1, images: 0 },
      { bucket: T0 / 1000 + 60, group: 'b', requests: 10, successes: 10, errors: 0, images: 10 },
    ]
    const { series, totals, truncated } = buildSeries(rows, range, 60, { grouped: true, limit: 1 })
    expect(truncated).toBe(true)
    expect(series.map((s) => s.group)).toEqual(['b'])
    expect(series[0]?.points.map((p) => [p.seconds, p.requests])).toEqual([[30, 0], [60, 10], [30, 0]])
    expect(totals).toEqual({ requests: 14, successes: 13, errors: 1, images: 16, requests_per_s: 14 / 120, images_per_s: 16 / 120, error_rate: 1 / 14 })

    const all = buildSeries(rows, range, 60, { grouped: false, limit: 10 })
    expect(all.series[0]?.points.map((p) => [p.seconds, p.requests, p.requests_per_s])).toEqual([[30, 3, 0.1], [60, 10, 10 / 60], [30, 1, 1 / 30]])
  })

  it('gives one all-zero series when nothing matched and grouping is none', () => {
    const { series, totals } = buildSeries([], { fromMs: T0, toMs: T0 + 60_000 }, 10, { grouped: false, limit: 5 })
    expect(series).toHaveLength(1)
    expect(series[0]?.points).toHaveLength(6)
    expect(totals.error_rate).toBeNull()
  })
})

describe('toCsv', () => {
  it('quotes when needed, leaves nulls empty and defuses spreadsheet formulas', () => {
    expect(toCsv(['a', 'b', 'c'], [['x,y', 'say "hi"', null], ['=SUM(A1)', -1.5, true]])).toBe(
      'a,b,c\r\n"x,y","say ""hi""",\r\n\'=SUM(A1),-1.5,true\r\n',
    )
  })
})

describe('quantiles', () => {
  it('parses up to 9 distinct quantiles strictly between 0 and 1', () => {
    expect(parseQuantiles('0.5, 0.95,.99')).toEqual([0.5, 0.95, 0.99])
    for (const bad of ['0', '1', '0.5,0.5', '-0.1', 'abc', '', '0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,0.95', '1e-3']) {
      expect(codeOf(() => parseQuantiles(bad)), bad).toBe('API_BAD_REQUEST')
    }
  })

  it('labels quantiles as percentiles', () => {
    expect([0.5, 0.95, 0.999, 0.1].map(quantileLabel)).toEqual(['p50', 'p95', 'p99.9', 'p10'])
  })
})

describe('config', () => {
  it('has documented defaults', () => {
    const c = loadApiConfig({})
    expect([c.API_HOST, c.API_PORT, c.API_MAX_RANGE_DAYS, c.API_MAX_BUCKETS, c.API_DOCS]).toEqual(['127.0.0.1', 8080, 31, 2000, true])
    expect(DEFAULT_QUERY_LIMITS).toEqual({ maxRangeSeconds: 31 * 86_400, defaultRangeSeconds: 3600, maxBuckets: 2000, maxGroups: 500, queryTimeoutSeconds: 30, rollupMinRangeSeconds: 6 * 3600, hourlyRollupMinRangeSeconds: 86_400 })
  })

  it('coerces values and reports every bad variable at once', () => {
    expect(loadApiConfig({ API_PORT: '9090', API_DOCS: 'false' })).toMatchObject({ API_PORT: 9090, API_DOCS: false })
    try {
      loadApiConfig({ API_PORT: 'eighty', API_MAX_BUCKETS: '1' })
      expect.unreachable()
    } catch (err) {
      expect(isDiffwatchError(err, 'CFG_INVALID')).toBe(true)
      expect((err as Error).message).toMatch(/API_PORT[\s\S]*API_MAX_BUCKETS/)
    }
    expect(() => loadApiConfig({ API_MAX_RANGE_DAYS: '1', API_DEFAULT_RANGE_MINUTES: '2000' })).toThrow(/API_DEFAULT_RANGE_MINUTES/)
  })
})

import { describe, expect, it } from 'vitest'
import { isDiffwatchError } from '../schemas/errors.ts'
import {
  bucketCount,
  formatDuration,
  formatStep,
  parseInstant,
  parseStep,
  resolveStep,
  resolveTimeRange,
  smallestStep,
} from './time-range.ts'

const NOW = Date.UTC(2025, 4, 1, 12, 0, 0) // 2025-05-01T12:00:00Z
const LIMITS = { maxRangeSeconds: 31 * 86_400, defaultRangeSeconds: 3600 }
const H = 3_600_000

function failure(fn: () => unknown): { code: string; message: string } {
  try {
    fn()
  } catch (err) {
    if (isDiffwatchError(err)) return { code: err.code, message: err.message }
    throw err
  }
  throw new Error('expected a DiffwatchError')
}

describe('parseInstant', () => {
  it('reads now and relative times in s, m, h, d, w', () => {
    expect(parseInstant('now', NOW, 'from')).toBe(NOW)
    expect(parseInstant('-30s', NOW, 'from')).toBe(NOW - 30_000)
    expect(parseInstant('-15m', NOW, 'from')).toBe(NOW - 15 * 60_000)
    expect(parseInstant('-24h', NOW, 'from')).toBe(NOW - 24 * H)
    expect(parseInstant('-7d', NOW, 'from')).toBe(NOW - 7 * 24 * H)
    expect(parseInstant('-2w', NOW, 'from')).toBe(NOW - 14 * 24 * H)
    expect(parseInstant('now-1h', NOW, 'from')).toBe(NOW - H)
  })

  it('reads ISO-8601 with Z, offsets, fractions, and no offset as UTC', () => {
    expect(parseInstant('2025-05-01T10:00:00Z', NOW, 'from')).toBe(Date.UTC(2025, 4, 1, 10))
    expect(parseInstant('2025-05-01T10:00:00.250Z', NOW, 'from')).toBe(Date.UTC(2025, 4, 1, 10, 0, 0, 250))
    expect(parseInstant('2025-05-01T12:00:00+02:00', NOW, 'from')).toBe(Date.UTC(2025, 4, 1, 10))
    expect(parseInstant('2025-05-01T07:30:00-0230', NOW, 'from')).toBe(Date.UTC(2025, 4, 1, 10))
    expect(parseInstant('2025-05-01T10:00', NOW, 'from')).toBe(Date.UTC(2025, 4, 1, 10))
    expect(parseInstant('2025-05-01 10:00:00', NOW, 'from')).toBe(Date.UTC(2025, 4, 1, 10))
    expect(parseInstant('2025-05-01', NOW, 'from')).toBe(Date.UTC(2025, 4, 1))
  })

  it('reads a + that a URL decoded into a space as +', () => {
    expect(parseInstant('2025-05-01T12:00:00 02:00', NOW, 'from')).toBe(Date.UTC(2025, 4, 1, 10))
  })

  it('refuses what it cannot read, naming the parameter and the accepted forms', () => {
    for (const bad of ['yesterday', '-5x', '2025-13-01', '2025-02-30', '2025-05-01T25:00:00Z', '1714560000', '-15M', '']) {
      const f = failure(() => parseInstant(bad, NOW, 'from'))
      expect(f.code).toBe('API_BAD_TIME_RANGE')
      expect(f.message).toContain('from=')
      expect(f.message).toContain('-24h')
    }
  })
})

describe('resolveTimeRange', () => {
  it('defaults to the last hour ending now', () => {
    expect(resolveTimeRange({}, NOW, LIMITS)).toEqual({ fromMs: NOW - H, toMs: NOW })
  })

  it('takes the default range back from an explicit to', () => {
    expect(resolveTimeRange({ to: '-1h' }, NOW, LIMITS)).toEqual({ fromMs: NOW - 2 * H, toMs: NOW - H })
  })

  it('refuses from after or equal to to', () => {
    const f = failure(() => resolveTimeRange({ from: 'now', to: '-1h' }, NOW, LIMITS))
    expect(f.code).toBe('API_BAD_TIME_RANGE')
    expect(f.message).toMatch(/must be before to/)
    expect(failure(() => resolveTimeRange({ from: '-1h', to: '-1h' }, NOW, LIMITS)).code).toBe('API_BAD_TIME_RANGE')
  })

  it('accepts exactly the maximum range and refuses one millisecond more', () => {
    expect(resolveTimeRange({ from: '-31d' }, NOW, LIMITS).fromMs).toBe(NOW - 31 * 24 * H)
    const f = failure(() => resolveTimeRange({ from: '2025-03-31T11:59:59.999Z' }, NOW, LIMITS))
    expect(f.code).toBe('API_BAD_TIME_RANGE')
    expect(f.message).toContain('more than the 31d allowed')
  })
})

describe('steps', () => {
  it('parses steps in s, m, h, d', () => {
    expect(parseStep('10s')).toBe(10)
    expect(parseStep('1m')).toBe(60)
    expect(parseStep('5m')).toBe(300)
    expect(parseStep('1h')).toBe(3600)
    expect(parseStep('1d')).toBe(86_400)
    expect(parseStep('90s')).toBe(90)
  })

  it('refuses steps that are not multiples of 10 s, suggesting the next one', () => {
    const f = failure(() => parseStep('15s'))
    expect(f.code).toBe('API_BAD_STEP')
    expect(f.message).toContain('multiple of 10s')
    expect(f.message).toContain('20s')
    expect(failure(() => parseStep('0s')).code).toBe('API_BAD_STEP')
    expect(failure(() => parseStep('1w')).code).toBe('API_BAD_STEP')
    expect(failure(() => parseStep('m')).code).toBe('API_BAD_STEP')
  })

  it('formats steps in the largest exact unit', () => {
    expect([10, 60, 90, 300, 3600, 5400, 86_400].map(formatStep)).toEqual(['10s', '1m', '90s', '5m', '1h', '90m', '1d'])
    expect(formatDuration(90_061)).toBe('1d 1h 1m 1s')
  })

  it('counts epoch-aligned buckets, partial edges included', () => {
    expect(bucketCount({ fromMs: NOW - H, toMs: NOW }, 60)).toBe(60)
    expect(bucketCount({ fromMs: NOW - H + 30_000, toMs: NOW + 30_000 }, 60)).toBe(61)
    expect(bucketCount({ fromMs: NOW, toMs: NOW + 1 }, 86_400)).toBe(1)
  })

  it('refuses too many buckets and names the smallest step allowed', () => {
    const day = { fromMs: NOW - 24 * H, toMs: NOW }
    expect(smallestStep(day, 2000)).toBe(50) // 86400 / 50 = 1728 buckets; 40 s would give 2160
    const f = failure(() => resolveStep('10s', day, { maxBuckets: 2000 }))
    expect(f.code).toBe('API_BAD_STEP')
    expect(f.message).toContain('8640 buckets')
    expect(f.message).toContain('use step=50s or larger (e.g. 1m)')
    expect(resolveStep('50s', day, { maxBuckets: 2000 })).toBe(50)
  })

  it('chooses a nice step of at most 300 buckets when none is given', () => {
    expect(resolveStep(undefined, { fromMs: NOW - H, toMs: NOW }, { maxBuckets: 2000 })).toBe(30)
    expect(resolveStep(undefined, { fromMs: NOW - 24 * H, toMs: NOW }, { maxBuckets: 2000 })).toBe(300)
    expect(resolveStep(undefined, { fromMs: NOW - 31 * 24 * H, toMs: NOW }, { maxBuckets: 2000 })).toBe(10_800)
  })
})

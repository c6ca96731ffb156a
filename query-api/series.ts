/**
 * Turns the per-(bucket, group) sums ClickHouse returns into zero-filled time series with rates.
 *
 * Every series has one point per epoch-aligned bucket the range touches, so a chart shows a
 * quiet minute as 0 instead of drawing a line across it. Rates divide by the part of the bucket
 * inside [from, to) (edge buckets are partial), and the totals' rates by the whole range.
 * Windows are attributed to the bucket, and to the range, containing their start.
 */
import type { TimeRange } from './time-range.ts'

export type Counts = { requests: number; successes: number; errors: number; images: number }
export type Rates = { requests_per_s: number; images_per_s: number; error_rate: number | null }
export type Point = { time: string; seconds: number } & Counts & Rates
export type Series = { group: string | null; totals: Counts & Rates; points: Point[] }
export type BucketSums = Counts & { bucket: number; group: string }

const ZERO: Counts = { requests: 0, successes: 0, errors: 0, images: 0 }

function add(a: Counts, b: Counts): Counts {
  return { requests: a.requests + b.requests, successes: a.successes + b.successes, errors: a.errors + b.errors, images: a.images + b.images }
}

export function withRates(counts: Counts, seconds: number): Counts & Rates {
  return {
    ...counts,
    requests_per_s: seconds > 0 ? counts.requests / seconds : 0,
    images_per_s: seconds > 0 ? counts.images / seconds : 0,
    error_rate: counts.requests > 0 ? counts.errors / counts.requests : null,
  }
}

/**
 * Groups `rows` (bucket = epoch seconds of the bucket start) into at most `limit` series, the
 * busiest first; `truncated` says whether groups were left out (the totals still count them).
 */
export function buildSeries(
  rows: readonly BucketSums[],
  range: TimeRange,
  stepSeconds: number,
  options: { grouped: boolean; limit: number },
): { series: Series[]; totals: Counts & Rates; truncated: boolean } {
  const stepMs = stepSeconds * 1000
  const firstMs = Math.floor(range.fromMs / stepMs) * stepMs
  const buckets: number[] = []
  for (let t = firstMs; t < range.toMs; t += stepMs) buckets.push(t)

  const byGroup = new Map<string, Map<number, Counts>>()
  if (!options.grouped) byGroup.set('', new Map())
  let totals = ZERO
  for (const row of rows) {
    const key = options.grouped ? row.group : ''
    let points = byGroup.get(key)
    if (!points) byGroup.set(key, (points = new Map()))
    const ms = row.bucket * 1000
    points.set(ms, add(points.get(ms) ?? ZERO, row))
    totals = add(totals, row)
  }

  const series = [...byGroup.entries()].map(([key, points]): Series => {
    let groupTotals = ZERO
    const out = buckets.map((start): Point => {
      const counts = points.get(start) ?? ZERO
      groupTotals = add(groupTotals, counts)
      const seconds = (Math.min(start + stepMs, range.toMs) - Math.max(start, range.fromMs)) / 1000
      return { time: new Date(start).toISOString(), seconds, ...withRates(counts, seconds) }
    })
    return { group: options.grouped ? key : null, totals: withRates(groupTotals, (range.toMs - range.fromMs) / 1000), points: out }
  })
  series.sort((a, b) => b.totals.requests - a.totals.requests || compare(a.group ?? '', b.group ?? ''))
  return {
    series: series.slice(0, options.limit),
    totals: withRates(totals, (range.toMs - range.fromMs) / 1000),
    truncated: series.length > options.limit,
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

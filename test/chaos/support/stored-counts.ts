/**
 * What a transformer stored, compared with what was produced: raw rows, distinct events, and the
 * windowed request counts, read from a stopped transformer child's ClickHouse folder.
 */
import type { TransformerChild } from './transformer-child.ts'

export type StoredCounts = {
  requestRows: number
  requestIds: number
  sampleRows: number
  sampleKeys: number
  windowRequests: number
  windowSamples: number
}

export async function storedCounts(t: TransformerChild): Promise<StoredCounts> {
  const db = t.database
  const r = await t.query<Record<string, number | string>>({
    requests: `SELECT count() AS n, uniqExact(event_id) AS ids FROM ${db}.request_events`,
    samples: `SELECT count() AS n, uniqExact(gpu_uuid, sampled_at) AS ids FROM ${db}.gpu_samples`,
    rw: `SELECT sum(requests) AS n FROM ${db}.request_windows`,
    gw: `SELECT sum(samples) AS n FROM ${db}.gpu_windows`,
  })
  const num = (rows: Record<string, number | string>[] | undefined, col: string): number => Number(rows?.[0]?.[col] ?? 0)
  return {
    requestRows: num(r.requests, 'n'),
    requestIds: num(r.requests, 'ids'),
    sampleRows: num(r.samples, 'n'),
    sampleKeys: num(r.samples, 'ids'),
    windowRequests: num(r.rw, 'n'),
    windowSamples: num(r.gw, 'n'),
  }
}

/** Lost / duplicated / problems of a run in which every produced event is valid. */
export function compareStored(produced: { requests: number; samples: number }, s: StoredCounts): { delivered: number; lost: number; duplicated: number; problems: string[] } {
  const delivered = s.requestIds + s.sampleKeys
  const problems: string[] = []
  if (s.windowRequests !== produced.requests) problems.push(`request windows count ${s.windowRequests} requests, ${produced.requests} were produced`)
  if (s.windowSamples !== produced.samples) problems.push(`GPU windows count ${s.windowSamples} samples, ${produced.samples} were produced`)
  const extra = delivered - (produced.requests + produced.samples)
  if (extra > 0) problems.push(`${extra} more events stored than valid ones produced (invalid events stored instead of dead-lettered)`)
  return {
    delivered: delivered - Math.max(0, extra),
    lost: Math.max(0, -extra),
    duplicated: s.requestRows - s.requestIds + (s.sampleRows - s.sampleKeys),
    problems,
  }
}

/**
 * The capacity report's numbers recomputed in plain JS from the events a test produced, with
 * the definitions the report states, and Erlang C from its textbook closed form (log space),
 * independently of erlang-c.ts.
 */
import type { RequestEvent } from '../../../schemas/generated/types.ts'
import { exactQuantile } from '../../test-support/fleet-data.ts'

export type PoolExpectation = {
  requests: number
  served: number
  gpus: number
  serviceMeanMs: number
  serviceSorted: number[]
  serviceSumMs: number
  imagesOk: number
  peakArrivals: number
}

export function serviceMs(e: RequestEvent): number | null {
  if (e.dequeued_at === null) return null
  return (e.inference_end_at ?? e.completed_at) - e.dequeued_at
}

/** Per `key(e)` over events completed in [from, to). */
export function expectedPools(events: readonly RequestEvent[], fromMs: number, toMs: number, peakMs: number, key: (e: RequestEvent) => string): Map<string, PoolExpectation> {
  const groups = new Map<string, RequestEvent[]>()
  for (const e of events) {
    if (e.completed_at < fromMs || e.completed_at >= toMs) continue
    groups.set(key(e), [...(groups.get(key(e)) ?? []), e])
  }
  const out = new Map<string, PoolExpectation>()
  for (const [k, list] of groups) {
    const svc = list.map(serviceMs).filter((v): v is number => v !== null)
    const windows = new Map<number, number>()
    for (const e of list) windows.set(Math.floor(e.received_at / peakMs), (windows.get(Math.floor(e.received_at / peakMs)) ?? 0) + 1)
    out.set(k, {
      requests: list.length,
      served: svc.length,
      gpus: new Set(list.filter((e) => e.dequeued_at !== null).map((e) => e.gpu_uuid)).size,
      serviceMeanMs: svc.reduce((a, b) => a + b, 0) / svc.length,
      serviceSorted: [...svc].sort((a, b) => a - b),
      serviceSumMs: svc.reduce((a, b) => a + b, 0),
      imagesOk: list.filter((e) => e.status === 'ok').reduce((s, e) => s + e.images, 0),
      peakArrivals: Math.max(...windows.values()),
    })
  }
  return out
}

/** P(wait > t) of M/M/c from a^c/c! · c/(c−a) / (Σ_{k<c} a^k/k! + a^c/c! · c/(c−a)) · e^{−(cμ−λ)t}. */
export function closedFormWaitTail(c: number, lambda: number, serviceSeconds: number, t: number): number {
  const a = lambda * serviceSeconds
  if (a >= c) return 1
  const logs: number[] = []
  let log = 0
  for (let k = 0; k < c; k++) {
    logs.push(log)
    log += Math.log(a) - Math.log(k + 1)
  }
  const logLast = log + Math.log(c / (c - a))
  const max = Math.max(logLast, ...logs)
  const sum = logs.reduce((s, x) => s + Math.exp(x - max), 0) + Math.exp(logLast - max)
  return (Math.exp(logLast - max) / sum) * Math.exp(-(c / serviceSeconds - lambda) * t)
}

export { exactQuantile }

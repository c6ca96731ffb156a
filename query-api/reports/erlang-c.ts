/**
 * The M/M/c queue (Erlang C) the capacity report sizes worker pools with: Poisson arrivals at
 * rate λ, exponential service times of mean S (rate μ = 1/S), c identical servers (GPUs), one
 * FIFO queue. With offered load a = λ·S (in Erlangs) and c > a:
 *   P(wait > 0) = C(c, a),   P(wait > t) = C(c, a) · exp(−(c·μ − λ)·t).
 *
 * C(c, a) comes from the Erlang B recursion B(0) = 1, B(k) = a·B(k−1) / (k + a·B(k−1)) and
 * C = c·B / (c − a·(1 − B)): every step stays in [0, 1], so c in the thousands neither
 * overflows nor loses precision (the textbook a^c / c! form overflows near c = 170).
 */

/** Erlang B: probability that an arrival finds all c servers busy in a loss system. */
export function erlangB(servers: number, offered: number): number {
  if (!Number.isInteger(servers) || servers < 0) throw new RangeError(`servers must be a non-negative integer, got ${servers}`)
  if (!(offered >= 0)) throw new RangeError(`offered load must be ≥ 0, got ${offered}`)
  let b = 1
  for (let k = 1; k <= servers; k++) b = (offered * b) / (k + offered * b)
  return b
}

/** Erlang C: probability that an arrival waits; 1 when the queue is unstable (a ≥ c). */
export function erlangC(servers: number, offered: number): number {
  if (offered === 0) return 0
  if (offered >= servers) return 1
  const b = erlangB(servers, offered)
  return (servers * b) / (servers - offered * (1 - b))
}

export type Queue = {
  /** Arrivals per second. */
  lambda: number
  /** Mean service time, seconds. */
  serviceSeconds: number
}

/** P(wait > t) for c servers; 1 when unstable. */
export function waitExceedsProbability(servers: number, q: Queue, waitSeconds: number): number {
  const offered = q.lambda * q.serviceSeconds
  if (offered >= servers) return 1
  const mu = 1 / q.serviceSeconds
  return erlangC(servers, offered) * Math.exp(-(servers * mu - q.lambda) * waitSeconds)
}

/** Mean wait in queue (seconds) for c servers: C / (c·μ − λ); Infinity when unstable. */
export function meanWaitSeconds(servers: number, q: Queue): number {
  const offered = q.lambda * q.serviceSeconds
  if (offered >= servers) return Infinity
  return erlangC(servers, offered) / (servers / q.serviceSeconds - q.lambda)
}

/**
 * Smallest c with P(wait > t) ≤ 1 − quantile, i.e. the `quantile` of the queue wait is at most
 * t (p95 by default). 0 when there is no load. Searches upward from ⌈a⌉, the stability bound;
 * the tail falls fast above it, so few steps are needed even at c in the hundreds.
 */
export function serversForWaitQuantile(q: Queue, waitSeconds: number, quantile = 0.95): number {
  if (q.lambda <= 0) return 0
  if (!(q.serviceSeconds > 0)) throw new RangeError(`service time must be > 0, got ${q.serviceSeconds}`)
  const offered = q.lambda * q.serviceSeconds
  let c = Math.max(1, Math.floor(offered) + 1)
  while (waitExceedsProbability(c, q, waitSeconds) > 1 - quantile) c++
  return c
}

/**
 * Largest arrival rate c servers carry with the wait quantile at most t (bisection on λ over
 * [0, c/S); P(wait > t) rises with λ). 0 for c = 0.
 */
export function maxLoadForWaitQuantile(servers: number, serviceSeconds: number, waitSeconds: number, quantile = 0.95): number {
  if (servers <= 0) return 0
  let lo = 0
  let hi = servers / serviceSeconds
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2
    if (waitExceedsProbability(servers, { lambda: mid, serviceSeconds }, waitSeconds) <= 1 - quantile) lo = mid
    else hi = mid
  }
  return lo
}

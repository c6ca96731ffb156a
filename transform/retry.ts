/**
 * Retry of transient failures with capped exponential backoff and jitter. Only errors the
 * caller classifies as retryable are retried; anything else is rethrown at once. There is no
 * attempt limit: a transient outage (ClickHouse or Kafka down) pauses the pipeline until it
 * ends, it never skips data. `shouldStop` lets shutdown interrupt the wait.
 */
import { setTimeout as sleep } from 'node:timers/promises'

export type RetryOptions = {
  initialMs: number
  maxMs: number
  isRetryable: (err: unknown) => boolean
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void
  /** Called while waiting (e.g. a consumer heartbeat); its errors are ignored. */
  keepAlive?: () => Promise<void>
  shouldStop?: () => boolean
}

export async function withRetry<T>(fn: () => Promise<T>, o: RetryOptions): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn()
    } catch (err) {
      if (!o.isRetryable(err) || o.shouldStop?.()) throw err
      const base = Math.min(o.maxMs, o.initialMs * 2 ** Math.min(attempt - 1, 20))
      const delay = Math.round(base / 2 + Math.random() * (base / 2))
      o.onRetry?.(err, attempt, delay)
      await sleepWithKeepAlive(delay, o.keepAlive)
    }
  }
}

async function sleepWithKeepAlive(ms: number, keepAlive?: () => Promise<void>): Promise<void> {
  const step = 1_000
  for (let left = ms; left > 0; left -= step) {
    await sleep(Math.min(step, left))
    if (keepAlive) await keepAlive().catch(() => undefined)
  }
}

/**
 * Runs `work` while calling `keepAlive` every `intervalMs` (errors ignored). kafkajs 2.x has no
 * background heartbeat, so a consumer doing a long insert must heartbeat by hand or be expelled
 * from its group; a heartbeat failing during a rebalance is left to the commit, which is fenced.
 */
export async function withKeepAlive<T>(work: () => Promise<T>, keepAlive: () => Promise<void>, intervalMs: number): Promise<T> {
  const timer = setInterval(() => void keepAlive().catch(() => undefined), intervalMs)
  try {
    return await work()
  } finally {
    clearInterval(timer)
  }
}

/**
 * Delivers SLO alert transitions to a webhook as JSON POSTs, off the evaluation path.
 *
 * Guarantees: `send` never blocks and never throws; payloads are POSTed one at a time in the
 * order sent (a receiver sees "firing" before the matching "resolved"); each try has a timeout;
 * a failed try (network error, timeout, 408, 429, 5xx) is retried up to `retries` times with
 * exponential backoff, any other answer is final; every failed try and every payload given up
 * is counted and logged with code API_SLO_WEBHOOK_FAILED. The queue is bounded: past
 * `maxQueue` the oldest payload is dropped and counted. `close` gives queued payloads up to
 * `graceMs` to go out, then stops retries and waits for the try in flight.
 */
/** The logger slice the SLO modules use: the project's Logger (transform/logger.ts) fits. */
export type SloLog = {
  info(msg: string, fields?: Record<string, unknown>): void
  warn(msg: string, fields?: Record<string, unknown>): void
  error(msg: string, fields?: Record<string, unknown>): void
}

export type WebhookOptions = { url: string; timeoutMs: number; retries: number; backoffMs: number; maxQueue?: number }
export type WebhookStats = { delivered: number; failedAttempts: number; gaveUp: number; dropped: number; queued: number }
export type WebhookSender = { send(payload: unknown): void; idle(): Promise<void>; close(graceMs?: number): Promise<void>; stats(): WebhookStats }

const RETRYABLE_STATUS = (status: number) => status === 408 || status === 429 || status >= 500

export function createWebhookSender(options: WebhookOptions, log: SloLog): WebhookSender {
  const queue: unknown[] = []
  const stats = { delivered: 0, failedAttempts: 0, gaveUp: 0, dropped: 0 }
  const closing = new AbortController()
  let worker: Promise<void> | null = null

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms)
      closing.signal.addEventListener('abort', () => { clearTimeout(timer); resolve() }, { once: true })
    })

  /** One try: 'ok', 'retry' or 'final' (a failure retrying will not fix). */
  async function attempt(body: string): Promise<{ outcome: 'ok' | 'retry' | 'final'; reason: string }> {
    try {
      const res = await fetch(options.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: AbortSignal.any([AbortSignal.timeout(options.timeoutMs), closing.signal]),
      })
      await res.arrayBuffer().catch(() => undefined)
      if (res.ok) return { outcome: 'ok', reason: '' }
      return { outcome: RETRYABLE_STATUS(res.status) ? 'retry' : 'final', reason: `HTTP ${res.status}` }
    } catch (err) {
      return { outcome: 'retry', reason: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }
    }
  }

  async function deliver(payload: unknown): Promise<void> {
    const body = JSON.stringify(payload)
    for (let i = 0; ; i++) {
      const { outcome, reason } = await attempt(body)
      if (outcome === 'ok') { stats.delivered += 1; return }
      stats.failedAttempts += 1
      const last = outcome === 'final' || i >= options.retries || closing.signal.aborted
      log.warn('SLO webhook POST failed', { code: 'API_SLO_WEBHOOK_FAILED', attempt: i + 1, reason, givingUp: last })
      if (last) { stats.gaveUp += 1; return }
      await sleep(options.backoffMs * 2 ** i)
    }
  }

  async function drain(): Promise<void> {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) await deliver(next)
    worker = null
  }

  return {
    send(payload) {
      if (closing.signal.aborted) { stats.dropped += 1; return }
      queue.push(payload)
      if (queue.length > (options.maxQueue ?? 1000)) {
        queue.shift()
        stats.dropped += 1
        log.warn('SLO webhook queue full: dropped the oldest transition', { code: 'API_SLO_WEBHOOK_FAILED', reason: 'queue full' })
      }
      worker ??= drain()
    },
    async idle() { while (worker !== null) await worker },
    async close(graceMs = 0) {
      let timer: NodeJS.Timeout | undefined
      await Promise.race([this.idle(), new Promise<void>((resolve) => { timer = setTimeout(resolve, graceMs) })])
      clearTimeout(timer)
      closing.abort()
      await this.idle()
    },
    stats: () => ({ ...stats, queued: queue.length }),
  }
}

/**
 * Prometheus metrics of one transformer instance (prom-client, text exposition format). Values
 * are read from TransformerStats when scraped, so the hot path only bumps plain counters:
 * counters follow the stats' totals (never decrease), gauges are set at scrape time, and chunk
 * insert durations are drained into the histogram. Metric names come from METRIC_NAMES.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import { METRIC_NAMES, type TransformerStats } from './stats.ts'

export type MetricsSource = { readonly stats: TransformerStats; ready(): boolean; alive?(): boolean }

/** Keeps a prom-client counter equal to a running total (only ever adds the difference). */
function follow(counter: Counter<string>, labels: Record<string, string>, total: number, seen: Map<string, number>): void {
  const key = `${(counter as unknown as { name: string }).name}${JSON.stringify(labels)}`
  const delta = total - (seen.get(key) ?? 0)
  if (delta > 0) {
    counter.inc(labels, delta)
    seen.set(key, total)
  }
}

function splitKey(key: string): { topic: string; partition: string } {
  const sep = key.lastIndexOf(':')
  return { topic: key.slice(0, sep), partition: key.slice(sep + 1) }
}

export function createTransformerMetrics(source: MetricsSource, registry = new Registry()): Registry {
  const s = () => source.stats
  const seen = new Map<string, number>()
  // The process itself (resident memory, event-loop delay, open fds and handles, GC): what an
  // operator and the chaos suite's soak watch for leaks.
  collectDefaultMetrics({ register: registry })
  let rateAt = { ms: Date.now(), events: s().eventsProcessed }

  const counter = (name: string, help: string, read: () => number) =>
    new Counter({ name, help, registers: [registry], collect() { follow(this, {}, read(), seen) } })
  counter(METRIC_NAMES.eventsProcessed, 'Valid events processed (replays after a rebalance or crash included).', () => s().eventsProcessed)
  counter(METRIC_NAMES.chunksFlushed, 'Chunks inserted and committed.', () => s().chunksFlushed)
  counter(METRIC_NAMES.rowsInserted, 'Rows inserted into ClickHouse (raw and window rows).', () => s().rowsInserted)
  counter(METRIC_NAMES.retries, 'Retries of transient failures (ClickHouse or Kafka unavailable).', () => s().retries)
  counter(METRIC_NAMES.lateEvents, 'Events that arrived after their window closed plus the allowed lateness (still counted).', () => s().lateEvents)
  new Counter({
    name: METRIC_NAMES.deadLetters,
    help: 'Messages sent to the dead-letter topic, by error code.',
    labelNames: ['code'],
    registers: [registry],
    collect() {
      for (const [code, n] of s().deadLettersByCode) follow(this, { code }, n, seen)
    },
  })
  new Gauge({
    name: METRIC_NAMES.eventsPerSecond,
    help: 'Events processed per second since the previous scrape.',
    registers: [registry],
    collect() {
      const now = Date.now()
      const events = s().eventsProcessed
      if (now > rateAt.ms) this.set(((events - rateAt.events) * 1000) / (now - rateAt.ms))
      rateAt = { ms: now, events }
    },
  })
  new Gauge({
    name: METRIC_NAMES.committedOffset,
    help: 'Next offset this instance committed, per partition.',
    labelNames: ['topic', 'partition'],
    registers: [registry],
    collect() {
      for (const [key, offset] of s().committed) this.set(splitKey(key), offset)
    },
  })
  new Gauge({
    name: METRIC_NAMES.consumerLag,
    help: "Messages the consumer group has not committed yet, per partition (refreshed every few seconds).",
    labelNames: ['topic', 'partition'],
    registers: [registry],
    collect() {
      this.reset()
      for (const [key, lag] of s().lag) this.set(splitKey(key), lag)
    },
  })
  new Gauge({
    name: METRIC_NAMES.ready,
    help: '1 while the instance makes progress (see /readyz), else 0.',
    registers: [registry],
    collect() {
      this.set(source.ready() ? 1 : 0)
    },
  })
  new Histogram({
    name: METRIC_NAMES.chunkInsertSeconds,
    help: 'Time from a chunk closing to its commit: plan, dead letters, inserts and commit, retries included.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
    collect() {
      for (const seconds of s().drainInsertSeconds()) this.observe(seconds)
    },
  })
  return registry
}

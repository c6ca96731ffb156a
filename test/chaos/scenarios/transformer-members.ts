/**
 * `diffwatch transform` processes for the fault scenarios: the environment of one consumer-group
 * member, waiting for a log line, sampling resident memory while it runs, and the group's lag.
 * Every child is tracked, so a scenario that fails half-way still ends the processes it started.
 */
import { createWriteStream, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Admin } from 'kafkajs'
import { partitionLag } from '../../../transform/kafka-io.ts'
import { spawnTransformer, type TransformerProcess } from '../../support/transformer-process.ts'
import { rssMiB, sleep, WINDOW_S } from './transformer-stream.ts'

export type MemberEnv = Record<string, string>

export function memberEnv(o: { brokers: string; prefix: string; groupId: string; database: string; dataPath?: string; url?: string; extra?: MemberEnv }): MemberEnv {
  return {
    KAFKA_BROKERS: o.brokers,
    TOPIC_PREFIX: o.prefix,
    TRANSFORM_GROUP_ID: o.groupId,
    CLICKHOUSE_DATABASE: o.database,
    ...(o.url ? { CLICKHOUSE_URL: o.url } : { CLICKHOUSE_DATA_PATH: o.dataPath ?? '' }),
    WINDOW_SECONDS: String(WINDOW_S),
    CHUNK_MAX_EVENTS: '2000',
    FLUSH_INTERVAL_MS: '200',
    SESSION_TIMEOUT_MS: '6000',
    HEARTBEAT_INTERVAL_MS: '500',
    RETRY_INITIAL_MS: '100',
    RETRY_MAX_MS: '2000',
    READY_STALL_MS: '5000',
    TRANSFORM_HTTP_PORT: '0',
    ...o.extra,
  }
}

/**
 * Children started through a tracker: each one's whole log goes to `logDir`/member-<n>.log as it
 * is written (kept with a failed scenario's scratch folder); endAll() SIGKILLs what still runs.
 */
export class Members {
  readonly all: TransformerProcess[] = []
  peakRss = 0
  #sampler: NodeJS.Timeout | null = null

  constructor(private readonly logDir: string) {
    mkdirSync(logDir, { recursive: true })
  }

  spawn(env: MemberEnv, args: string[] = []): TransformerProcess {
    const p = spawnTransformer(env, args)
    this.all.push(p)
    const log = createWriteStream(join(this.logDir, `member-${this.all.length}.log`))
    p.child.stderr!.on('data', (chunk: string) => log.write(chunk))
    p.child.once('exit', (code, signal) => log.end(`-- exited: ${signal ?? code}\n`))
    return p
  }

  /**
   * SIGTERM, then SIGKILL if the process has not exited within `graceMs`; resolves to how it
   * ended ('0' for a clean exit) and whether it had to be killed.
   */
  async terminate(p: TransformerProcess, graceMs = 30_000): Promise<{ how: string; hung: boolean }> {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM')
    const how = await Promise.race([p.exited, sleep(graceMs).then(() => null)])
    if (how !== null) return { how, hung: false }
    return { how: await p.kill('SIGKILL'), hung: true }
  }

  /** Samples every running member's RSS every `everyMs` into peakRss. */
  sampleRss(everyMs = 250): void {
    this.#sampler = setInterval(() => {
      for (const p of this.all) {
        if (p.child.exitCode !== null || p.child.signalCode !== null) continue
        void rssMiB(p.child.pid).then((mib) => {
          if (mib > this.peakRss) this.peakRss = mib
        })
      }
    }, everyMs)
    this.#sampler.unref()
  }

  async endAll(): Promise<void> {
    if (this.#sampler) clearInterval(this.#sampler)
    for (const p of this.all) {
      // a SIGSTOPped member must be continued, or SIGKILL would wait on nothing visible
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGCONT')
      await p.kill('SIGKILL')
    }
  }
}

/** True once a log line containing `needle` arrived (false if the process exited or time ran out). */
export async function waitForLine(p: TransformerProcess, needle: string, timeoutMs: number, fromLine = 0): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (linesOf(p).slice(fromLine).some((l) => l.includes(needle))) return true
    if (p.child.exitCode !== null || p.child.signalCode !== null) return false
    await sleep(25)
  }
  return false
}

/** Every log line the process wrote that is still kept (the last 400). */
export function linesOf(p: TransformerProcess): string[] {
  return p.logTail(400).split('\n').filter(Boolean)
}

/** Every log line `p` writes from now on (the tail keeps only 400). */
export function collectLines(p: TransformerProcess): string[] {
  const out: string[] = []
  let partial = ''
  p.child.stderr!.on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n')
    partial = parts.pop() ?? ''
    out.push(...parts.filter(Boolean))
  })
  return out
}

/** Total lag of the group on the topics (end offsets minus committed). */
export async function groupLag(admin: Admin, groupId: string, topics: string[]): Promise<number> {
  let n = 0
  for (const v of (await partitionLag(admin, groupId, topics)).values()) n += v
  return n
}

/** Waits until the group's lag is 0; resolves to the seconds it took. */
export async function untilCaughtUp(admin: Admin, groupId: string, topics: string[], timeoutMs: number, onWait?: (lag: number) => void): Promise<number> {
  const t0 = Date.now()
  for (;;) {
    const lag = await groupLag(admin, groupId, topics)
    if (lag === 0) return (Date.now() - t0) / 1000
    if (Date.now() - t0 > timeoutMs) throw new Error(`group ${groupId} still ${lag} messages behind after ${timeoutMs / 1000} s`)
    onWait?.(lag)
    await sleep(250)
  }
}

/** The /metrics and /readyz base URL a member logged at start-up, if it did. */
export function healthUrl(lines: string[]): string | undefined {
  for (const l of lines) {
    if (!l.includes('transformer metrics and health listening')) continue
    try {
      return (JSON.parse(l) as { url?: string }).url
    } catch {
      return undefined
    }
  }
  return undefined
}

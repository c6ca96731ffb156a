/**
 * Disk full under embedded ClickHouse: a `diffwatch transform` with embedded ClickHouse works
 * through a stream when its file-size limit (RLIMIT_FSIZE, set on the running process with
 * `prlimit --pid`) drops to 16 KiB: every file it grows past that fails with EFBIG, in the engine
 * (new parts, the part log) and in the transformer (its RowBinary spill file), which is what a
 * full disk looks like to the process (Node ignores SIGXFSZ, so writes fail rather than kill).
 * No root tricks: no mounts, no LD_PRELOAD; prlimit on one's own child works in a container.
 *
 * Expected while full: an error with a stable code in the log, /readyz 503, the process stays up
 * (no crash loop), no offset committed past what was stored. After the limit is lifted: the
 * backlog is stored exactly once, and CHECK TABLE finds every table intact.
 */
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import type { ChaosContext, ChaosRow, ChaosScenario } from '../scenario.ts'
import { createTestTopics, testKafka, uniqueName } from '../../support/kafka.ts'
import { startClickHouseProcess } from './clickhouse-process.ts'
import { corruptionProblems } from './transformer-sigkill.ts'
import { collectLines, linesOf, Members, memberEnv, untilCaughtUp, waitForLine } from './transformer-members.ts'
import { chaosSeed, checkStored, faultRowCounts, emptyTruth, produceStream, sleep, type StreamTruth } from './transformer-stream.ts'

const LIMIT_BYTES = 16 * 1024

function prlimit(pid: number, value: string): void {
  execFileSync('prlimit', ['--pid', String(pid), `--fsize=${value}`], { stdio: ['ignore', 'ignore', 'pipe'] })
}

function merge(a: StreamTruth, b: StreamTruth): StreamTruth {
  const out = emptyTruth()
  out.requests = a.requests + b.requests
  out.samples = a.samples + b.samples
  for (const t of [a, b]) {
    for (const [k, v] of t.requestWindows) {
      const w = out.requestWindows.get(k) ?? [0, 0, 0, 0]
      out.requestWindows.set(k, [w[0] + v[0], w[1] + v[1], w[2] + v[2], w[3] + v[3]])
    }
    for (const [k, v] of t.gpuWindows) out.gpuWindows.set(k, (out.gpuWindows.get(k) ?? 0) + v)
  }
  return out
}

/** Distinct `code` values of the warn/error lines in `lines`. */
function errorCodes(lines: string[]): string[] {
  const codes = new Set<string>()
  for (const l of lines) {
    if (!l.includes('"level":"warn"') && !l.includes('"level":"error"')) continue
    for (const m of l.matchAll(/\b((?:TRF|MIG)_[A-Z_]+)\b/g)) if (m[1]) codes.add(m[1])
  }
  return [...codes].sort()
}

async function run(ctx: ChaosContext): Promise<ChaosRow[]> {
  const fullS = ctx.quick ? 15 : 60
  const topics = await createTestTopics({ partitions: 2, prefix: 'chaos-disk' })
  const groupId = uniqueName('chaos-disk')
  const database = uniqueName('chaos_disk').replace('-', '_')
  const dataPath = join(ctx.workDir, 'clickhouse')
  const env = memberEnv({ brokers: ctx.kafkaBrokers, prefix: topics.prefix, groupId, database, dataPath, extra: { TRANSFORM_HTTP_HOST: '127.0.0.1' } })
  const members = new Members(join(ctx.workDir, 'logs'))
  const producer = testKafka('chaos-disk-producer').producer()
  await producer.connect()
  const problems: string[] = []
  const topicNames = [topics.topics.requests, topics.topics.gpuSamples]
  const seed = chaosSeed()
  try {
    let member = members.spawn(env, ['--migrate'])
    if (!(await waitForLine(member, 'health listening', 60_000))) throw new Error(`the member did not start:\n${member.logTail()}`)
    const health = (JSON.parse(linesOf(member).find((l) => l.includes('health listening')) ?? '{}') as { url?: string }).url
    const before = await produceStream({ producer, topics: topics.topics, seed, events: 10_000, spreadMs: 0 })
    await untilCaughtUp(topics.admin, groupId, topicNames, 60_000)
    const lines = collectLines(member)
    // soft limit only: raising a hard limit again needs CAP_SYS_RESOURCE, which a container may lack
    prlimit(member.child.pid!, `${LIMIT_BYTES}:unlimited`)
    ctx.progress(`file-size limit ${LIMIT_BYTES} B for ${fullS} s`)
    const during = await produceStream({ producer, topics: topics.topics, seed: seed + 1, events: 20_000, spreadMs: 0 })
    const fullAt = Date.now()
    let ready: number | string = 'unknown'
    while (Date.now() - fullAt < fullS * 1000) {
      if (Date.now() - fullAt > 8_000 && ready === 'unknown' && health) {
        ready = await fetch(`${health}/readyz`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.status, () => 'unreachable')
      }
      await sleep(500)
    }
    const codes = errorCodes(lines)
    const crashes = lines.filter((l) => l.includes('consumer crash')).length
    const exited = member.child.exitCode !== null || member.child.signalCode !== null
    if (exited) {
      problems.push(`the transformer exited while the disk was full (${member.child.exitCode ?? member.child.signalCode})`)
      member = members.spawn(env)
    } else prlimit(member.child.pid!, 'unlimited')
    const liftedAt = Date.now()
    const recoverS = (await untilCaughtUp(topics.admin, groupId, topicNames, 180_000, (lag) => ctx.progress(`space back, lag ${lag}`)), (Date.now() - liftedAt) / 1000)
    if (codes.length === 0) problems.push('no error code in the log while the disk was full')
    if (ready !== 503) problems.push(`/readyz answered ${ready} while the disk was full (expected 503)`)
    if (crashes > 3) problems.push(`the consumer crashed and restarted ${crashes} times in ${fullS} s (a crash loop instead of a paced retry)`)
    const { how, hung } = await members.terminate(member)
    if (hung) problems.push(`a member (${member.child.pid}) did not exit within 30 s of SIGTERM: its graceful shutdown hung (SIGKILLed)`)
    if (how !== '0') problems.push(`SIGTERM did not end the transformer cleanly (${how})`)
    const ch = await startClickHouseProcess(dataPath)
    try {
      const client = await ch.client(database)
      const stored = await checkStored(client, database, merge(before, during))
      problems.push(...(await corruptionProblems(client, database)))
      return [{
        scenario: 'clickhouse-disk-full', case: `embedded, file-size limit ${LIMIT_BYTES / 1024} KiB for ${fullS} s`, group: 'fault',
        ...(await faultRowCounts(stored, topics.admin, topics.topics.deadLetter)),
        figures: { fullS, errorCodes: codes.join(',') || 'none', readyzWhileFull: ready, consumerCrashes: crashes, recoverS: Math.round(recoverS * 10) / 10, tablesChecked: 'CHECK TABLE' },
        problems: [...problems, ...stored.problems],
      }]
    } finally {
      await ch.close()
    }
  } finally {
    await members.endAll()
    await producer.disconnect()
    await topics.cleanup()
  }
}

export const clickhouseDiskFull: ChaosScenario = {
  name: 'clickhouse-disk-full',
  group: 'fault',
  description: 'Drops the embedded-ClickHouse transformer\'s file-size limit to 16 KiB (EFBIG on every growing file) under a stream, then lifts it; a clear error, no crash loop, exactly once, intact tables.',
  run,
}

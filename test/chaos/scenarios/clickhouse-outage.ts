/**
 * ClickHouse unavailable: a `diffwatch transform` member in server mode (CLICKHOUSE_URL on the
 * ClickHouse stand-in process) works through a steady stream when ClickHouse goes away, first
 * crashing (SIGKILL) for 30 s (10 s quick), then shut down (SIGTERM) for 5 minutes (60 s quick),
 * and comes back on the same port and folder. Each case has its own topics, group and database.
 *
 * Expected: no dead letters, nothing lost or duplicated, the member stays up and not ready while
 * it cannot commit (/readyz 503), its memory stays bounded while paused (the consumer blocks on
 * the insert and fetches nothing more; it does not buffer the backlog), no offset is committed
 * during the outage, and the backlog is worked off once ClickHouse is back (seconds reported).
 */
import { join } from 'node:path'
import { migrate } from '../../../migrations/runner.ts'
import type { ChaosContext, ChaosRow, ChaosScenario } from '../scenario.ts'
import { committedOffsets, createTestTopics, testKafka, uniqueName } from '../../support/kafka.ts'
import { startClickHouseProcess, type ClickHouseProcess } from './clickhouse-process.ts'
import { checkTables } from './transformer-sigkill.ts'
import { collectLines, groupLag, healthUrl, linesOf, Members, memberEnv, untilCaughtUp, waitForLine } from './transformer-members.ts'
import { chaosSeed, checkStored, faultRowCounts, produceStream, rssMiB, sleep } from './transformer-stream.ts'

/** RSS growth while paused above which the member is taken to buffer instead of pausing. */
const RSS_BOUND_MIB = 256
/** Events per second offered during each case. */
const RATE = 1_000

type Outage = { label: string; downS: number; how: 'SIGKILL' | 'SIGTERM' }

async function readyStatus(url: string | undefined): Promise<number | string> {
  if (!url) return 'unknown'
  try {
    return (await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) })).status
  } catch {
    return 'unreachable'
  }
}

async function runOutage(ctx: ChaosContext, ch: ClickHouseProcess, o: Outage, seed: number): Promise<ChaosRow> {
  const topics = await createTestTopics({ partitions: 4, prefix: 'chaos-chdown' })
  const groupId = uniqueName('chaos-chdown')
  const database = uniqueName('chaos_chdown').replace('-', '_')
  const client = await ch.client(database)
  await migrate(client, { database })
  const members = new Members(join(ctx.workDir, 'logs'))
  const producer = testKafka('chaos-chdown-producer').producer()
  await producer.connect()
  const problems: string[] = []
  const topicNames = [topics.topics.requests, topics.topics.gpuSamples]
  try {
    const member = members.spawn(memberEnv({ brokers: ctx.kafkaBrokers, prefix: topics.prefix, groupId, database, url: ch.url, extra: { TRANSFORM_HTTP_HOST: '127.0.0.1', READY_STALL_MS: '3000' } }))
    if (!(await waitForLine(member, 'joined consumer group', 60_000)) || !(await waitForLine(member, 'health listening', 10_000))) throw new Error(`the member did not join:\n${member.logTail()}`)
    // read now: the log keeps its last 400 lines only
    const health = healthUrl(linesOf(member))
    const logged = collectLines(member)
    let stopProducing = false
    let sent = 0
    const producing = produceStream({
      producer, topics: topics.topics, seed, events: RATE * 3_600, spreadMs: 3_600_000, shouldStop: () => stopProducing, onSent: (n) => (sent = n),
    })
    // steady state first: the member keeps up with the stream
    await sleep(5_000)
    const baseline = await rssMiB(member.child.pid)
    const committedBefore = await committedOffsets(topics.admin, groupId, topics.topics.requests)
    ctx.progress(`${o.label}: ClickHouse ${o.how === 'SIGKILL' ? 'killed' : 'stopped'} for ${o.downS} s`)
    await (o.how === 'SIGKILL' ? ch.kill() : ch.stop())
    const downAt = Date.now()
    let peak = baseline
    let sawCommit = false
    let ready: number | string = 'unknown'
    let notReadyAfterS = -1
    let settled = false
    while (Date.now() - downAt < o.downS * 1000) {
      peak = Math.max(peak, await rssMiB(member.child.pid))
      // commits stop once the in-flight chunk hits the outage; give that a second to happen
      if (!settled && Date.now() - downAt > 2_000) {
        settled = true
        const at = await committedOffsets(topics.admin, groupId, topics.topics.requests)
        committedBefore.clear()
        for (const [p, off] of at) committedBefore.set(p, off)
      } else if (settled) {
        const now = await committedOffsets(topics.admin, groupId, topics.topics.requests)
        if ([...now].some(([p, off]) => off !== committedBefore.get(p))) sawCommit = true
      }
      // readiness follows progress: it must turn 503 within READY_STALL_MS (+ a lag poll) of the stall
      if (ready !== 503) {
        ready = await readyStatus(health)
        if (ready === 503) notReadyAfterS = (Date.now() - downAt) / 1000
      }
      ctx.progress(`${o.label}: down ${Math.round((Date.now() - downAt) / 1000)}/${o.downS} s, ${sent} events sent, member RSS ${Math.round(peak)} MiB`)
      await sleep(500)
    }
    const lagAtRestart = await groupLag(topics.admin, groupId, topicNames)
    await ch.start()
    const backAt = Date.now()
    // recovered: the lag is below one second of traffic again (the stream keeps flowing)
    for (;;) {
      const lag = await groupLag(topics.admin, groupId, topicNames)
      if (lag <= RATE) break
      if (Date.now() - backAt > 300_000) throw new Error(`still ${lag} behind 300 s after ClickHouse came back`)
      ctx.progress(`${o.label}: ClickHouse back, lag ${lag}`)
      await sleep(250)
    }
    const recoverS = (Date.now() - backAt) / 1000
    stopProducing = true
    const truth = await producing
    await untilCaughtUp(topics.admin, groupId, topicNames, 120_000)
    const exited = member.child.exitCode !== null || member.child.signalCode !== null
    if (exited) problems.push(`the member exited during the outage (${member.child.exitCode ?? member.child.signalCode})`)
    const { how, hung } = await members.terminate(member)
    if (hung) problems.push(`a member (${member.child.pid}) did not exit within 30 s of SIGTERM: its graceful shutdown hung (SIGKILLed)`)
    if (!exited && how !== '0') problems.push(`SIGTERM did not end the member cleanly (${how})`)
    if (peak - baseline > RSS_BOUND_MIB) problems.push(`RSS grew ${Math.round(peak - baseline)} MiB while paused (bound ${RSS_BOUND_MIB} MiB): the consumer buffers instead of pausing`)
    if (sawCommit) problems.push('offsets were committed while ClickHouse was down')
    if (ready !== 503) problems.push(`/readyz never answered 503 during the outage (last: ${ready})`)
    const retries = logged.filter((l) => l.includes('failed; retrying')).length
    // a fresh client: the first one's keep-alive sockets died with the server
    const verify = await ch.client(database)
    const stored = await checkStored(verify, database, truth)
    const corrupt = o.how === 'SIGKILL' ? await checkTables(verify, database) : []
    if (corrupt.length > 0) problems.push(`CHECK TABLE failed after the crash for ${corrupt.join(', ')}`)
    return {
      scenario: 'clickhouse-outage', case: `${o.how === 'SIGKILL' ? 'crashed' : 'stopped'} ${o.downS} s`, group: 'fault',
      ...(await faultRowCounts(stored, topics.admin, topics.topics.deadLetter)),
      figures: {
        downS: o.downS, lagAtRestart, recoverS: Math.round(recoverS * 10) / 10, baselineRssMiB: Math.round(baseline), peakRssPausedMiB: Math.round(peak),
        readyz503AfterS: notReadyAfterS, retryLogLines: retries,
      },
      problems: [...problems, ...stored.problems],
    }
  } finally {
    await members.endAll()
    await producer.disconnect()
    await topics.cleanup()
    if (!ch.running()) await ch.start()
  }
}

async function run(ctx: ChaosContext): Promise<ChaosRow[]> {
  const ch = await startClickHouseProcess(join(ctx.workDir, 'clickhouse'))
  const seed = chaosSeed()
  try {
    const rows: ChaosRow[] = []
    for (const o of (ctx.quick
      ? [{ label: 'short', downS: 10, how: 'SIGKILL' }, { label: 'long', downS: 60, how: 'SIGTERM' }]
      : [{ label: 'short', downS: 30, how: 'SIGKILL' }, { label: 'long', downS: 300, how: 'SIGTERM' }]) as Outage[]) {
      rows.push(await runOutage(ctx, ch, o, seed + rows.length))
    }
    return rows
  } finally {
    await ch.close()
  }
}

export const clickhouseOutage: ChaosScenario = {
  name: 'clickhouse-outage',
  group: 'fault',
  description: 'Takes ClickHouse (server mode) away under a steady stream: crashed for 30 s and stopped for 5 min (10 s / 60 s quick), then back; no loss, no duplicates, no dead letters, bounded memory.',
  run,
}

/**
 * Soak: one `diffwatch transform` member (server mode, on the ClickHouse stand-in) under a steady
 * stream for 30 minutes (5 quick) while ClickHouse is crashed for 5 s every 60 s. Every 5 s the
 * member's resident memory, event-loop delay (p99), open file descriptors and active handles are
 * read from its /metrics, and the group's lag from the broker.
 *
 * Expected: everything stored exactly once; between faults the member keeps up (lag below two
 * seconds of traffic by the end of each quiet period); the resources of the last third of the
 * run stay within fixed bounds of the first third's (a leak grows with time, a fault recovers);
 * every error-level log line falls within a fault (plus 30 s to recover). The samples are kept
 * in the row's figures as first-third / last-third medians and maxima.
 */
import { join } from 'node:path'
import { migrate } from '../../../migrations/runner.ts'
import type { ChaosContext, ChaosRow, ChaosScenario } from '../scenario.ts'
import { createTestTopics, testKafka, uniqueName } from '../../support/kafka.ts'
import { startClickHouseProcess } from './clickhouse-process.ts'
import { collectLines, groupLag, healthUrl, linesOf, Members, memberEnv, untilCaughtUp, waitForLine } from './transformer-members.ts'
import { chaosSeed, checkStored, faultRowCounts, produceStream, sleep } from './transformer-stream.ts'

const RATE = 1_000
const FAULT_EVERY_S = 60
const FAULT_DOWN_S = 5
const SAMPLE_EVERY_MS = 5_000
/** Allowed growth, last third over first third (medians): beyond these a resource leaks. */
const BOUNDS = { rssMiB: 96, openFds: 32, handles: 64, loopP99Ms: 250 }

type Sample = { atS: number; rssMiB: number; loopP99Ms: number; openFds: number; handles: number; lag: number; inFault: boolean }

/** Values of the unlabelled metrics we watch, from a Prometheus text exposition. */
function parseMetrics(text: string): { rssMiB: number; loopP99Ms: number; openFds: number; handles: number } {
  const value = (name: string): number => {
    const line = text.split('\n').find((l) => l.startsWith(`${name} `))
    return line === undefined ? Number.NaN : Number(line.slice(name.length + 1).split(' ')[0])
  }
  return {
    rssMiB: value('process_resident_memory_bytes') / 1_048_576,
    loopP99Ms: value('nodejs_eventloop_lag_p99_seconds') * 1000,
    openFds: value('process_open_fds'),
    handles: value('nodejs_active_handles_total'),
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? Number.NaN : s[Math.floor(s.length / 2)]!
}

async function run(ctx: ChaosContext): Promise<ChaosRow[]> {
  const durationS = ctx.quick ? 300 : 1_800
  const ch = await startClickHouseProcess(join(ctx.workDir, 'clickhouse'))
  const topics = await createTestTopics({ partitions: 4, prefix: 'chaos-soak' })
  const groupId = uniqueName('chaos-soak')
  const database = uniqueName('chaos_soak').replace('-', '_')
  await migrate(await ch.client(database), { database })
  const members = new Members(join(ctx.workDir, 'logs'))
  const producer = testKafka('chaos-soak-producer').producer()
  await producer.connect()
  const topicNames = [topics.topics.requests, topics.topics.gpuSamples]
  const problems: string[] = []
  const samples: Sample[] = []
  const faults: { fromMs: number; toMs: number }[] = []
  try {
    const member = members.spawn(memberEnv({ brokers: ctx.kafkaBrokers, prefix: topics.prefix, groupId, database, url: ch.url, extra: { TRANSFORM_HTTP_HOST: '127.0.0.1' } }))
    if (!(await waitForLine(member, 'joined consumer group', 60_000)) || !(await waitForLine(member, 'health listening', 10_000))) throw new Error(`the member did not join:\n${member.logTail()}`)
    const health = healthUrl(linesOf(member))
    if (!health) throw new Error('the member did not log its health URL')
    const logged = collectLines(member)
    let stop = false
    let sent = 0
    const producing = produceStream({ producer, topics: topics.topics, seed: chaosSeed(), events: RATE * durationS * 2, spreadMs: durationS * 2_000, shouldStop: () => stop, onSent: (n) => (sent = n) })
    const t0 = Date.now()
    let nextFaultMs = t0 + FAULT_EVERY_S * 1000
    const lagBeforeFault: number[] = []
    while (Date.now() - t0 < durationS * 1000) {
      if (Date.now() >= nextFaultMs) {
        lagBeforeFault.push(await groupLag(topics.admin, groupId, topicNames))
        const from = Date.now()
        await ch.kill()
        await sleep(FAULT_DOWN_S * 1000)
        await ch.start()
        faults.push({ fromMs: from, toMs: Date.now() })
        nextFaultMs += FAULT_EVERY_S * 1000
      }
      const text = await fetch(`${health}/metrics`, { signal: AbortSignal.timeout(3_000) }).then((r) => r.text()).catch(() => '')
      const m = parseMetrics(text)
      const atMs = Date.now()
      const inFault = faults.some((f) => atMs >= f.fromMs && atMs <= f.toMs + 30_000)
      samples.push({ atS: Math.round((atMs - t0) / 1000), ...m, lag: await groupLag(topics.admin, groupId, topicNames), inFault })
      const last = samples[samples.length - 1]!
      ctx.progress(`${last.atS}/${durationS} s, ${sent} events sent, RSS ${Math.round(last.rssMiB)} MiB, loop p99 ${Math.round(last.loopP99Ms)} ms, fds ${last.openFds}, lag ${last.lag}, faults ${faults.length}`)
      await sleep(SAMPLE_EVERY_MS)
    }
    stop = true
    const truth = await producing
    await untilCaughtUp(topics.admin, groupId, topicNames, 180_000)
    const { how, hung } = await members.terminate(member)
    if (hung || how !== '0') problems.push(`SIGTERM did not end the member cleanly (${how}${hung ? ', hung' : ''})`)

    // Flatness: quiet samples of the first and last thirds.
    const quiet = samples.filter((s) => !s.inFault && Number.isFinite(s.rssMiB))
    const third = Math.max(1, Math.floor(quiet.length / 3))
    const first = quiet.slice(0, third)
    const lastThird = quiet.slice(-third)
    const growth = (k: 'rssMiB' | 'openFds' | 'handles' | 'loopP99Ms') => median(lastThird.map((s) => s[k])) - median(first.map((s) => s[k]))
    for (const k of ['rssMiB', 'openFds', 'handles', 'loopP99Ms'] as const) {
      const g = growth(k)
      if (!Number.isFinite(g)) problems.push(`${k}: no samples (is /metrics exposing the process metrics?)`)
      else if (g > BOUNDS[k]) problems.push(`${k} grew by ${Math.round(g)} from the first to the last third (bound ${BOUNDS[k]})`)
    }
    const keptUp = lagBeforeFault.filter((lag) => lag > 2 * RATE)
    if (keptUp.length > 0) problems.push(`lag before a fault above two seconds of traffic: ${keptUp.join(', ')}`)
    // Errors must be explained by a fault (within it or the 30 s after).
    const unexplained = logged.filter((l) => {
      if (!l.includes('"level":"error"')) return false
      const at = Date.parse((JSON.parse(l) as { time: string }).time)
      return !faults.some((f) => at >= f.fromMs && at <= f.toMs + 30_000)
    })
    if (unexplained.length > 0) problems.push(`${unexplained.length} error lines outside faults, first: ${unexplained[0]!.slice(0, 200)}`)

    const stored = await checkStored(await ch.client(database), database, truth)
    const fig = (k: 'rssMiB' | 'openFds' | 'handles' | 'loopP99Ms') => `${Math.round(median(first.map((s) => s[k])))}->${Math.round(median(lastThird.map((s) => s[k])))}`
    return [{
      scenario: 'soak', case: `${durationS / 60} min at ${RATE} ev/s, ClickHouse crashed ${FAULT_DOWN_S} s every ${FAULT_EVERY_S} s`, group: 'soak',
      ...(await faultRowCounts(stored, topics.admin, topics.topics.deadLetter)),
      figures: {
        faults: faults.length, samples: samples.length, rssMiB: fig('rssMiB'), maxRssMiB: Math.round(Math.max(...quiet.map((s) => s.rssMiB))),
        loopP99Ms: fig('loopP99Ms'), maxLoopP99Ms: Math.round(Math.max(...quiet.map((s) => s.loopP99Ms))), openFds: fig('openFds'), handles: fig('handles'),
        maxLagBeforeFault: Math.max(0, ...lagBeforeFault), errorLines: logged.filter((l) => l.includes('"level":"error"')).length,
      },
      problems: [...problems, ...stored.problems],
    }]
  } finally {
    await members.endAll()
    await producer.disconnect()
    await topics.cleanup()
    await ch.close()
  }
}

export const soak: ChaosScenario = {
  name: 'soak',
  group: 'soak',
  description: 'A steady 1,000 ev/s stream for 30 min (5 quick) with ClickHouse crashed 5 s every minute: memory, event-loop delay, fds, handles and lag stay flat; every event stored once.',
  run,
}

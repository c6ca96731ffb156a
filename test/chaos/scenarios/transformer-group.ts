/**
 * Three `diffwatch transform` members of one consumer group (server mode, on the ClickHouse
 * stand-in: separate processes cannot share embedded ClickHouse) while a stream flows into six
 * partitions:
 *  1. rolling restart: each member in turn gets SIGTERM, must exit 0, and is replaced by a new
 *     process that joins the group before the next one goes;
 *  2. zombie: one member is SIGSTOPped the moment it logs an acknowledged insert (a chunk written
 *     but not committed), kept stopped for twice the session timeout (the group moves its
 *     partitions on, and another member replays that chunk), then SIGCONTed. Whatever it still
 *     had in hand must be fenced (its commit refused) or deduplicated (same chunk, same token).
 * Then every raw row and window is compared with the produced events.
 */
import { join } from 'node:path'
import { migrate } from '../../../migrations/runner.ts'
import type { ChaosContext, ChaosRow, ChaosScenario } from '../scenario.ts'
import { createTestTopics, testKafka, uniqueName } from '../../support/kafka.ts'
import type { TransformerProcess } from '../../support/transformer-process.ts'
import { startClickHouseProcess } from './clickhouse-process.ts'
import { linesOf, Members, memberEnv, untilCaughtUp, waitForLine } from './transformer-members.ts'
import { chaosSeed, checkStored, faultRowCounts, produceStream, sleep } from './transformer-stream.ts'

const SESSION_TIMEOUT_MS = 6_000

/** SIGSTOPs `p` synchronously when a log chunk holding `needle` arrives, once. */
function stopOn(p: TransformerProcess, needle: string): Promise<number> {
  return new Promise((resolve) => {
    const onData = (chunk: string) => {
      if (!chunk.includes(needle) || p.child.exitCode !== null) return
      p.child.kill('SIGSTOP')
      p.child.stderr!.off('data', onData)
      resolve(Date.now())
    }
    p.child.stderr!.on('data', onData)
  })
}

async function run(ctx: ChaosContext): Promise<ChaosRow[]> {
  const rate = ctx.quick ? 1_000 : 3_000
  const ch = await startClickHouseProcess(join(ctx.workDir, 'clickhouse'))
  const topics = await createTestTopics({ partitions: 6, prefix: 'chaos-group' })
  const groupId = uniqueName('chaos-group')
  const database = uniqueName('chaos_group').replace('-', '_')
  await migrate(await ch.client(database), { database })
  const env = memberEnv({
    brokers: ctx.kafkaBrokers, prefix: topics.prefix, groupId, database, url: ch.url,
    extra: { SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS), HEARTBEAT_INTERVAL_MS: '500', CHUNK_MAX_EVENTS: '500' },
  })
  const members = new Members(join(ctx.workDir, 'logs'))
  members.sampleRss()
  const producer = testKafka('chaos-group-producer').producer()
  await producer.connect()
  const problems: string[] = []
  const t0 = Date.now()
  try {
    let sent = 0
    let stopProducing = false
    // traffic flows until the zombie has had its say: the zombie-to-be needs inserts to make
    const producing = produceStream({
      producer, topics: topics.topics, seed: chaosSeed(), events: rate * 3_600, spreadMs: 3_600_000, onSent: (n) => (sent = n), shouldStop: () => stopProducing,
    })
    const live: TransformerProcess[] = []
    for (let i = 0; i < 3; i++) live.push(members.spawn(env))
    // a member stops gracefully on SIGTERM also during start-up (bin/commands/services.ts); the
    // wait is for all three to have joined before the restarts begin
    for (const m of live) if (!(await waitForLine(m, 'health listening', 60_000))) throw new Error(`a member did not join:\n${m.logTail()}`)
    // 1. rolling restart
    let restarts = 0
    for (let i = 0; i < 3; i++) {
      ctx.progress(`rolling restart ${i + 1}/3, ${sent} events sent`)
      const { how, hung } = await members.terminate(live[i]!)
      if (hung) problems.push(`a member (${live[i]!.child.pid}) did not exit within 30 s of SIGTERM: its graceful shutdown hung (SIGKILLed)`)
      if (how !== '0') problems.push(`member ${i + 1} did not exit cleanly on SIGTERM (${how}): ${live[i]!.logTail(3)}`)
      // the last member replaced becomes the zombie: it logs every acknowledged insert
      live[i] = members.spawn(i === 2 ? { ...env, LOG_LEVEL: 'debug' } : env)
      if (!(await waitForLine(live[i]!, 'health listening', 60_000))) throw new Error(`replacement ${i + 1} did not join:\n${live[i]!.logTail()}`)
      restarts += 1
      await sleep(2_000)
    }
    // 2. zombie
    const zombie = live[2]!
    ctx.progress('waiting for the zombie-to-be to acknowledge an insert')
    const stoppedAt = await Promise.race([stopOn(zombie, '"insert acknowledged"'), sleep(60_000).then(() => 0)])
    if (stoppedAt === 0) throw new Error(`the third member never acknowledged an insert:\n${zombie.logTail()}`)
    ctx.progress(`zombie stopped; holding it ${(2 * SESSION_TIMEOUT_MS) / 1000} s`)
    await sleep(2 * SESSION_TIMEOUT_MS)
    // what the zombie says once resumed: fenced commits, or inserts (deduplicated by token)
    let fenced = 0
    let insertsAfter = 0
    zombie.child.stderr!.on('data', (chunk: string) => {
      for (const l of chunk.split('\n')) {
        if (/lost partition ownership|TRF_FENCED|ILLEGAL_GENERATION|UNKNOWN_MEMBER_ID/.test(l)) fenced += 1
        if (l.includes('"insert acknowledged"')) insertsAfter += 1
      }
    })
    zombie.child.kill('SIGCONT')
    const stoppedS = (Date.now() - stoppedAt) / 1000
    await sleep(8_000)
    stopProducing = true
    const truth = await producing
    const catchUp = await untilCaughtUp(topics.admin, groupId, [topics.topics.requests, topics.topics.gpuSamples], 120_000, (lag) => ctx.progress(`catching up, lag ${lag}`))
    const zombieAlive = zombie.child.exitCode === null && zombie.child.signalCode === null
    let joins = 0
    for (const m of members.all) joins += linesOf(m).filter((l) => l.includes('joined consumer group')).length
    for (const m of live) {
      const { how, hung } = await members.terminate(m)
      if (hung) problems.push(`a member (${m.child.pid}) did not exit within 30 s of SIGTERM: its graceful shutdown hung (SIGKILLed)`)
      if (how !== '0') problems.push(`a member did not exit cleanly on SIGTERM at the end (${how})`)
    }
    const stored = await checkStored(await ch.client(database), database, truth)
    return [{
      scenario: 'transformer-group', case: `3 members: ${restarts} rolling restarts + zombie stopped ${Math.round(stoppedS)} s`, group: 'fault',
      ...(await faultRowCounts(stored, topics.admin, topics.topics.deadLetter)),
      figures: {
        restarts, groupJoins: joins, zombieStoppedS: Math.round(stoppedS * 10) / 10, zombieFencedLines: fenced, zombieInsertsAfterResume: insertsAfter,
        zombieAlive: zombieAlive ? 'yes' : 'no', catchUpS: Math.round(catchUp * 10) / 10,
        wallS: Math.round((Date.now() - t0) / 1000), peakRssMiB: Math.round(members.peakRss),
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

export const transformerGroup: ChaosScenario = {
  name: 'transformer-group',
  group: 'fault',
  description: 'Three members (server mode): rolling SIGTERM restarts under traffic, then one SIGSTOPped mid-chunk past the session timeout and resumed; a zombie must not write duplicates.',
  run,
}

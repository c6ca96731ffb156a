/**
 * Crash anywhere, at scale: one `diffwatch transform` (embedded ClickHouse, the default
 * deployment) is SIGKILLed 20 times at random moments while a 1 M-event stream (100 k quick)
 * flows into four partitions, restarted each time, and finally stopped with SIGTERM once the
 * group has no lag. The folder is then opened through the ClickHouse stand-in and every raw row
 * and every window is compared with the truth computed from the produced events.
 *
 * Kill moments come from a seeded generator (CHAOS_SEED replays a schedule): one kill in four
 * lands at a random moment of start-up, the others within 2 s of the member joining the group,
 * while it works through the backlog the stream keeps adding to.
 */
import { join } from 'node:path'
import type { ChaosContext, ChaosRow, ChaosScenario } from '../scenario.ts'
import { createTestTopics, testKafka, uniqueName } from '../../support/kafka.ts'
import { startClickHouseProcess } from './clickhouse-process.ts'
import { Members, memberEnv, untilCaughtUp, waitForLine } from './transformer-members.ts'
import { chaosSeed, checkStored, faultRowCounts, produceStream, seededRandom, sleep } from './transformer-stream.ts'

const KILLS = 20

async function run(ctx: ChaosContext): Promise<ChaosRow[]> {
  const events = ctx.quick ? 100_000 : 1_000_000
  const seed = chaosSeed()
  const random = seededRandom(seed)
  const topics = await createTestTopics({ partitions: 4, prefix: 'chaos-kill' })
  const groupId = uniqueName('chaos-kill')
  const database = uniqueName('chaos_kill').replace('-', '_')
  const dataPath = join(ctx.workDir, 'clickhouse')
  const env = memberEnv({
    brokers: ctx.kafkaBrokers, prefix: topics.prefix, groupId, database, dataPath,
    extra: { CHUNK_MAX_EVENTS: ctx.quick ? '1000' : '5000' },
  })
  const members = new Members(join(ctx.workDir, 'logs'))
  members.sampleRss()
  const producer = testKafka('chaos-kill-producer').producer()
  await producer.connect()
  const problems: string[] = []
  const t0 = Date.now()
  try {
    let sent = 0
    // spread over roughly the time the kills take, so most kills hit a member with work to do
    const producing = produceStream({ producer, topics: topics.topics, seed, events, spreadMs: KILLS * (ctx.quick ? 3_000 : 6_000), onSent: (n) => (sent = n) })
    let killed = 0
    for (let k = 0; k < KILLS; k++) {
      const p = members.spawn(env, k === 0 ? ['--migrate'] : [])
      if (k > 0 && random() < 0.25) await sleep(random() * 2_500)
      else if (await waitForLine(p, 'joined consumer group', 60_000)) await sleep(random() * (ctx.quick ? 1_000 : 2_000))
      const how = await p.kill('SIGKILL')
      if (how === 'SIGKILL') killed += 1
      else problems.push(`life ${k + 1} ended by itself (${how}) before its kill: ${p.logTail(3)}`)
      ctx.progress(`kill ${k + 1}/${KILLS}, ${sent}/${events} events sent`)
    }
    const truth = await producing
    const last = members.spawn(env)
    if (!(await waitForLine(last, 'transformer started', 60_000))) throw new Error(`the last member did not start:\n${last.logTail()}`)
    const catchUp = await untilCaughtUp(topics.admin, groupId, [topics.topics.requests, topics.topics.gpuSamples], 600_000, (lag) => ctx.progress(`final member catching up, lag ${lag}`))
    const { how, hung } = await members.terminate(last)
    if (hung) problems.push(`a member (${last.child.pid}) did not exit within 30 s of SIGTERM: its graceful shutdown hung (SIGKILLed)`)
    if (how !== '0') problems.push(`SIGTERM did not end the last member cleanly (${how})`)
    const wall = (Date.now() - t0) / 1000
    const ch = await startClickHouseProcess(dataPath)
    try {
      const client = await ch.client(database)
      const stored = await checkStored(client, database, truth)
      problems.push(...(await corruptionProblems(client, database)))
      return [{
        scenario: 'transformer-sigkill', case: `${killed} SIGKILLs over ${truth.requests + truth.samples} events`, group: 'fault',
        ...(await faultRowCounts(stored, topics.admin, topics.topics.deadLetter)),
        figures: { kills: killed, seed, finalCatchUpS: Math.round(catchUp * 10) / 10, wallS: Math.round(wall), peakRssMiB: Math.round(members.peakRss) },
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

/** A problem line naming the tables whose CHECK TABLE failed; none when all are intact. */
export async function corruptionProblems(client: import('@clickhouse/client').ClickHouseClient, database: string): Promise<string[]> {
  const corrupt = await checkTables(client, database)
  return corrupt.length > 0 ? [`CHECK TABLE failed for ${corrupt.join(', ')}`] : []
}

/** Tables of `database` whose CHECK TABLE does not report every part as fine. */
export async function checkTables(client: import('@clickhouse/client').ClickHouseClient, database: string): Promise<string[]> {
  const tables = await (await client.query({
    query: "SELECT name FROM system.tables WHERE database = {db:String} AND engine LIKE '%MergeTree'", query_params: { db: database }, format: 'JSONEachRow',
  })).json<{ name: string }>()
  const bad: string[] = []
  for (const { name } of tables) {
    const res = await (await client.query({ query: `CHECK TABLE ${database}.${name} SETTINGS check_query_single_value_result = 1`, format: 'JSONEachRow' })).json<{ result: number }>()
    if (res.some((r) => Number(r.result) !== 1)) bad.push(name)
  }
  return bad
}

export const transformerSigkill: ChaosScenario = {
  name: 'transformer-sigkill',
  group: 'fault',
  description: 'SIGKILLs the transformer (embedded ClickHouse) 20 times at random during a 1M-event stream (100k quick); every event and window must be stored exactly once.',
  run,
}

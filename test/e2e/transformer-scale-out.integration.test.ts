/**
 * Scale-out: three transformer members in one consumer group on six partitions write exactly the
 * windowed results one member writes for the same stream, and a member stopping mid-stream
 * (rebalance) loses and duplicates nothing.
 *
 * Embedded ClickHouse runs one engine per process, so the three members are three
 * `startTransformer` instances sharing this process and its ClickHouse client (each with its
 * own Kafka clients and group membership). The single member writes to a second database in the
 * same folder. With a ClickHouse server the members could be processes; nothing here depends
 * on sharing one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ClickHouseClient } from '@clickhouse/client'
import { openClickHouse } from '../../migrations/clickhouse.ts'
import { migrate } from '../../migrations/runner.ts'
import { createCodec } from '../../schemas/codec.ts'
import { loadTransformConfig } from '../../transform/config.ts'
import { silentLogger } from '../../transform/logger.ts'
import { startTransformer, type Transformer } from '../../transform/transformer.ts'
import { expectedRequestWindows, fleetTraffic, requestWindowMap, sendAll, storedWindowsSql } from '../support/fleet-truth.ts'
import { testKafka, uniqueName, waitForCommitted } from '../support/kafka.ts'
import { createPipelineHarness, type PipelineHarness } from '../support/pipeline.ts'

const WINDOW_S = 10

/** Every aggregate column of the windows, grouped by every key: the whole result, not a sample. */
function windowsSql(database: string): string {
  return `SELECT toUnixTimestamp(window_start) AS w, model, model_version, worker_id, pipeline, gpu_type, region, tenant, deployment,
                 sum(requests) AS requests, sum(successes) AS successes, sum(images) AS images, sum(errors) AS errors,
                 sum(err_oom) AS oom, sum(err_timeout) AS timeouts, sum(late_events) AS late,
                 round(sum(queue_ms_sum), 3) AS queue_ms, round(sum(inference_ms_sum), 3) AS inference_ms,
                 sum(queue_ms_count) AS queue_n, sum(inference_ms_count) AS inference_n
          FROM ${database}.request_windows
          GROUP BY w, model, model_version, worker_id, pipeline, gpu_type, region, tenant, deployment
          ORDER BY w, model, model_version, worker_id, pipeline, gpu_type, region, tenant, deployment`
}

describe('transformer: three members in one group equal one member', () => {
  let h: PipelineHarness
  let single: ClickHouseClient
  let singleDb: string
  const members: Transformer[] = []
  const traffic = fleetTraffic({ seed: 21, startMs: Math.floor(Date.now() / 60_000) * 60_000 - 10 * 60_000, durationMs: 120_000 })
  let leftWhileProducing = false

  beforeAll(async () => {
    h = await createPipelineHarness({ partitions: 6, env: { WINDOW_SECONDS: String(WINDOW_S), CHUNK_MAX_EVENTS: '200' } })
    singleDb = `${h.database}_one`
    single = await openClickHouse({ dataPath: h.dataPath, database: singleDb })
    await migrate(single, { database: singleDb })
    for (let i = 0; i < 3; i++) members.push(await h.startTransformer())
    const singleGroup = uniqueName('single')
    const one = await startTransformer({
      config: loadTransformConfig({ ...h.env, TRANSFORM_GROUP_ID: singleGroup, CLICKHOUSE_DATABASE: singleDb }),
      clickhouse: single,
      codec: createCodec(),
      log: silentLogger,
    })
    const producer = testKafka().producer()
    await producer.connect()
    const topic = h.kafka.topics.requests
    let producing = true
    // the fleet has only a few workers (the message keys): spread the events over all six
    // partitions instead, or a member may own only empty ones
    const spread = traffic.requestMessages.map((m, i) => ({ ...m, partition: i % 6 }))
    const sent = sendAll(producer, topic, spread, 100, 150).finally(() => (producing = false))
    // a member leaves while the group is busy: once it has committed work, and before the
    // stream ends; its partitions move to the other two
    const leaver = members[2]!
    while (leaver.stats.chunksFlushed < 2 && producing) await new Promise((r) => setTimeout(r, 20))
    leftWhileProducing = producing
    await leaver.stop()
    await sent
    await producer.disconnect()
    await waitForCommitted(h.kafka.admin, h.groupId, [topic])
    await waitForCommitted(h.kafka.admin, singleGroup, [topic])
    await one.stop()
  })
  afterAll(async () => {
    await single?.close()
    await h?.close()
  })

  it('really spread the work: every member committed chunks, and one left mid-stream', () => {
    expect(leftWhileProducing).toBe(true)
    for (const m of members) expect(m.stats.chunksFlushed).toBeGreaterThan(0)
  })

  it('stores every event exactly once despite the member leaving mid-stream', async () => {
    const [r] = await h.query<{ n: number; ids: number }>(`SELECT count() AS n, uniqExact(event_id) AS ids FROM ${h.database}.request_events`)
    expect(r).toEqual({ n: traffic.requests.length, ids: traffic.requests.length })
    expect(requestWindowMap(await h.query(storedWindowsSql(h.database).requests))).toEqual(expectedRequestWindows(traffic.requests, WINDOW_S))
  })

  it('writes exactly the windowed results of a single member', async () => {
    const three = await h.query<Record<string, unknown>>(windowsSql(h.database))
    const rs = await single.query({ query: windowsSql(singleDb), format: 'JSONEachRow' })
    const one = await rs.json<Record<string, unknown>>()
    expect(one.length).toBeGreaterThan(100)
    expect(three).toEqual(one)
  })
})

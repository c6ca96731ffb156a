/**
 * The HTTP gateway with Kafka down: two clients post NDJSON batches of request events to a real
 * gateway (HTTP on 127.0.0.1:19363, Kafka transport to the scenario's own broker on 19364) while
 * the broker is stopped for 30 s (10 s quick) and started again. A client that gets a 503 waits
 * the Retry-After it was given and posts the same batch again, until it is acknowledged.
 *
 * Expected: every 503 carries Retry-After and no 2xx; every record answered 2xx is in Kafka
 * afterwards, and every record is there exactly once (a 503'd batch that did land would show up
 * as a duplicate). Figures: 503s, the slowest 503, time from the broker's return to the first 2xx.
 */
import { createHash } from 'node:crypto'
import { buildGateway } from '../../../ingest/gateway/app.ts'
import { createKafkaTransport } from '../../../ingest/sdk/kafka-transport.ts'
import { createCodec } from '../../../schemas/codec.ts'
import type { ChaosScenario } from '../scenario.ts'
import { round, seconds, sleep } from '../support/figures.ts'
import { localKafka } from '../support/local-kafka.ts'
import { recentTraffic } from '../support/paced-sdk.ts'
import { createScenarioTopics, readTopic } from '../support/topics.ts'

const HTTP_PORT = 19363
const KAFKA_PORT = 19364
const API_KEY = 'chaos-gateway-key'

export const ingestGatewayKafkaDown: ChaosScenario = {
  name: 'ingest-gateway-kafka-down',
  group: 'fault',
  description: 'Stops Kafka under a real gateway taking NDJSON batches from two retrying clients; checks 503 + Retry-After and that every acknowledged record is in Kafka exactly once.',
  async run(ctx) {
    const outageMs = ctx.quick ? 10_000 : 30_000
    const batchSize = 50
    const kafka = localKafka({ port: KAFKA_PORT, nodes: 1 })
    ctx.progress('starting a private broker')
    await kafka.start()
    const t = await createScenarioTopics(kafka.brokers, { name: 'gw-down', partitions: 2 })
    const transport = createKafkaTransport({ brokers: kafka.brokers.split(','), clientId: 'chaos-gateway', compression: 'gzip', requestTimeoutMs: 2_000 })
    const codec = createCodec()
    const app = buildGateway({
      transport, codec, topics: t.topics,
      apiKeyHashes: [createHash('sha256').update(API_KEY).digest()],
      bodyLimitBytes: 1_048_576, limits: { maxDecompressedBytes: 8_388_608, maxRecords: 5_000 }, retryAfterSeconds: 1,
    })
    await app.listen({ host: '127.0.0.1', port: HTTP_PORT })
    const problems: string[] = []
    const stats = { ok: 0, unavailable: 0, other: 0, noRetryAfter: 0, slowest503Ms: 0, acknowledged: new Set<string>() }
    let backAt = 0
    let firstOkAfterBack = 0
    try {
      const events = recentTraffic(51, ctx.quick ? 6_000 : 20_000).requests
      const batches: string[][] = []
      for (let i = 0; i < events.length; i += batchSize) batches.push(events.slice(i, i + batchSize).map((e) => JSON.stringify(e)))
      const lines = new Map(events.map((e) => [e.event_id, 0]))
      let next = 0
      const runFor = (ms: number) => Date.now() + ms
      // Sends every batch at a pace that spreads them over the whole run, retrying 503s.
      const pacedUntil = runFor(3_000 + outageMs + 4_000)
      const client = async (): Promise<void> => {
        while (next < batches.length) {
          const index = next++
          const body = batches[index]!.join('\n')
          for (;;) {
            const started = Date.now()
            const res = await fetch(`http://127.0.0.1:${HTTP_PORT}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson', 'x-api-key': API_KEY }, body })
            const answer = (await res.json()) as { accepted?: number }
            if (res.status === 200) {
              stats.ok++
              if (answer.accepted !== batches[index]!.length) problems.push(`batch ${index}: 200 with ${answer.accepted} accepted of ${batches[index]!.length}`)
              for (const l of batches[index]!) stats.acknowledged.add((JSON.parse(l) as { event_id: string }).event_id)
              if (backAt > 0 && firstOkAfterBack === 0) firstOkAfterBack = Date.now()
              break
            }
            if (res.status === 503) {
              stats.unavailable++
              stats.slowest503Ms = Math.max(stats.slowest503Ms, Date.now() - started)
              const retryAfter = Number(res.headers.get('retry-after'))
              if (!(retryAfter > 0)) stats.noRetryAfter++
              await sleep((retryAfter > 0 ? retryAfter : 1) * 1000)
              continue
            }
            stats.other++
            problems.push(`batch ${index}: unexpected status ${res.status}`)
            break
          }
          const left = pacedUntil - Date.now()
          if (left > 0) await sleep(left / Math.max(1, (batches.length - next) / 2))
        }
      }
      const clients = [client(), client()]
      await sleep(3_000)
      ctx.progress(`Kafka down for ${outageMs / 1000} s under two posting clients`)
      const stoppedAt = Date.now()
      await kafka.stopNode(1)
      await sleep(Math.max(0, outageMs - (Date.now() - stoppedAt)))
      await kafka.startNode(1)
      backAt = Date.now()
      ctx.progress('Kafka back; clients retrying')
      await Promise.all(clients)
      const inKafka = await readTopic(kafka.brokers, t.admin, t.topics.requests)
      for (const m of inKafka) {
        const d = m.value ? codec.decode(m.value) : null
        const id = d?.ok ? (d.value as { event_id: string }).event_id : null
        if (id === null || !lines.has(id)) problems.push(`a message in Kafka is not one of the posted records (offset ${m.offset})`)
        else lines.set(id, lines.get(id)! + 1)
      }
      const missingAcked = [...stats.acknowledged].filter((id) => (lines.get(id) ?? 0) === 0).length
      if (missingAcked > 0) problems.push(`${missingAcked} records answered 200 are not in Kafka`)
      if (stats.noRetryAfter > 0) problems.push(`${stats.noRetryAfter} 503 answers without Retry-After`)
      if (stats.unavailable === 0) problems.push('no 503 was seen: the outage was not exercised')
      const counts = [...lines.values()]
      return [{
        scenario: 'ingest-gateway-kafka-down', case: `${batches.length} NDJSON batches of ${batchSize}, Kafka down ${outageMs / 1000} s`, group: 'fault',
        produced: events.length, delivered: counts.filter((c) => c > 0).length,
        lost: counts.filter((c) => c === 0).length, duplicated: counts.reduce((n, c) => n + Math.max(0, c - 1), 0),
        deadLettered: 0, expectedDeadLetters: 0,
        figures: {
          answered200: stats.ok, answered503: stats.unavailable, slowest503Ms: stats.slowest503Ms,
          firstAckAfterReturnS: firstOkAfterBack > 0 ? seconds(backAt, firstOkAfterBack) : 'none', kafkaMessages: inKafka.length,
          outageS: round(outageMs / 1000),
        },
        problems,
      }]
    } finally {
      await app.close()
      await transport.close()
      await t.cleanup().catch(() => undefined)
      await kafka.destroy().catch(() => undefined)
    }
  },
}

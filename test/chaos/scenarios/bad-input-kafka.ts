/**
 * Malformed messages on the request topic, interleaved (seeded shuffle) with valid request
 * events and GPU samples, through a real `diffwatch transform` process on the runner's broker.
 * At least 1,000 bad messages of 16 kinds (support/malformed-messages.ts): each kind is one row.
 *
 * Expected per kind: every message of it dead-lettered, with the kind's dw-error-code, and the
 * dead letter's source headers pointing back at the original offset. Expected overall: every
 * valid event stored once (raw rows by event id, window counts), the transformer still running.
 */
import { CompressionTypes } from 'kafkajs'
import { DLQ_HEADERS } from '../../../schemas/topics.ts'
import { createCodec } from '../../../schemas/codec.ts'
import type { ChaosRow, ChaosScenario } from '../scenario.ts'
import { seconds } from '../support/figures.ts'
import { MALFORMED_KINDS } from '../support/malformed-messages.ts'
import { recentTraffic } from '../support/paced-sdk.ts'
import { compareStored, storedCounts } from '../support/stored-counts.ts'
import { chaosKafka, createScenarioTopics, readTopic, waitForNoLag } from '../support/topics.ts'
import { startTransformerChild } from '../support/transformer-child.ts'
import { seededRandom } from './transformer-stream.ts'

type Outgoing = { key: string; value: Buffer | null }

export const badInputKafka: ChaosScenario = {
  name: 'bad-input-kafka',
  group: 'bad-input',
  description: 'Produces 1,000+ malformed messages of 16 kinds interleaved with valid events and checks each is dead-lettered with its code while every valid event is stored once.',
  async run(ctx) {
    const perKind = ctx.quick ? 64 : 320
    const goodCount = ctx.quick ? 3_000 : 20_000
    const codec = createCodec()
    const t = await createScenarioTopics(ctx.kafkaBrokers, { name: 'bad-kafka', partitions: 3 })
    const producer = chaosKafka(ctx.kafkaBrokers).producer({ allowAutoTopicCreation: false })
    await producer.connect()
    const transformer = startTransformerChild({ brokers: ctx.kafkaBrokers, topicPrefix: t.prefix, workDir: ctx.workDir })
    try {
      const now = Date.now()
      const traffic = recentTraffic(91, goodCount)
      const requests: Outgoing[] = traffic.requests.map((e) => ({ key: e.worker_id, value: codec.encodeRequestEvent(e) }))
      const bad: Outgoing[] = []
      for (const k of MALFORMED_KINDS) for (let i = 0; i < perKind; i++) bad.push({ key: `bad|${k.kind}|${i}`, value: k.make(i, now) })
      const random = seededRandom(7) // a reproducible interleaving
      const mixed = [...requests, ...bad]
      for (let i = mixed.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1))
        ;[mixed[i], mixed[j]] = [mixed[j]!, mixed[i]!]
      }
      ctx.progress(`producing ${bad.length} malformed and ${requests.length + traffic.samples.length} valid messages`)
      const t0 = Date.now()
      // Small batches: a batch holds at most a few 256 KiB messages, under the broker's 1 MiB limit.
      for (let at = 0; at < mixed.length; at += 50) {
        const slice = mixed.slice(at, at + 50)
        let bytes = 0
        let from = 0
        for (let i = 0; i <= slice.length; i++) {
          bytes += slice[i]?.value?.length ?? 0
          if (i === slice.length || bytes > 600_000) {
            const part = slice.slice(from, Math.max(i, from + 1))
            if (part.length > 0) await producer.send({ topic: t.topics.requests, acks: -1, compression: CompressionTypes.None, messages: part })
            from = Math.max(i, from + 1)
            bytes = 0
          }
        }
      }
      const samples = traffic.samples.map((s) => ({ key: s.gpu_uuid, value: codec.encodeGpuSample(s) }))
      for (let at = 0; at < samples.length; at += 500) await producer.send({ topic: t.topics.gpuSamples, acks: -1, messages: samples.slice(at, at + 500) })
      ctx.progress('waiting for the transformer to catch up')
      const problems: string[] = []
      await waitForNoLag(t.admin, transformer.groupId, [t.topics.requests, t.topics.gpuSamples], 20_000).catch((err: Error) => {
        problems.push(`${err.message}; transformer log: ${transformer.process.logTail(3).slice(0, 600)}`)
      })
      const catchUpS = seconds(t0)
      if (transformer.process.child.exitCode !== null) problems.push(`the transformer exited: ${transformer.process.logTail(3).slice(0, 600)}`)
      const letters = await readTopic(ctx.kafkaBrokers, t.admin, t.topics.deadLetter)
      const exit = await transformer.stop()
      if (exit !== '0') problems.push(`the transformer stopped with ${exit}; its last log lines: ${transformer.process.logTail(4).slice(0, 800)}`)
      const stored = await storedCounts(transformer)

      // Dead letters by kind, from the key we gave each bad message.
      const byKind = new Map<string, { n: number; wrongCode: Map<string, number>; badSource: number; unknown: number }>()
      let strays = 0
      for (const l of letters) {
        const key = l.key?.toString('utf8') ?? ''
        const kind = key.startsWith('bad|') ? key.split('|')[1]! : null
        const spec = MALFORMED_KINDS.find((k) => k.kind === kind)
        if (!spec) {
          strays++
          continue
        }
        const entry = byKind.get(spec.kind) ?? { n: 0, wrongCode: new Map(), badSource: 0, unknown: 0 }
        entry.n++
        const code = l.headers[DLQ_HEADERS.code] ?? '(none)'
        if (code !== spec.code) entry.wrongCode.set(code, (entry.wrongCode.get(code) ?? 0) + 1)
        if (l.headers[DLQ_HEADERS.sourceTopic] !== t.topics.requests || !/^\d+$/.test(l.headers[DLQ_HEADERS.sourceOffset] ?? '')) entry.badSource++
        byKind.set(spec.kind, entry)
      }
      const rows: ChaosRow[] = MALFORMED_KINDS.map((k) => {
        const e = byKind.get(k.kind)
        const p: string[] = []
        for (const [code, n] of e?.wrongCode ?? []) p.push(`${n} dead-lettered with ${code}, expected ${k.code}`)
        if ((e?.badSource ?? 0) > 0) p.push(`${e?.badSource} dead letters lack source topic/offset headers`)
        return {
          scenario: 'bad-input-kafka', case: k.kind, group: 'bad-input', produced: 0, delivered: 0, lost: 0, duplicated: 0,
          deadLettered: e?.n ?? 0, expectedDeadLetters: perKind, figures: { expectedCode: k.code }, problems: p,
        }
      })
      const produced = { requests: requests.length, samples: traffic.samples.length }
      const cmp = compareStored(produced, stored)
      if (strays > 0) problems.push(`${strays} valid events were dead-lettered`)
      rows.push({
        scenario: 'bad-input-kafka', case: `valid events among ${bad.length} malformed`, group: 'bad-input',
        produced: produced.requests + produced.samples, delivered: cmp.delivered, lost: cmp.lost, duplicated: cmp.duplicated,
        deadLettered: strays, expectedDeadLetters: 0,
        figures: { malformed: bad.length, kinds: MALFORMED_KINDS.length, deadLetters: letters.length, catchUpS },
        problems: [...problems, ...cmp.problems],
      })
      return rows
    } finally {
      if (transformer.process.child.exitCode === null) await transformer.process.kill('SIGKILL')
      await producer.disconnect()
      await t.cleanup().catch(() => undefined)
    }
  },
}

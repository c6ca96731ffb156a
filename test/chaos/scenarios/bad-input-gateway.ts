/**
 * Hostile bodies against a real gateway (HTTP on 127.0.0.1:19365, Kafka on the runner's broker),
 * each case a row: malformed JSON, wrong types, a 5 MiB body, 100k levels of nesting, a gzip
 * bomb, invalid UTF-8, NDJSON with good and bad lines mixed. Every request carries good records
 * where the body shape allows, so "a bad record never rejects its good neighbours" is checked too.
 *
 * Expected per case: the rejections counted from what was sent (per record in 207/422 answers,
 * one per request for whole-body errors with the status listed), every good record in Kafka
 * exactly once, no 5xx, the process alive, RSS growth under 256 MiB (sampled every 50 ms).
 */
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { createGzip } from 'node:zlib'
import { buildGateway } from '../../../ingest/gateway/app.ts'
import { createKafkaTransport } from '../../../ingest/sdk/kafka-transport.ts'
import { createCodec } from '../../../schemas/codec.ts'
import type { ChaosRow, ChaosScenario } from '../scenario.ts'
import { sampleMemory } from '../support/figures.ts'
import { recentTraffic } from '../support/paced-sdk.ts'
import { createScenarioTopics, readTopic } from '../support/topics.ts'

const HTTP_PORT = 19365
const API_KEY = 'chaos-bad-input-key'

type Sent = { body: Buffer; type: string; encoding?: string; good: string[]; bad: number; wholeStatus?: number }
/** `codes`: the error codes the rejections of the case may carry. */
type Case = { name: string; codes: string[]; requests: Sent[] }

function ndjson(lines: (string | Buffer)[]): Buffer {
  return Buffer.concat(lines.flatMap((l) => [Buffer.isBuffer(l) ? l : Buffer.from(l), Buffer.from('\n')]))
}

export function gatewayCases(quick: boolean, bomb: Buffer): Case[] {
  const reps = quick ? 20 : 100
  const events = recentTraffic(61, reps * 40).requests
  let at = 0
  const good = (): { line: string; id: string } => {
    const e = events[at++ % events.length]!
    return { line: JSON.stringify(e), id: e.event_id }
  }
  const repeat = (make: (i: number) => Sent): Sent[] => Array.from({ length: reps }, (_, i) => make(i))
  const deep = (levels: number) => `{"event_id":${'['.repeat(levels)}${']'.repeat(levels)}}`
  return [
    { name: 'malformed JSON body', codes: ['ING_GW_BAD_JSON'], requests: repeat((i) => ({ body: Buffer.from(`{"event_id": "x", ${i}`), type: 'application/json', good: [], bad: 1, wholeStatus: 400 })) },
    { name: 'wrong types beside good records', codes: ['SCH_INVALID_VALUE', 'ING_GW_NOT_AN_OBJECT'], requests: repeat((i) => {
        const g = good()
        const wrong = { ...(JSON.parse(good().line) as object), steps: 'thirty', width: i % 2 === 0 ? '1024' : null }
        return { body: Buffer.from(JSON.stringify([JSON.parse(g.line), wrong, 42, 'text', null])), type: 'application/json', good: [g.id], bad: 4 }
      }) },
    { name: 'huge body (5 MiB)', codes: ['ING_GW_TOO_LARGE'], requests: repeat(() => ({ body: Buffer.alloc(5 * 1024 * 1024, 0x20), type: 'application/json', good: [], bad: 1, wholeStatus: 413 })) },
    { name: 'deep nesting (100k levels) beside a good line', codes: ['ING_GW_INVALID'], requests: repeat(() => {
        const g = good()
        return { body: ndjson([g.line, deep(100_000)]), type: 'application/x-ndjson', good: [g.id], bad: 1 }
      }) },
    { name: 'gzip bomb (1 GiB inflated)', codes: ['ING_GW_TOO_LARGE'], requests: repeat(() => ({ body: bomb, type: 'application/json', encoding: 'gzip', good: [], bad: 1, wholeStatus: 413 })) },
    { name: 'invalid UTF-8 in one NDJSON line', codes: ['ING_GW_BAD_UTF8'], requests: repeat((i) => {
        const g = good()
        const bad = Buffer.from(good().line.replace('"model":"', `"model":"\u0001${i}`))
        bad[bad.indexOf(0x01)] = 0xff // a byte that is never valid UTF-8, inside a string value
        return { body: ndjson([g.line, bad]), type: 'application/x-ndjson', good: [g.id], bad: 1 }
      }) },
    { name: 'NDJSON with mixed good and bad lines', codes: ['ING_GW_BAD_JSON', 'ING_GW_NOT_AN_OBJECT', 'SCH_INVALID_VALUE'], requests: repeat(() => {
        const a = good()
        const b = good()
        const c = good()
        return { body: ndjson([a.line, '{"event_id":', b.line, '[1,2]', '{"model": 7}', c.line, 'null']), type: 'application/x-ndjson', good: [a.id, b.id, c.id], bad: 4 }
      }) },
  ]
}

/** `inflatedMiB` MiB of spaces gzipped, streamed so that the bomb is never whole in memory. */
export async function gzipBomb(inflatedMiB: number): Promise<Buffer> {
  const gz = createGzip({ level: 9 })
  const out: Buffer[] = []
  gz.on('data', (b: Buffer) => out.push(b))
  const block = Buffer.alloc(1024 * 1024, 0x20)
  for (let i = 0; i < inflatedMiB; i++) if (!gz.write(block)) await once(gz, 'drain')
  gz.end()
  await once(gz, 'end')
  return Buffer.concat(out)
}

export const badInputGateway: ChaosScenario = {
  name: 'bad-input-gateway',
  group: 'bad-input',
  description: 'Posts malformed, mistyped, huge, deeply nested, gzip-bomb, invalid-UTF-8 and mixed NDJSON bodies to a real gateway; checks per-record errors, good records delivered once, bounded memory.',
  async run(ctx) {
    const t = await createScenarioTopics(ctx.kafkaBrokers, { name: 'bad-gw', partitions: 2 })
    const transport = createKafkaTransport({ brokers: ctx.kafkaBrokers.split(','), clientId: 'chaos-bad-gateway', compression: 'gzip' })
    const codec = createCodec()
    const app = buildGateway({
      transport, codec, topics: t.topics, apiKeyHashes: [createHash('sha256').update(API_KEY).digest()],
      bodyLimitBytes: 1_048_576, limits: { maxDecompressedBytes: 8_388_608, maxRecords: 5_000 }, retryAfterSeconds: 1,
    })
    await app.listen({ host: '127.0.0.1', port: HTTP_PORT })
    const rows: ChaosRow[] = []
    try {
      const cases = gatewayCases(ctx.quick, await gzipBomb(1024))
      const results: { c: Case; rejected: number; problems: string[]; fiveHundreds: number; peakRssGrowthMiB: number }[] = []
      for (const c of cases) {
        ctx.progress(c.name)
        const mem = sampleMemory()
        const problems: string[] = []
        let rejected = 0
        let fiveHundreds = 0
        for (const [i, r] of c.requests.entries()) {
          const headers: Record<string, string> = { 'content-type': r.type, 'x-api-key': API_KEY }
          if (r.encoding) headers['content-encoding'] = r.encoding
          const res = await fetch(`http://127.0.0.1:${HTTP_PORT}/v1/events`, { method: 'POST', headers, body: r.body })
          const answer = (await res.json().catch(() => ({}))) as { accepted?: number; rejected?: number; code?: string; results?: { code?: string; reason?: string }[] }
          const codes = [answer.code, ...(answer.results ?? []).map((x) => x.code)].filter((x): x is string => x !== undefined)
          for (const code of codes) if (!c.codes.includes(code) && problems.length < 3) problems.push(`request ${i}: code ${code}, expected one of ${c.codes.join(', ')} (${JSON.stringify(answer).slice(0, 160)})`)
          if (res.status >= 500) fiveHundreds++
          if (r.wholeStatus !== undefined) {
            if (res.status === r.wholeStatus) rejected++
            else if (i === 0 || problems.length < 3) problems.push(`request ${i}: ${res.status} ${answer.code ?? ''}, expected ${r.wholeStatus}`)
            continue
          }
          rejected += answer.rejected ?? 0
          if (answer.accepted !== r.good.length && problems.length < 3) problems.push(`request ${i}: ${res.status}, ${answer.accepted} accepted, expected ${r.good.length} (${JSON.stringify(answer).slice(0, 200)})`)
        }
        const m = mem.stop()
        results.push({ c, rejected, problems, fiveHundreds, peakRssGrowthMiB: Math.round(m.peakRssMiB - m.startRssMiB) })
      }
      const inKafka = await readTopic(ctx.kafkaBrokers, t.admin, t.topics.requests)
      const counts = new Map<string, number>()
      for (const m of inKafka) {
        const d = m.value ? codec.decode(m.value) : null
        const id = d?.ok ? (d.value as { event_id: string }).event_id : `(undecodable at ${m.offset})`
        counts.set(id, (counts.get(id) ?? 0) + 1)
      }
      const allGood = new Set(results.flatMap((r) => r.c.requests.flatMap((q) => q.good)))
      const strays = [...counts.keys()].filter((id) => !allGood.has(id)).length
      for (const r of results) {
        const goodIds = r.c.requests.flatMap((q) => q.good)
        const found = goodIds.filter((id) => (counts.get(id) ?? 0) > 0).length
        const problems = [...r.problems]
        if (r.fiveHundreds > 0) problems.push(`${r.fiveHundreds} answers were 5xx`)
        if (r.peakRssGrowthMiB > 256) problems.push(`RSS grew by ${r.peakRssGrowthMiB} MiB during the case`)
        rows.push({
          scenario: 'bad-input-gateway', case: r.c.name, group: 'bad-input',
          produced: goodIds.length, delivered: found, lost: goodIds.length - found,
          duplicated: goodIds.reduce((n, id) => n + Math.max(0, (counts.get(id) ?? 0) - 1), 0),
          deadLettered: r.rejected, expectedDeadLetters: r.c.requests.reduce((n, q) => n + q.bad, 0),
          figures: { requests: r.c.requests.length, peakRssGrowthMiB: r.peakRssGrowthMiB, http5xx: r.fiveHundreds },
          problems,
        })
      }
      if (strays > 0) rows[rows.length - 1]!.problems.push(`${strays} records in Kafka that no request sent as good`)
      return rows
    } finally {
      await app.close()
      await transport.close()
      await t.cleanup().catch(() => undefined)
    }
  },
}

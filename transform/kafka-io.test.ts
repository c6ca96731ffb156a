/**
 * classifyKafkaError on the shapes kafkajs really throws. Regression: a zombie's refused commit
 * (UNKNOWN_MEMBER_ID) reaches us wrapped in KafkaJSNonRetriableError by kafkajs' retrier, and was
 * classified as a permanent Kafka error instead of a fence (found by `npm run chaos`,
 * transformer-group).
 */
import { describe, expect, it } from 'vitest'
import { KafkaJSConnectionError, KafkaJSNonRetriableError, KafkaJSProtocolError, type Consumer } from 'kafkajs'
import { encodePlan } from './chunk-planner.ts'
import { classifyKafkaError, CommitWitness, commitNext, deadLetterMessages, deadLetterRequests, DLQ_MAX_VALUE_BYTES, fenceError, recordPlan, rejoinError } from './kafka-io.ts'

// kafkajs' typings omit the options argument its retrier passes ({ cause })
const NonRetriable = KafkaJSNonRetriableError as unknown as new (e: Error, o: { cause: Error }) => Error
const protocolError = (type: string, retriable: boolean) =>
  new KafkaJSProtocolError({ message: `broker says ${type}`, type, code: 0, retriable } as unknown as Error)

describe('classifyKafkaError', () => {
  it('a fencing error wrapped by kafkajs\' retrier is still a fence', () => {
    const inner = protocolError('UNKNOWN_MEMBER_ID', false)
    const wrapped = new NonRetriable(inner, { cause: inner })
    const e = classifyKafkaError(wrapped)
    expect(e.code).toBe('TRF_FENCED')
    expect(e.retryable).toBe(false)
    expect(e.message).toContain('UNKNOWN_MEMBER_ID')
  })

  it('every fencing type, bare or wrapped, is a fence', () => {
    for (const type of ['ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'REBALANCE_IN_PROGRESS', 'FENCED_INSTANCE_ID']) {
      const bare = protocolError(type, type === 'REBALANCE_IN_PROGRESS')
      expect(classifyKafkaError(bare).code).toBe('TRF_FENCED')
      expect(classifyKafkaError(new NonRetriable(bare, { cause: bare })).code).toBe('TRF_FENCED')
    }
  })

  it('an unreachable broker stays retryable and a permanent protocol error stays permanent', () => {
    expect(classifyKafkaError(new KafkaJSConnectionError('connect ECONNREFUSED'))).toMatchObject({ code: 'TRF_KAFKA_UNAVAILABLE', retryable: true })
    const denied = protocolError('TOPIC_AUTHORIZATION_FAILED', false)
    expect(classifyKafkaError(new NonRetriable(denied, { cause: denied }))).toMatchObject({ code: 'TRF_KAFKA_ERROR', retryable: false })
  })

  it('fenceError digs out the protocol error kafkajs re-joins on, from our own TRF_FENCED too', () => {
    // regression: the transformer rethrew the wrapper, kafkajs did not see a rebalance in it and
    // crashed the consumer for good (chaos suite, transformer-group rolling restart)
    const inner = protocolError('ILLEGAL_GENERATION', false)
    const fenced = classifyKafkaError(new NonRetriable(inner, { cause: inner }))
    expect(fenceError(fenced)).toBe(inner)
    expect((fenceError(fenced) as unknown as { type: string }).type).toBe('ILLEGAL_GENERATION')
    expect(fenceError(new KafkaJSConnectionError('down'))).toBeUndefined()
  })

  it('rejoinError is what kafkajs\' runner re-joins on without dropping the member id', () => {
    // kafkajs' isRebalancing(): type REBALANCE_IN_PROGRESS -> joinAndSync() with the same id
    const inner = protocolError('UNKNOWN_MEMBER_ID', false)
    const e = rejoinError(classifyKafkaError(new NonRetriable(inner, { cause: inner })))
    expect((e as unknown as { type: string }).type).toBe('REBALANCE_IN_PROGRESS')
    expect(e.message).toContain('UNKNOWN_MEMBER_ID')
  })
})

describe('dead letters stay under the broker message limit', () => {
  const dl = (i: number, bytes: number) => ({ key: null, value: Buffer.alloc(bytes, i), code: 'SCH_UNDECODABLE', reason: 'r', sourceTopic: 't', sourcePartition: 0, sourceOffset: i })

  it('cuts an oversized value and says how long it was', () => {
    const [m] = deadLetterMessages([dl(1, 3 * DLQ_MAX_VALUE_BYTES)])
    expect(m!.value!.length).toBe(DLQ_MAX_VALUE_BYTES)
    expect(m!.headers['dw-truncated-from']).toBe(String(3 * DLQ_MAX_VALUE_BYTES))
    const [small] = deadLetterMessages([dl(2, 100)])
    expect(small!.value!.length).toBe(100)
    expect(small!.headers['dw-truncated-from']).toBeUndefined()
  })

  it('splits into requests of at most 512 KiB, keeping order and every record', () => {
    const records = Array.from({ length: 9 }, (_, i) => dl(i, 200 * 1024))
    const requests = deadLetterRequests(deadLetterMessages(records))
    expect(requests.flat().map((m) => m.headers['dw-source-offset'])).toEqual(records.map((r) => String(r.sourceOffset)))
    for (const r of requests) expect(r.reduce((n, m) => n + m.value!.length, 0)).toBeLessThanOrEqual(512 * 1024)
    expect(requests.length).toBe(5) // two 200 KiB values per request
    expect(deadLetterRequests(deadLetterMessages([dl(0, 10)]))).toHaveLength(1)
  })
})

describe('CommitWitness', () => {
  /** A consumer whose commitOffsets either commits (and says so, as kafkajs does) or, like kafkajs between a crash and its restart, silently does nothing. */
  function fakeConsumer() {
    const listeners: ((e: { payload: { topics: { topic: string; partitions: { partition: number; offset: string }[] }[] } }) => void)[] = []
    const state = { running: true, commits: [] as string[] }
    const consumer = {
      events: { COMMIT_OFFSETS: 'consumer.commit_offsets' },
      on: (_: string, l: (typeof listeners)[number]) => listeners.push(l),
      commitOffsets: async (offsets: { topic: string; partition: number; offset: string; metadata?: string | null }[]) => {
        if (!state.running) return
        for (const o of offsets) state.commits.push(`${o.topic}/${o.partition}@${o.offset}:${o.metadata ?? ''}`)
        for (const l of listeners) l({ payload: { topics: offsets.map((o) => ({ topic: o.topic, partitions: [{ partition: o.partition, offset: o.offset }] })) } })
      },
    }
    return { consumer: consumer as unknown as Consumer, state }
  }

  it('passes a commit kafkajs sent, and fences (TRF_FENCED, not retried) one it silently dropped', async () => {
    const { consumer, state } = fakeConsumer()
    const witness = new CommitWitness(consumer)
    await recordPlan(witness, 't', 2, { start: 10, end: 19 })
    await commitNext(witness, 't', 2, 20)
    state.running = false
    await expect(commitNext(witness, 't', 2, 30)).rejects.toMatchObject({ code: 'TRF_FENCED', retryable: false })
    state.running = true
    await commitNext(witness, 't', 2, 30)
    expect(state.commits).toEqual(['t/2@10:' + encodePlan({ start: 10, end: 19 }), 't/2@20:', 't/2@30:'])
  })
})

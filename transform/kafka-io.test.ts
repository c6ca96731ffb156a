/**
 * classifyKafkaError on the shapes kafkajs really throws. Regression: a zombie's refused commit
 * (UNKNOWN_MEMBER_ID) reaches us wrapped in KafkaJSNonRetriableError by kafkajs' retrier, and was
 * classified as a permanent Kafka error instead of a fence (found by `npm run chaos`,
 * transformer-group).
 */
import { describe, expect, it } from 'vitest'
import { KafkaJSConnectionError, KafkaJSNonRetriableError, KafkaJSProtocolError, type Consumer } from 'kafkajs'
import { encodePlan } from './chunk-planner.ts'
import { classifyCommitError, classifyKafkaError, CommitWitness, commitNext, deadLetterMessages, deadLetterRequests, DLQ_MAX_VALUE_BYTES, fenceError, groupSession, recordPlan, rejoinError, type CommitRequest, type GroupSession } from './kafka-io.ts'

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
  /** A session that commits (and says so, as kafkajs does) or sends nothing at all, like kafkajs' consumer.commitOffsets between a crash and its restart. */
  function fakeSession() {
    const listeners: ((e: { payload: CommitRequest }) => void)[] = []
    const state = { sends: true, commits: [] as string[] }
    const consumer = { events: { COMMIT_OFFSETS: 'consumer.commit_offsets' }, on: (_: string, l: (typeof listeners)[number]) => listeners.push(l) }
    const session: GroupSession = {
      commit: async (offsets) => {
        if (!state.sends) return
        for (const t of offsets.topics) for (const p of t.partitions) state.commits.push(`${t.topic}/${p.partition}@${p.offset}:${p.metadata ?? ''}`)
        for (const l of listeners) l({ payload: offsets })
      },
      heartbeat: async () => undefined,
    }
    return { consumer: consumer as unknown as Consumer, session, state }
  }

  it('passes a commit kafkajs sent, and fences (TRF_FENCED, not retried) one it silently dropped', async () => {
    const { consumer, session, state } = fakeSession()
    const witness = new CommitWitness(consumer)
    await recordPlan(witness, session, 't', 2, { start: 10, end: 19 })
    await commitNext(witness, session, 't', 2, 20)
    state.sends = false
    await expect(commitNext(witness, session, 't', 2, 30)).rejects.toMatchObject({ code: 'TRF_FENCED', retryable: false })
    state.sends = true
    await commitNext(witness, session, 't', 2, 30)
    expect(state.commits).toEqual(['t/2@10:' + encodePlan({ start: 10, end: 19 }), 't/2@20:', 't/2@30:'])
  })
})

describe('groupSession', () => {
  it("commits through the batch's own consumer group and heartbeats only while its runner runs", async () => {
    const calls: string[] = []
    let running = true
    const session = groupSession({
      commitOffsetsIfNecessary: async (offsets) => { calls.push(`commit ${JSON.stringify(offsets)}`) },
      heartbeat: async () => { calls.push('heartbeat') },
      isRunning: () => running,
    })
    await session.heartbeat()
    await session.commit({ topics: [{ topic: 't', partitions: [{ partition: 1, offset: '5', metadata: 'm' }] }] })
    running = false
    await session.heartbeat() // a stopped runner's member must not be kept alive
    expect(calls).toEqual(['heartbeat', 'commit {"topics":[{"topic":"t","partitions":[{"partition":1,"offset":"5","metadata":"m"}]}]}'])
  })
})

describe('classifyCommitError', () => {
  it('fences a commit whose coordinator moved, so the member re-joins and looks it up again', () => {
    for (const type of ['NOT_COORDINATOR_FOR_GROUP', 'GROUP_COORDINATOR_NOT_AVAILABLE']) {
      const e = Object.assign(new Error('This is not the correct coordinator for this group'), { type, retriable: true })
      expect(classifyCommitError(e)).toMatchObject({ code: 'TRF_FENCED' })
      expect(classifyKafkaError(e)).toMatchObject({ code: 'TRF_KAFKA_UNAVAILABLE', retryable: true }) // elsewhere: retried
    }
    const gone = Object.assign(new Error('Broker 1 not found in the cached metadata'), { name: 'KafkaJSBrokerNotFound', retriable: true })
    expect(classifyCommitError(gone)).toMatchObject({ code: 'TRF_FENCED' })
    const refused = Object.assign(new Error('Connection error: connect ECONNREFUSED'), { name: 'KafkaJSConnectionError' })
    expect(classifyCommitError(refused)).toMatchObject({ code: 'TRF_KAFKA_UNAVAILABLE', retryable: true })
    // a fenced commit still re-joins through rejoinError's rebalance type
    expect((rejoinError(classifyCommitError(gone)) as unknown as { type: string }).type).toBe('REBALANCE_IN_PROGRESS')
  })
})

import { describe, expect, it } from 'vitest'
import { DiffwatchError } from '../schemas/errors.ts'
import { dedupToken, flushChunk, type ClosedChunk, type FlushPorts } from './flush-protocol.ts'
import { withRetry } from './retry.ts'

function recordingPorts(failures: Record<string, number> = {}): { ports: FlushPorts; calls: string[] } {
  const calls: string[] = []
  const left = { ...failures }
  const step = (name: string) => {
    if ((left[name] ?? 0) > 0) {
      left[name]! -= 1
      calls.push(`${name}:fail`)
      throw new DiffwatchError('TRF_TEST_UNAVAILABLE', `${name} down`, { retryable: true })
    }
    calls.push(name)
  }
  const ports: FlushPorts = {
    recordPlan: async (t, p, plan) => step(`plan ${t}/${p} ${plan.start}-${plan.end}`),
    sendDeadLetters: async (r) => step(`dlq ${r.length}`),
    insert: async (w, token) => step(`insert ${w.table} ${w.rows.length} ${token}`),
    commit: async (t, p, next) => step(`commit ${t}/${p} ${next}`),
    retry: (_s, fn) => withRetry(fn, { initialMs: 1, maxMs: 2, isRetryable: (e) => e instanceof DiffwatchError && e.retryable }),
  }
  return { ports, calls }
}

const chunk: ClosedChunk = {
  topic: 'req',
  partition: 3,
  plan: { start: 100, end: 199 },
  writes: [
    { table: 'db.raw', columns: ['a'], rows: [[1], [2]] },
    { table: 'db.win', columns: ['a'], rows: [[3]] },
    { table: 'db.empty', columns: ['a'], rows: [] },
  ],
  deadLetters: [{ key: null, value: Buffer.from([1]), code: 'SCH_BAD_MAGIC', reason: 'x', sourceTopic: 'req', sourcePartition: 3, sourceOffset: 150 }],
}

describe('flushChunk', () => {
  it('records the plan, dead-letters, inserts with range tokens, then commits end + 1, in that order', async () => {
    const { ports, calls } = recordingPorts()
    await flushChunk(chunk, ports, 2)
    expect(calls).toEqual([
      'plan req/3 100-199',
      'dlq 1',
      'insert db.raw 2 v2:db.raw:req:3:100-199',
      'insert db.win 1 v2:db.win:req:3:100-199',
      'commit req/3 200',
    ])
  })

  it('retries a transient insert failure with the same token and commits only after it succeeded', async () => {
    const { ports, calls } = recordingPorts({ 'insert db.win 1 v1:db.win:req:3:100-199': 2 })
    await flushChunk(chunk, ports, 1)
    expect(calls.slice(2)).toEqual([
      'insert db.raw 2 v1:db.raw:req:3:100-199',
      'insert db.win 1 v1:db.win:req:3:100-199:fail',
      'insert db.win 1 v1:db.win:req:3:100-199:fail',
      'insert db.win 1 v1:db.win:req:3:100-199',
      'commit req/3 200',
    ])
  })

  it('never commits when an insert fails permanently', async () => {
    const { ports, calls } = recordingPorts()
    ports.insert = async () => { throw new DiffwatchError('TRF_TEST_BROKEN', 'broken', { retryable: false }) }
    await expect(flushChunk(chunk, ports, 1)).rejects.toThrow('broken')
    expect(calls.some((c) => c.startsWith('commit'))).toBe(false)
  })

  it('builds tokens from version, table, topic, partition and range', () => {
    expect(dedupToken(3, 't', 'topic', 0, { start: 5, end: 9 })).toBe('v3:t:topic:0:5-9')
  })
})

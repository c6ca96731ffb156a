import { describe, expect, it } from 'vitest'
import { FlushPipeline } from './flush-pipeline.ts'

/** A job that finishes when the test says so, recording when it started and ended. */
function gate(log: string[], name: string) {
  let open!: () => void
  let fail!: (e: unknown) => void
  const done = new Promise<void>((resolve, reject) => { open = resolve; fail = reject })
  const job = async () => {
    log.push(`start ${name}`)
    await done
    log.push(`end ${name}`)
  }
  return { job, open, fail }
}

const tick = () => new Promise((r) => setImmediate(r))

describe('FlushPipeline', () => {
  it('writes the chunks of one partition one at a time, in order, and other partitions alongside', async () => {
    const log: string[] = []
    const p = new FlushPipeline(8, () => undefined)
    const a1 = gate(log, 'a1'), a2 = gate(log, 'a2'), b1 = gate(log, 'b1')
    await p.submit('t:0', 0, a1.job)
    await p.submit('t:0', 10, a2.job)
    await p.submit('t:1', 0, b1.job)
    await tick()
    expect(log).toEqual(['start a1', 'start b1'])
    a2.open(); b1.open(); a1.open()
    await p.drain()
    expect(log).toHaveLength(6)
    expect(log.indexOf('start a2')).toBeGreaterThan(log.indexOf('end a1'))
    expect(log.indexOf('start b1')).toBeLessThan(log.indexOf('end a1'))
    expect(p.pending).toBe(0)
  })

  it('holds submit until a slot is free (at most maxInFlight chunks queued or writing)', async () => {
    const log: string[] = []
    const p = new FlushPipeline(2, () => undefined)
    const g = [gate(log, '0'), gate(log, '1'), gate(log, '2')]
    await p.submit('t:0', 0, g[0]!.job)
    await p.submit('t:1', 0, g[1]!.job)
    let third = false
    const submitted = p.submit('t:2', 0, g[2]!.job).then(() => { third = true })
    await tick()
    expect(third).toBe(false)
    expect(p.pending).toBe(2)
    g[1]!.open()
    await submitted
    expect(third).toBe(true)
    g[0]!.open(); g[2]!.open()
    await p.drain()
    expect(log.filter((l) => l.startsWith('end')).sort()).toEqual(['end 0', 'end 1', 'end 2'])
  })

  it('after a failure skips the later chunks of that partition, lets others finish, and hands over the failure once', async () => {
    const log: string[] = []
    const p = new FlushPipeline(8, () => undefined)
    const a1 = gate(log, 'a1'), a2 = gate(log, 'a2'), b1 = gate(log, 'b1')
    await p.submit('t:0', 100, a1.job)
    await p.submit('t:0', 200, a2.job)
    await p.submit('t:1', 50, b1.job)
    const boom = new Error('insert refused')
    a1.fail(boom)
    await tick()
    expect(p.failed).toMatchObject([{ error: boom, partitionKey: 't:0', restartOffset: 100 }])
    let taken: unknown = null
    const take = p.takeFailures().then((f) => { taken = f })
    await tick()
    expect(taken).toBeNull() // waits for b1 to settle
    b1.open()
    await take
    expect(taken).toEqual([{ error: boom, partitionKey: 't:0', restartOffset: 100 }])
    expect(log).not.toContain('start a2')
    expect(log).toContain('end b1')
    expect(await p.takeFailures()).toEqual([])
    expect(p.failed).toEqual([])
  })

  it('does not write a chunk submitted after its partition failed and the queue emptied, until the failure is taken', async () => {
    // The lost-events case: chunk 36-39 fenced, its queue empty again, chunk 40-41 must not land.
    const written: string[] = []
    const p = new FlushPipeline(8, () => undefined)
    const fenced = new Error('fenced')
    await p.submit('t:1', 36, async () => { throw fenced })
    await p.drain()
    await p.submit('t:1', 40, async () => { written.push('40-41') })
    await p.submit('t:2', 7, async () => { written.push('t:2 7-9') })
    await p.drain()
    expect(written).toEqual(['t:2 7-9'])
    expect(p.failed).toEqual([{ error: fenced, partitionKey: 't:1', restartOffset: 36 }])
    expect(await p.takeFailures()).toEqual([{ error: fenced, partitionKey: 't:1', restartOffset: 36 }])
    await p.submit('t:1', 36, async () => { written.push('36-39') }) // read again from 36 after the seek
    await p.drain()
    expect(written).toEqual(['t:2 7-9', '36-39'])
  })

  it('keeps the first failure of every partition, so each is read again from its own chunk', async () => {
    const p = new FlushPipeline(8, () => undefined)
    const e1 = new Error('a'), e2 = new Error('b')
    await p.submit('t:0', 10, async () => { throw e1 })
    await p.submit('t:1', 20, async () => { throw e2 })
    await p.submit('t:0', 30, async () => undefined)
    await p.drain()
    expect(await p.takeFailures()).toEqual([
      { error: e1, partitionKey: 't:0', restartOffset: 10 },
      { error: e2, partitionKey: 't:1', restartOffset: 20 },
    ])
  })

  it('reports failures of an earlier generation to the callback instead of failing the loop', async () => {
    const stale: unknown[] = []
    const p = new FlushPipeline(4, (e) => stale.push(e))
    const log: string[] = []
    const a = gate(log, 'a')
    await p.submit('t:0', 0, a.job)
    p.newGeneration()
    const fenced = new Error('fenced')
    a.fail(fenced)
    await p.drain()
    expect(stale).toEqual([fenced])
    expect(p.failed).toEqual([])
  })

  it('rejects a bound below one', () => {
    expect(() => new FlushPipeline(0, () => undefined)).toThrow(RangeError)
  })
})

describe('FlushPipeline across a re-join', () => {
  it('drops a failure recorded before the new generation (reported as stale, not raised)', async () => {
    const stale: unknown[] = []
    const p = new FlushPipeline(4, (e) => stale.push(e))
    const fenced = new Error('UNKNOWN_MEMBER_ID')
    await p.submit('t:0', 5, async () => { throw fenced })
    await p.drain()
    expect(p.failed).toHaveLength(1)
    p.newGeneration()
    expect(p.failed).toEqual([])
    expect(stale).toEqual([fenced])
    expect(await p.takeFailures()).toEqual([])
  })
})

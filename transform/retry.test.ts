import { describe, expect, it } from 'vitest'
import { DiffwatchError } from '../schemas/errors.ts'
import { withKeepAlive, withRetry } from './retry.ts'

describe('withKeepAlive', () => {
  it('calls keepAlive while the work runs, and stops when it ends', async () => {
    let beats = 0
    const result = await withKeepAlive(() => new Promise<string>((r) => setTimeout(() => r('done'), 260)), async () => { beats += 1 }, 50)
    const atEnd = beats
    await new Promise((r) => setTimeout(r, 120))
    expect(result).toBe('done')
    // 260 ms of work at a 50 ms interval: 5 beats, give or take a timer tick
    expect(atEnd).toBeGreaterThanOrEqual(4)
    expect(atEnd).toBeLessThanOrEqual(5)
    expect(beats).toBe(atEnd)
  })

  it('ignores keepAlive failures and passes the work failure through', async () => {
    const failing = withKeepAlive(async () => {
      await new Promise((r) => setTimeout(r, 80))
      throw new Error('insert failed')
    }, async () => { throw new Error('rebalancing') }, 20)
    await expect(failing).rejects.toThrow('insert failed')
  })
})

describe('withRetry', () => {
  it('retries retryable failures until the step works, counting each retry', async () => {
    let calls = 0
    const retries: number[] = []
    const out = await withRetry(async () => {
      calls += 1
      if (calls < 4) throw new DiffwatchError('TRF_TEST_DOWN', 'down', { retryable: true })
      return calls
    }, { initialMs: 1, maxMs: 4, isRetryable: (e) => (e as DiffwatchError).retryable, onRetry: (_e, attempt) => retries.push(attempt) })
    expect(out).toBe(4)
    expect(retries).toEqual([1, 2, 3])
  })

  it('rethrows a permanent failure at once', async () => {
    let calls = 0
    const step = withRetry(async () => {
      calls += 1
      throw new DiffwatchError('TRF_TEST_BAD', 'bad')
    }, { initialMs: 1, maxMs: 4, isRetryable: (e) => (e as DiffwatchError).retryable })
    await expect(step).rejects.toThrow('bad')
    expect(calls).toBe(1)
  })
})

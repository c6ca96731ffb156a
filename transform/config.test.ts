import { describe, expect, it } from 'vitest'
import { loadTransformConfig } from './config.ts'

describe('transformer configuration', () => {
  it('keeps insert deduplication on unless explicitly turned off (diagnostic knob)', () => {
    expect(loadTransformConfig({}).TRANSFORM_INSERT_DEDUP).toBe(true)
    expect(loadTransformConfig({ TRANSFORM_INSERT_DEDUP: 'false' }).TRANSFORM_INSERT_DEDUP).toBe(false)
  })

  it('serves metrics on 9464 by default and accepts 0 (any free port)', () => {
    expect(loadTransformConfig({}).TRANSFORM_HTTP_PORT).toBe(9464)
    expect(loadTransformConfig({ TRANSFORM_HTTP_PORT: '0' }).TRANSFORM_HTTP_PORT).toBe(0)
  })

  it('lists every bad variable at once', () => {
    let message = ''
    try {
      loadTransformConfig({ TRANSFORM_HTTP_PORT: '70000', READY_STALL_MS: '5', TRANSFORM_INSERT_DEDUP: 'maybe' })
    } catch (err) {
      message = (err as Error).message
    }
    for (const name of ['TRANSFORM_HTTP_PORT', 'READY_STALL_MS', 'TRANSFORM_INSERT_DEDUP']) expect(message).toContain(name)
  })
})

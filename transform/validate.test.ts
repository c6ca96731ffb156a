import { describe, expect, it } from 'vitest'
import { sampleRequestEvent } from '../schemas/test-fixtures.ts'
import { checkFieldSizes, MAX_FIELD_CHARS, MAX_MESSAGE_FIELD_CHARS } from './validate.ts'

describe('checkFieldSizes', () => {
  const event = () => sampleRequestEvent() as unknown as Record<string, unknown>

  it('passes real values and values at the limit', () => {
    expect(checkFieldSizes(event())).toBeNull()
    expect(checkFieldSizes({ ...event(), model: 'm'.repeat(MAX_FIELD_CHARS), error_message: 'e'.repeat(MAX_MESSAGE_FIELD_CHARS) })).toBeNull()
  })

  it('names the oversized field, in strings and string arrays', () => {
    expect(checkFieldSizes({ ...event(), model: 'm'.repeat(256 * 1024) })).toMatchObject({ code: 'TRF_OVERSIZED_FIELD', reason: expect.stringContaining('model is 262144 characters') })
    expect(checkFieldSizes({ ...event(), lora_adapters: ['ok', 'x'.repeat(MAX_FIELD_CHARS + 1)] })).toMatchObject({ code: 'TRF_OVERSIZED_FIELD', reason: expect.stringContaining('lora_adapters') })
    expect(checkFieldSizes({ ...event(), error_message: 'e'.repeat(MAX_MESSAGE_FIELD_CHARS + 1) })?.code).toBe('TRF_OVERSIZED_FIELD')
  })
})

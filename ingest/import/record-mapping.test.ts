import { describe, expect, it } from 'vitest'
import { createCodec } from '../../schemas/codec.ts'
import { uuidV5 } from './event-id.ts'
import { mapRecord } from './record-mapping.ts'

const worker = {
  request_id: 'req-7f3a',
  timestamp: '2026-11-20T10:15:30.250Z',
  inference_time_ms: 2450.5,
  latency_ms: 3100,
  steps: 30,
  sampler: 'dpmpp_2m',
  cfg_scale: 7.5,
  seed: 1234567,
  peak_gpu_memory_mb: 9876.5,
  status: 'success',
  model: 'sdxl-base',
  width: 1024,
  height: 768,
  prompt: 'a red fox in the snow',
  worker: 'pod-12',
  hostname: 'gpu-node-3',
  gpu_name: 'NVIDIA L4',
}

describe('mapRecord', () => {
  it('maps a worker log record field by field', () => {
    const r = mapRecord(worker)
    if (!r.ok) throw new Error(r.detail)
    const completed = Date.UTC(2026, 10, 20, 10, 15, 30, 250)
    expect(r.event).toMatchObject({
      request_id: 'req-7f3a',
      completed_at: completed,
      received_at: completed - 3100,
      inference_end_at: completed,
      inference_start_at: Math.round(completed - 2450.5),
      steps: 30,
      sampler: 'dpmpp_2m',
      guidance_scale: 7.5,
      peak_gpu_mem_mb: 9876.5,
      status: 'ok',
      error_type: null,
      model: 'sdxl-base',
      width: 1024,
      height: 768,
      images: 1,
      batch_size: 1,
      worker_id: 'pod-12',
      host: 'gpu-node-3',
      gpu_type: 'NVIDIA L4',
      tenant: 'default',
      pipeline: 'other',
      seed: 1234567,
      lora_adapters: [],
      precision: null,
    })
    // the prompt never travels, only its hash
    expect(JSON.stringify(r.event)).not.toContain('red fox')
    expect(r.event.prompt_hash).toHaveLength(16)
    // the contract accepts it
    expect(createCodec().encodeRequestEvent(r.event).length).toBeGreaterThan(10)
  })

  it('reads epoch seconds, milliseconds and microseconds, numeric strings and WxH sizes', () => {
    const ms = 1_795_000_000_123
    for (const ts of [ms / 1000, ms, ms * 1000, String(ms)]) {
      const r = mapRecord({ id: 'a', ts, duration_ms: 100, outcome: 'ok', model_name: 'sd15', size: '512x640' })
      if (!r.ok) throw new Error(r.detail)
      expect([r.event.completed_at, r.event.received_at, r.event.width, r.event.height]).toEqual([ms, ms - 100, 512, 640])
    }
  })

  it('reads v2 fields: seeds reduced to 53 bits, -1 as unknown, adapter lists, precision, queue depth', () => {
    const base = { request_id: 'x', timestamp: 1_795_000_000_000, latency_ms: 5, model: 'm', status: 'ok' }
    const cases: [Record<string, unknown>, Partial<Record<string, unknown>>][] = [
      [{ seed: '18446744073709551615' }, { seed: 2 ** 53 - 1 }],
      [{ seed: -1 }, { seed: null }],
      [{ loras: 'detail-tweaker, film-grain' }, { lora_adapters: ['detail-tweaker', 'film-grain'] }],
      [{ lora_adapters: [{ name: 'a', weight: 0.8 }, 'b'] }, { lora_adapters: ['a', 'b'] }],
      [{ torch_dtype: 'bf16', queue_size: '4' }, { precision: 'bf16', queue_depth: 4 }],
    ]
    for (const [extra, want] of cases) {
      const r = mapRecord({ ...base, ...extra })
      if (!r.ok) throw new Error(r.detail)
      expect(r.event).toMatchObject(want)
    }
  })

  it('maps failures onto the error taxonomy', () => {
    const base = { request_id: 'x', timestamp: 1_795_000_000_000, latency_ms: 5, model: 'm' }
    const cases: [Record<string, unknown>, string][] = [
      [{ status: 'failed', error_type: 'CUDA out of memory' }, 'oom'],
      [{ status: 'error', error: 'boom' }, 'internal'],
      [{ status_code: 504 }, 'timeout'],
      [{ status_code: 503 }, 'queue_timeout'],
      [{ success: false, error_code: 'nsfw' }, 'safety_blocked'],
      [{ status: 'failed', error_kind: 'cancelled' }, 'cancelled'],
    ]
    for (const [extra, type] of cases) {
      const r = mapRecord({ ...base, ...extra })
      if (!r.ok) throw new Error(r.detail)
      expect([r.event.status, r.event.error_type]).toEqual(['error', type])
    }
    const withMsg = mapRecord({ ...base, status: 'error', error: 'x'.repeat(600) })
    expect(withMsg.ok && withMsg.event.error_message?.length).toBe(512)
  })

  it('rejects what it cannot map, with one reason each', () => {
    const good = { request_id: 'r', timestamp: 1_795_000_000_000, latency_ms: 10, model: 'm', status: 'ok' }
    const without = (k: string): Record<string, unknown> => Object.fromEntries(Object.entries(good).filter(([key]) => key !== k))
    const cases: [unknown, string][] = [
      [[1, 2], 'not_an_object'],
      ['text', 'not_an_object'],
      [without('request_id'), 'missing_request_id'],
      [without('timestamp'), 'missing_completed_at'],
      [without('model'), 'missing_model'],
      [without('status'), 'missing_status'],
      [without('latency_ms'), 'missing_duration'],
      [{ ...good, timestamp: 'yesterday-ish' }, 'bad_value'],
      [{ ...good, steps: 'thirty' }, 'bad_value'],
      [{ ...good, status: 'maybe' }, 'bad_value'],
      [{ ...good, received_at: 1_795_000_000_500 }, 'time_order'],
    ]
    expect(cases.map(([rec]) => {
      const r = mapRecord(rec)
      return r.ok ? 'ok' : r.reason
    })).toEqual(cases.map(([, reason]) => reason))
  })

  it('gives a stable, content-derived event id, and keeps a record\'s own UUID', () => {
    const a = mapRecord(worker)
    const b = mapRecord(JSON.parse(JSON.stringify(worker)))
    const c = mapRecord({ ...worker, request_id: 'req-7f3b' })
    if (!a.ok || !b.ok || !c.ok) throw new Error('unmapped')
    expect(a.event.event_id).toBe(b.event.event_id)
    expect(a.event.event_id).not.toBe(c.event.event_id)
    expect(a.event.event_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    const own = mapRecord({ ...worker, event_id: 'A3BB189E-8BF9-3888-9912-ACE4E6543002' })
    expect(own.ok && own.event.event_id).toBe('a3bb189e-8bf9-3888-9912-ace4e6543002')
  })

  it('computes UUIDv5 as RFC 9562 does (Python: uuid5(NAMESPACE_DNS, "python.org"))', () => {
    const dns = Buffer.from('6ba7b8109dad11d180b400c04fd430c8', 'hex')
    expect(uuidV5('python.org', dns)).toBe('886313e1-3b8a-5372-9b90-0c9aee199e5d')
  })
})

describe('docs/import.md', () => {
  it('lists every source name of the mapping, in order', async () => {
    const { readFileSync } = await import('node:fs')
    const { MAPPING } = await import('./record-mapping.ts')
    const doc = readFileSync(new URL('../../docs/import.md', import.meta.url), 'utf8')
    for (const [field, names] of Object.entries(MAPPING)) {
      expect(doc).toContain(`| \`${field}\` | ${names.map((n) => `\`${n}\``).join(', ')} |`)
    }
  })
})

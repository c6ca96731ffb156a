import { describe, expect, it } from 'vitest'
import { summarize } from './profile.ts'
import { median, quantile, table } from './report.ts'

describe('bench report', () => {
  it('takes medians and nearest-rank quantiles of unsorted samples', () => {
    expect(median([5, 1, 3])).toBe(3)
    expect(median([4, 1, 3, 2])).toBe(2.5)
    const hundred = Array.from({ length: 100 }, (_, i) => 100 - i) // 100..1
    expect(quantile(hundred, 0.99)).toBe(99)
    expect(quantile(hundred, 0.5)).toBe(50)
    expect(quantile([7], 0.99)).toBe(7)
  })

  it('prints one row per figure with its ratio to the ceiling', () => {
    const out = table([
      { scenario: 'ceilings', name: 'kafka', value: 200_000, unit: 'msg/s' },
      { scenario: 'ingest-throughput', name: 'events/s', value: 50_000, unit: 'ev/s', ceiling: { name: 'kafka ceiling', ratio: 0.25 } },
    ]).split('\n')
    expect(out).toHaveLength(4)
    expect(out[2]).toContain('200,000 msg/s')
    expect(out[3]).toContain('50,000 ev/s')
    expect(out[3]).toContain('25% of kafka ceiling')
  })

  it('charges a profile sample to the innermost frame of a known stage, idle excluded', () => {
    const frame = (id: number, url: string, functionName = 'f', children: number[] = []) => ({ id, callFrame: { url, functionName }, children })
    const profile = {
      nodes: [
        frame(1, '', '(root)', [2, 5, 6]),
        frame(2, 'file:///x/transform/transformer.ts', 'onBatch', [3]),
        frame(3, 'file:///x/transform/row-sink-rowbinary.ts', 'encode', [4]),
        frame(4, 'node:buffer', 'write'),
        frame(5, '', '(idle)'),
        frame(6, 'file:///x/node_modules/kafkajs/src/x.js', 'fetch'),
      ],
      samples: [4, 4, 4, 6, 5, 5, 5, 5, 2],
    }
    // 5 non-idle samples: 3 serialization (buffer write under the encoder), 1 kafka, 1 loop
    expect(summarize(profile)).toEqual({ 'serialization (rowbinary/json)': 60, 'kafka fetch (kafkajs)': 20, 'transformer loop/flush': 20 })
  })
})

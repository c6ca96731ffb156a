/** The SLO file and environment: defaults, every problem reported at once, the example file. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { isDiffwatchError } from '../../schemas/errors.ts'
import { DEFAULT_BURN_RATES, durationMs, loadSloConfig, parseSloFile } from './config.ts'

const dir = mkdtempSync(join(tmpdir(), 'dw-slo-config-test-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function problemsOf(json: unknown): string[] {
  try {
    parseSloFile(json)
  } catch (err) {
    if (!isDiffwatchError(err, 'CFG_SLO_INVALID')) throw err
    return err.message.split('\n  - ').slice(1)
  }
  throw new Error('expected CFG_SLO_INVALID')
}

describe('SLO configuration', () => {
  it('reads the documented example file with the environment defaults', () => {
    const config = loadSloConfig({ DIFFWATCH_SLO_FILE: 'docs/slo.example.json' })
    expect(config?.slos.map((s) => [s.name, s.kind, s.objective, s.windowMs / 86_400_000])).toEqual([
      ['sdxl-availability', 'availability', 0.995, 30],
      ['sdxl-e2e-8s', 'latency', 0.95, 28],
      ['h100-inference-per-step-mp', 'latency', 0.99, 30],
      ['acme-queue-2s', 'latency', 0.99, 30],
    ])
    expect(config?.slos[2]?.latency).toEqual({ metric: 'inference', thresholdMs: null, normalizedThresholdMs: 120 })
    expect(config?.alerting.pairs.map((p) => [p.id, p.shortMs / 60_000, p.longMs / 60_000, p.factor, p.severity])).toEqual([
      ['5m/1h', 5, 60, 14.4, 'page'], ['30m/6h', 30, 360, 6, 'page'], ['2h/1d', 120, 1440, 3, 'ticket'], ['6h/3d', 360, 4320, 1, 'ticket'],
    ])
    expect(config?.evaluation).toEqual({ intervalMs: 60_000, webhookTimeoutMs: 5000, webhookRetries: 3, webhookBackoffMs: 1000 })
    expect(Object.isFrozen(config)).toBe(true)
  })

  it('defaults to the SRE workbook pairs, 100 requests and no webhook', () => {
    const config = parseSloFile({ slos: [{ name: 'a', objective: 99.9, window: '30d', kind: 'availability' }] })
    expect(config.alerting.pairs.map((p) => `${p.short}/${p.long} ${p.factor} ${p.severity}`)).toEqual(DEFAULT_BURN_RATES.map((p) => `${p.short}/${p.long} ${p.factor} ${p.severity}`))
    expect([config.alerting.minRequests, config.alerting.webhookUrl]).toEqual([100, null])
    expect(durationMs('3d')).toBe(3 * 86_400_000)
  })

  it('reports every problem of the file together', () => {
    const schema = problemsOf({ slos: [{ name: 'Bad Name', objective: 100, window: '7d', kind: 'latency', filters: { gpu: ['x'] } }], extra: 1 })
    expect(schema.length).toBeGreaterThanOrEqual(5)
    for (const where of ['slos/0/name', 'slos/0/objective', 'slos/0/window', 'slos/0/filters', 'extra']) expect(schema.some((p) => p.startsWith(where)), where).toBe(true)
    expect(schema).toContain('slos/0/window: must be one of "28d", "30d"')
    const rules = problemsOf({
      slos: [
        { name: 'a', objective: 99, window: '28d', kind: 'latency', thresholdMs: 100, normalizedThresholdMs: 3 },
        { name: 'a', objective: 99, window: '28d', kind: 'availability', metric: 'e2e' },
      ],
      alerting: { webhookUrl: 'ftp://x', burnRates: [{ short: '1h', long: '5m', factor: 2, severity: 'page' }, { short: '1d', long: '30d', factor: 1, severity: 'ticket' }] },
    })
    expect(rules).toEqual([
      'slos/0 (a): a latency SLO needs "metric" (e2e, inference or queue)',
      'slos/0 (a): a latency SLO needs exactly one of "thresholdMs" and "normalizedThresholdMs"',
      'slos/0 (a): burn-rate window 30d is longer than the SLO window 28d',
      'slos/1 (a): name is used twice; SLO names must be unique',
      'slos/1 (a): an availability SLO takes no "metric", "thresholdMs" or "normalizedThresholdMs"',
      'slos/1 (a): burn-rate window 30d is longer than the SLO window 28d',
      'alerting/burnRates/0: short window 1h must be shorter than long window 5m',
      'alerting/webhookUrl: "ftp://x" is not an http(s) URL',
    ])
  })

  it('answers CFG_SLO_FILE for a file that is not JSON, CFG_INVALID for bad variables, null when unset', () => {
    const path = join(dir, 'broken.json')
    writeFileSync(path, '{ "slos": [')
    expect(() => loadSloConfig({ DIFFWATCH_SLO_FILE: path })).toThrow(expect.objectContaining({ code: 'CFG_SLO_FILE' }))
    expect(() => loadSloConfig({ DIFFWATCH_SLO_FILE: path, SLO_EVAL_INTERVAL_SECONDS: '1' })).toThrow(expect.objectContaining({ code: 'CFG_INVALID' }))
    expect(loadSloConfig({})).toBeNull()
  })
})

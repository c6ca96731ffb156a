import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { DEFAULT_PRICES, loadPrices, priceFor } from './prices.ts'
import { loadReportConfig } from './report-config.ts'

const dir = mkdtempSync(join(tmpdir(), 'dw-prices-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('GPU prices', () => {
  it('prices by exact type, then by the longest whole word of type or product name', () => {
    const p = { currency: 'USD', gpuHourly: { A10: 0.6, A100: 1.29, 'A100-40GB': 1.1, H100: 2.49 } }
    expect(priceFor(p, 'A100-40GB', 'NVIDIA A100-SXM4-40GB')).toEqual({ key: 'A100-40GB', hourly: 1.1 })
    expect(priceFor(p, 'A100-80GB', '')).toEqual({ key: 'A100', hourly: 1.29 })
    expect(priceFor(p, '', 'NVIDIA H100 80GB HBM3')).toEqual({ key: 'H100', hourly: 2.49 })
    expect(priceFor(p, 'A10-24GB', 'NVIDIA A10')).toEqual({ key: 'A10', hourly: 0.6 })
    expect(priceFor(p, 'L4-24GB', 'NVIDIA L4')).toBeNull()
    expect(priceFor(DEFAULT_PRICES, 'L4-24GB', 'NVIDIA L4')).toEqual({ key: 'L4', hourly: 0.44 })
  })

  it('loads a price file and reports every problem of a bad one at once', () => {
    const good = join(dir, 'good.json')
    writeFileSync(good, JSON.stringify({ currency: 'EUR', gpuHourly: { H100: 2.1 } }))
    expect(loadPrices(good)).toEqual({ currency: 'EUR', gpuHourly: { H100: 2.1 } })
    expect(loadReportConfig({ DIFFWATCH_PRICES_FILE: good }).prices.currency).toBe('EUR')
    expect(loadPrices('')).toBe(DEFAULT_PRICES)
    const bad = join(dir, 'bad.json')
    writeFileSync(bad, JSON.stringify({ currency: 'euro', gpuHourly: { H100: -1 }, extra: true }))
    let err: unknown
    try {
      loadPrices(bad)
    } catch (e) {
      err = e
    }
    expect(err).toMatchObject({ code: 'CFG_PRICES_INVALID' })
    expect((err as Error).message).toMatch(/currency/)
    expect((err as Error).message).toMatch(/gpuHourly\/H100/)
    expect((err as Error).message).toMatch(/extra|additional/i)
    writeFileSync(bad, '{ not json')
    expect(() => loadPrices(bad)).toThrow(expect.objectContaining({ code: 'CFG_PRICES_INVALID' }))
    expect(() => loadPrices(join(dir, 'missing.json'))).toThrow(expect.objectContaining({ code: 'CFG_PRICES_INVALID' }))
    expect(() => loadReportConfig({ REPORT_MAX_RANGE_DAYS: '0' })).toThrow(expect.objectContaining({ code: 'CFG_INVALID' }))
  })
})

/**
 * The dashboard when the API requires keys, in Debian's chromium (playwright-core): without a key
 * the page says what is missing; with a key typed into its field it loads, its request count
 * equals the events inserted in the range, and the key survives a reload (localStorage) without
 * ever appearing in a URL. Embedded ClickHouse with seeded data; no Kafka needed.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ClickHouseClient } from '@clickhouse/client'
import type { FastifyInstance } from 'fastify'
import { chromium, type Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openClickHouse } from '../../migrations/clickhouse.ts'
import { migrate } from '../../migrations/runner.ts'
import { buildApi } from '../app.ts'
import { insertFleet, simulateFleet, type Fleet } from '../test-support/fleet-data.ts'
import { fillWindows } from '../test-support/windows-fill.ts'
import { createKeyStore } from './key-store.ts'
import { createKeyVerifier } from './key-verifier.ts'

const CHROMIUM = '/usr/bin/chromium'
const MIN = 60_000
const START = Math.floor(Date.now() / MIN) * MIN - 20 * MIN
const FROM = START
const TO = START + 10 * MIN
const iso = (ms: number) => new Date(ms).toISOString()
const root = mkdtempSync(join(tmpdir(), 'dw-dashboard-auth-test-'))
const database = 'dashboard_auth_test'
let client: ClickHouseClient
let api: FastifyInstance
let browser: Browser
let base: string
let key: string
let fleet: Fleet

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/install-chromium.sh (Debian's chromium package)`)
  fleet = simulateFleet({ seed: 3, requestRate: 2, hosts: 2, gpusPerHost: 2, sampleIntervalMs: 10_000 }, START, 10 * MIN)
  client = await openClickHouse({ dataPath: join(root, 'clickhouse'), database })
  await migrate(client, { database })
  await insertFleet(client, database, fleet)
  await fillWindows(client, database)
  const store = createKeyStore(client, database)
  key = (await store.create('dashboard', ['read'])).key
  api = await buildApi({ clickhouse: client, database, docs: false, auth: { mode: 'required', verifier: createKeyVerifier(store, { cacheSeconds: 30 }) } })
  base = await api.listen({ host: '127.0.0.1', port: 0 })
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'] })
})
afterAll(async () => {
  await browser?.close()
  await api?.close()
  await client?.close()
  rmSync(root, { recursive: true, force: true })
})

describe('dashboard with API keys required', () => {
  it('asks for a key, loads with one typed in, and keeps it across a reload', async () => {
    const page = await browser.newPage()
    const urls: string[] = []
    page.on('request', (r) => urls.push(r.url()))
    await page.goto(`${base}/dashboard?from=${iso(FROM)}&to=${iso(TO)}&refresh=0`)
    await page.waitForSelector('#status.error', { timeout: 30_000 })
    expect(await page.textContent('#status')).toContain('API key')
    expect(await page.getAttribute('body', 'data-loads')).toBeNull()

    await page.fill('#apikey', key)
    await page.dispatchEvent('#apikey', 'change')
    await page.waitForSelector('body[data-loads="1"]', { timeout: 30_000 })
    const inRange = fleet.requests.filter((e) => e.completed_at >= FROM && e.completed_at < TO).length
    expect(inRange).toBeGreaterThan(100)
    expect(Number(await page.getAttribute('#kpi-rps', 'data-requests'))).toBe(inRange)

    await page.reload()
    await page.waitForSelector('body[data-loads="1"]', { timeout: 30_000 })
    expect(await page.inputValue('#apikey')).toBe(key)
    expect(urls.some((u) => u.includes(key))).toBe(false)
    await page.close()
  })
})

/** How `serve` and `run` choose auth (bin/commands/services.ts), and `serve` answering with it. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { authModeFor, startServices } from '../../bin/commands/services.ts'
import { loadApiConfig } from '../config.ts'

describe('API_AUTH', () => {
  it('auto: required for serve, off for run/demo on loopback only', () => {
    const auto = (host: string) => loadApiConfig({ API_HOST: host })
    expect(authModeFor(auto('127.0.0.1'), false)).toBe('required')
    expect(authModeFor(auto('127.0.0.1'), true)).toBe('off')
    expect(authModeFor(auto('::1'), true)).toBe('off')
    expect(authModeFor(auto('0.0.0.0'), true)).toBe('required')
    expect(authModeFor(loadApiConfig({ API_AUTH: 'off' }), false)).toBe('off')
    expect(authModeFor(loadApiConfig({ API_AUTH: 'required', API_HOST: '127.0.0.1' }), true)).toBe('required')
    expect(() => loadApiConfig({ API_AUTH: 'maybe' })).toThrow(/API_AUTH/)
  })

  it('serve requires a key on /v1 and keeps /healthz public', async () => {
    const root = mkdtempSync(join(tmpdir(), 'dw-serve-auth-test-'))
    const services = await startServices(
      { CLICKHOUSE_DATA_PATH: join(root, 'ch'), CLICKHOUSE_DATABASE: 'serve_auth_test', API_PORT: '0', LOG_LEVEL: 'silent' },
      { transform: false, api: true, migrate: true },
    )
    try {
      const base = services.apiUrl!
      const v1 = await fetch(`${base}/v1/throughput`)
      expect(v1.status).toBe(401)
      expect(v1.headers.get('www-authenticate')).toContain('Bearer')
      expect(v1.headers.get('ratelimit-limit')).toBe('60')
      expect((await fetch(`${base}/healthz`)).status).toBe(200)
    } finally {
      await services.stop()
      rmSync(root, { recursive: true, force: true })
    }
  })
})

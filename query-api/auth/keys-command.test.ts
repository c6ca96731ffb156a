/** `diffwatch keys` (bin/commands/keys.ts) against embedded ClickHouse: create, list, revoke. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import type { ClickHouseClient } from '@clickhouse/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { keysCommand } from '../../bin/commands/keys.ts'
import { openClickHouse } from '../../migrations/clickhouse.ts'
import { migrate } from '../../migrations/runner.ts'
import { parseKey } from './api-key.ts'
import { createKeyStore } from './key-store.ts'
import { createKeyVerifier } from './key-verifier.ts'

const root = mkdtempSync(join(tmpdir(), 'dw-keys-cli-test-'))
const database = 'keys_cli_test'
const env = { CLICKHOUSE_DATA_PATH: join(root, 'clickhouse'), CLICKHOUSE_DATABASE: database, LOG_LEVEL: 'silent' }
let client: ClickHouseClient

beforeAll(async () => {
  client = await openClickHouse({ dataPath: env.CLICKHOUSE_DATA_PATH, database })
  await migrate(client, { database })
})
afterAll(async () => {
  await client?.close()
  rmSync(root, { recursive: true, force: true })
})

async function run(...argv: string[]): Promise<{ code: number; out: string }> {
  let out = ''
  const sink = new Writable({ write(chunk, _e, done) { out += String(chunk); done() } })
  const code = await keysCommand(argv, env, sink)
  return { code, out }
}

describe('diffwatch keys', () => {
  it('creates a key printed once, lists it without secret, revokes it', async () => {
    const created = await run('create', '--name', 'grafana', '--scopes', 'read,sql')
    expect(created.code).toBe(0)
    const key = created.out.trim()
    const parsed = parseKey(key)
    expect(parsed).toBeDefined()
    const verifier = createKeyVerifier(createKeyStore(client, database), { cacheSeconds: 0 })
    expect(await verifier.verify(key)).toMatchObject({ ok: true, principal: { keyId: parsed!.keyId, scopes: ['read', 'sql'] } })

    const listed = await run('list', '--json')
    const keys = JSON.parse(listed.out) as Array<Record<string, unknown>>
    expect(keys).toHaveLength(1)
    expect(keys[0]).toMatchObject({ keyId: parsed!.keyId, name: 'grafana', scopes: ['read', 'sql'], revokedAt: null })
    expect(listed.out).not.toContain(parsed!.secret)
    expect(Object.keys(keys[0]!)).not.toContain('secretHash')

    expect((await run('revoke', parsed!.keyId)).code).toBe(0)
    expect(await verifier.verify(key)).toMatchObject({ ok: false, reason: 'revoked' })
    const table = await run('list')
    expect(table.out.split('\n')[1]).toMatch(new RegExp(`^${parsed!.keyId}\\s+grafana\\s+read,sql\\s+\\S+ \\S+\\s+\\S+( \\S+)?\\s+\\d{4}-`))
  })

  it('refuses unknown scopes and unknown ids with stable codes', async () => {
    await expect(run('create', '--name', 'x', '--scopes', 'read,root')).rejects.toMatchObject({ code: 'API_BAD_SCOPES' })
    await expect(run('revoke', '0123456789abcdef')).rejects.toMatchObject({ code: 'API_KEY_NOT_FOUND' })
    await expect(run('create', '--scopes', 'read')).rejects.toMatchObject({ code: 'API_BAD_KEY_NAME' })
  })
})

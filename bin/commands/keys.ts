/**
 * `diffwatch keys create --name N --scopes read,sql | list [--json] | revoke ID`: API keys of the
 * query API, straight in ClickHouse (CLICKHOUSE_* variables, as `migrate`). `create` prints the
 * key once on stdout (only its hash is stored); `revoke` takes effect in running APIs within
 * API_KEY_CACHE_SECONDS. With embedded ClickHouse the data folder is locked by a running
 * `diffwatch run`: manage keys while it is stopped, or use a ClickHouse server.
 */
import { parseArgs } from 'node:util'
import { openClickHouse } from '../../migrations/clickhouse.ts'
import { createKeyStore } from '../../query-api/auth/key-store.ts'
import { SCOPES } from '../../query-api/auth/api-key.ts'
import { DiffwatchError } from '../../schemas/errors.ts'
import { loadTransformConfig } from '../../transform/config.ts'
import { clickHouseOptions } from './services.ts'

const USAGE = `usage:
  diffwatch keys create --name NAME --scopes ${SCOPES.join(',')}   prints the new key once
  diffwatch keys list [--json]
  diffwatch keys revoke KEY_ID`

export async function keysCommand(argv: string[], env: NodeJS.ProcessEnv, out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const [action, ...rest] = argv
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { name: { type: 'string' }, scopes: { type: 'string' }, json: { type: 'boolean', default: false } },
  })
  if (action !== 'create' && action !== 'list' && action !== 'revoke') {
    out.write(`${USAGE}\n`)
    return action === undefined || action === 'help' ? 0 : 2
  }
  const config = loadTransformConfig(env)
  const client = await openClickHouse(clickHouseOptions(config))
  try {
    const store = createKeyStore(client, config.CLICKHOUSE_DATABASE)
    if (action === 'create') {
      const scopes = (values.scopes ?? '').split(',').map((s) => s.trim()).filter(Boolean)
      const { key, record } = await store.create(values.name ?? '', scopes)
      out.write(`${key}\n`)
      process.stderr.write(`created key ${record.keyId} (${record.name}; scopes ${record.scopes.join(',')}). It is shown once: store it now; diffwatch keeps only its hash.\n`)
      return 0
    }
    if (action === 'list') {
      const keys = await store.list()
      if (values.json) {
        out.write(JSON.stringify(keys, null, 2) + '\n')
        return 0
      }
      const rows = [['KEY ID', 'NAME', 'SCOPES', 'CREATED', 'LAST USED', 'REVOKED'], ...keys.map((k) => [k.keyId, k.name, k.scopes.join(','), k.createdAt.slice(0, 19), k.lastUsedAt?.slice(0, 19) ?? '-', k.revokedAt?.slice(0, 19) ?? '-'])]
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)))
      for (const r of rows) out.write(r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd() + '\n')
      return 0
    }
    const id = positionals[0]
    if (id === undefined) throw new DiffwatchError('API_KEY_NOT_FOUND', 'give the id of the key to revoke: `diffwatch keys revoke KEY_ID` (see `diffwatch keys list`)')
    const revoked = await store.revoke(id)
    out.write(`revoked key ${revoked.keyId} (${revoked.name}) at ${revoked.revokedAt ?? '?'}; running APIs refuse it within API_KEY_CACHE_SECONDS\n`)
    return 0
  } finally {
    await client.close()
  }
}

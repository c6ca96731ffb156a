/**
 * API keys in ClickHouse (tables of migrations/sql/0007_api_keys.sql): create, find, list,
 * revoke, and a coarse last-used mark. Guarantees: the secret is returned once by `createKey`
 * and never stored; a key counts as revoked when any of its rows is (max(revoked_at)), so no
 * later write can revive it; values reach ClickHouse only as query parameters.
 */
import type { ClickHouseClient } from '@clickhouse/client'
import { assertIdentifier, toDiffwatchError } from '../../migrations/clickhouse.ts'
import { TABLES } from '../../migrations/tables.ts'
import { DiffwatchError } from '../../schemas/errors.ts'
import { generateKey, isScope, SCOPES, type Scope } from './api-key.ts'

/** Table names of the key store (to join TABLES in migrations/tables.ts). */
export const KEY_TABLES = { apiKeys: TABLES.apiKeys, apiKeyUsage: TABLES.apiKeyUsage } as const

export type KeyRecord = {
  keyId: string
  name: string
  scopes: Scope[]
  secretHash: string
  createdAt: string
  revokedAt: string | null
}
export type KeyListing = Omit<KeyRecord, 'secretHash'> & { lastUsedAt: string | null }

export type KeyStore = {
  create(name: string, scopes: readonly string[]): Promise<{ key: string; record: KeyRecord }>
  find(keyId: string): Promise<KeyRecord | undefined>
  list(): Promise<KeyListing[]>
  revoke(keyId: string): Promise<KeyRecord>
  markUsed(keyId: string): Promise<void>
}

const chNow = () => new Date().toISOString().replace('T', ' ').replace('Z', '')

export function checkScopes(scopes: readonly string[]): Scope[] {
  const bad = scopes.filter((s) => !isScope(s))
  if (scopes.length === 0 || bad.length > 0) {
    throw new DiffwatchError('API_BAD_SCOPES', `unknown or missing scopes ${JSON.stringify(bad)}: give one or more of ${SCOPES.join(', ')}`)
  }
  return [...new Set(scopes)] as Scope[]
}

type Row = { key_id: string; name: string; scopes: string[]; secret_hash: string; created_at: string; revoked_at: string | null; last_used_at?: string | null }

const toRecord = (r: Row): KeyRecord => ({
  keyId: r.key_id, name: r.name, scopes: r.scopes.filter(isScope), secretHash: r.secret_hash, createdAt: r.created_at, revokedAt: r.revoked_at,
})

export function createKeyStore(client: ClickHouseClient, database: string): KeyStore {
  const db = assertIdentifier(database, 'database name')
  const keys = `\`${db}\`.${KEY_TABLES.apiKeys}`
  const usage = `\`${db}\`.${KEY_TABLES.apiKeyUsage}`
  const merged = `SELECT key_id, argMax(name, version) AS name, argMax(scopes, version) AS scopes, argMax(secret_hash, version) AS secret_hash,
      toString(min(created_at)) AS created_at, toString(max(revoked_at)) AS revoked_at FROM ${keys}`

  async function select(query: string, params: Record<string, unknown>, doing: string): Promise<Row[]> {
    try {
      return await (await client.query({ query, query_params: params, format: 'JSONEachRow' })).json<Row>()
    } catch (err) {
      throw toDiffwatchError(err, doing)
    }
  }
  async function insert(values: Record<string, unknown>[], doing: string): Promise<void> {
    try {
      await client.insert({ table: keys, values, format: 'JSONEachRow' })
    } catch (err) {
      throw toDiffwatchError(err, doing)
    }
  }
  async function find(keyId: string): Promise<KeyRecord | undefined> {
    const rows = await select(`${merged} WHERE key_id = {id:String} GROUP BY key_id`, { id: keyId }, 'reading an API key')
    return rows[0] ? toRecord(rows[0]) : undefined
  }

  return {
    async create(name, scopes) {
      if (name.trim() === '' || name.length > 200) throw new DiffwatchError('API_BAD_KEY_NAME', 'a key needs a name of 1 to 200 characters: --name "grafana read-only"')
      const checked = checkScopes(scopes)
      const { keyId, key, hash } = generateKey()
      const createdAt = chNow()
      await insert([{ key_id: keyId, name, scopes: checked, secret_hash: hash, created_at: createdAt, revoked_at: null, version: Date.now() }], 'creating an API key')
      return { key, record: { keyId, name, scopes: checked, secretHash: hash, createdAt, revokedAt: null } }
    },
    find,
    async list() {
      const rows = await select(
        `SELECT k.*, toString(u.used_at) AS last_used_at FROM (${merged} GROUP BY key_id) AS k
         LEFT JOIN (SELECT key_id, max(used_at) AS used_at FROM ${usage} GROUP BY key_id) AS u ON u.key_id = k.key_id
         ORDER BY created_at, key_id SETTINGS join_use_nulls = 1`,
        {},
        'listing API keys',
      )
      return rows.map((r) => {
        const { secretHash: _hash, ...rest } = toRecord(r)
        return { ...rest, lastUsedAt: r.last_used_at ?? null }
      })
    },
    async revoke(keyId) {
      const current = await find(keyId)
      if (!current) throw new DiffwatchError('API_KEY_NOT_FOUND', `no API key with id ${keyId}: see \`diffwatch keys list\``)
      if (current.revokedAt !== null) return current
      const revokedAt = chNow()
      await insert([{ key_id: keyId, name: current.name, scopes: current.scopes, secret_hash: current.secretHash, created_at: current.createdAt, revoked_at: revokedAt, version: Date.now() }], 'revoking an API key')
      return { ...current, revokedAt }
    },
    async markUsed(keyId) {
      try {
        await client.insert({ table: usage, values: [{ key_id: keyId, used_at: chNow().slice(0, 19) }], format: 'JSONEachRow' })
      } catch (err) {
        throw toDiffwatchError(err, 'recording API key use')
      }
    },
  }
}

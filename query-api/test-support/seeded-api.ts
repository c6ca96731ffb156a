/**
 * The setup most route tests share: a private embedded ClickHouse folder, the migrations, a
 * simulated fleet written as the transformer writes it (windows filled from the raw rows when
 * asked), and the API built over it. `get` asserts a 200 and shows the body when it is not.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ClickHouseClient } from '@clickhouse/client'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { expect } from 'vitest'
import { openClickHouse } from '../../migrations/clickhouse.ts'
import { migrate } from '../../migrations/runner.ts'
import { buildApi, type BuildApiOptions } from '../app.ts'
import { insertFleet, type Fleet } from './fleet-data.ts'
import { fillWindows } from './windows-fill.ts'

export type SeededApi = {
  api: FastifyInstance
  client: ClickHouseClient
  database: string
  get(url: string): Promise<LightMyRequestResponse>
  close(): Promise<void>
}

export async function seededApi(o: { database: string; fleet: Fleet; windows?: boolean; api?: Partial<BuildApiOptions> }): Promise<SeededApi> {
  const root = mkdtempSync(join(tmpdir(), `dw-${o.database}-`))
  const client = await openClickHouse({ dataPath: join(root, 'clickhouse'), database: o.database })
  await migrate(client, { database: o.database })
  await insertFleet(client, o.database, o.fleet)
  if (o.windows) await fillWindows(client, o.database)
  const api = await buildApi({ clickhouse: client, database: o.database, docs: false, dashboard: false, ...o.api })
  await api.ready()
  return {
    api,
    client,
    database: o.database,
    async get(url) {
      const res = await api.inject({ method: 'GET', url })
      expect(res.statusCode, res.body).toBe(200)
      return res
    },
    async close() {
      await api.close()
      await client.close()
      rmSync(root, { recursive: true, force: true })
    },
  }
}

/**
 * Writes one table write of a chunk to ClickHouse with its dedup token and waits for the
 * acknowledgement. Failures come back as DiffwatchErrors whose `retryable` flag the flush
 * protocol's retry loop branches on (classified from ClickHouse/Node error codes).
 */
import type { ClickHouseClient } from '@clickhouse/client'
import { toDiffwatchError } from '../migrations/clickhouse.ts'
import type { ChunkWrite } from './flush-protocol.ts'

export interface RowSink {
  insert(write: ChunkWrite, dedupToken: string): Promise<void>
}

export function createRowSink(client: ClickHouseClient): RowSink {
  return {
    async insert(write, dedupToken) {
      try {
        await client.insert({
          table: write.table,
          values: write.rows,
          format: 'JSONCompactEachRow',
          columns: [...write.columns] as [string, ...string[]],
          clickhouse_settings: { insert_deduplication_token: dedupToken },
        })
      } catch (err) {
        throw toDiffwatchError(err, `insert into ${write.table}`)
      }
    },
  }
}

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
          clickhouse_settings: {
            insert_deduplication_token: dedupToken,
            // materialized views fed by this table (percentile rollups) must drop a replayed
            // block too, or they would count it twice while the raw table does not
            deduplicate_blocks_in_dependent_materialized_views: 1,
          },
        })
      } catch (err) {
        throw toDiffwatchError(err, `insert into ${write.table}`)
      }
    },
  }
}

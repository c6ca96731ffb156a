/**
 * Writes one table write of a chunk to ClickHouse with its dedup token and waits for the
 * acknowledgement. Failures come back as DiffwatchErrors whose `retryable` flag the flush
 * protocol's retry loop branches on (classified from ClickHouse/Node error codes).
 *
 * Two writers share the interface: `createRowSink` (rows inline as JSONCompactEachRow over the
 * client, works in both modes) and `createFileRowSink` (RowBinary through a temp file, embedded
 * mode only: a server's file() would read the server's disk). `rowSinkFor` picks by mode.
 */
import type { ClickHouseClient } from '@clickhouse/client'
import { toDiffwatchError } from '../migrations/clickhouse.ts'
import type { ChunkWrite } from './flush-protocol.ts'
import { createFileRowSink } from './row-sink-file.ts'

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

export type RowSinkMode = 'embedded' | 'server'

/**
 * The sink for a ClickHouse mode: the RowBinary file path for the embedded engine (measured
 * faster, see test/bench), the inline JSON path for a server.
 */
export function rowSinkFor(client: ClickHouseClient, mode: RowSinkMode): RowSink {
  return mode === 'embedded' ? createFileRowSink(client) : createRowSink(client)
}

/**
 * Fills request_windows and gpu_windows from the raw tables with INSERT ... SELECT, for unit tests
 * that have no transformer: 10-second windows, each key split into three partial rows (by Kafka
 * offset) so the routes must re-aggregate as they do with real transformer output. Written here
 * from the table contracts (migrations 0003/0004), independently of the transformer's code.
 */
import type { ClickHouseClient } from '@clickhouse/client'
import { ERROR_TYPES } from '../../schemas/generated/types.ts'

export async function fillWindows(client: ClickHouseClient, database: string): Promise<void> {
  const errs = ERROR_TYPES.map((t) => `countIf(error_type = '${t}') AS err_${t}`).join(', ')
  await client.command({
    query: `
      INSERT INTO ${database}.request_windows
      SELECT toStartOfInterval(completed_at, INTERVAL 10 SECOND) AS window_start, 10 AS window_seconds,
             model, model_version, worker_id, pipeline, gpu_type, region, tenant, deployment,
             count() AS requests, countIf(status = 'ok') AS successes, sumIf(images, status = 'ok') AS images, countIf(status != 'ok') AS errors,
             ${errs}, 0 AS late_events, sum(e2e_ms) AS e2e_ms_sum, sum(ifNull(queue_ms, 0)) AS queue_ms_sum, sum(ifNull(inference_ms, 0)) AS inference_ms_sum,
             count(queue_ms) AS queue_ms_count, count(inference_ms) AS inference_ms_count, max(e2e_ms) AS e2e_ms_max, 1 AS agg_version
      FROM ${database}.request_events
      GROUP BY window_start, model, model_version, worker_id, pipeline, gpu_type, region, tenant, deployment, _offset % 3`,
  })
  await client.command({
    query: `
      INSERT INTO ${database}.gpu_windows
      SELECT toStartOfInterval(sampled_at, INTERVAL 10 SECOND) AS window_start, 10 AS window_seconds,
             gpu_uuid, host, gpu_name, ifNull(worker_id, '') AS worker_id,
             count() AS samples, sum(ifNull(util_gpu_pct, 0)) AS util_sum, max(ifNull(util_gpu_pct, 0)) AS util_max,
             sum(ifNull(util_mem_pct, 0)) AS util_mem_sum, sum(ifNull(mem_used_mb, 0)) AS mem_used_sum, max(ifNull(mem_used_mb, 0)) AS mem_used_max,
             max(ifNull(mem_total_mb, 0)) AS mem_total_max, sum(ifNull(power_w, 0)) AS power_sum, max(ifNull(power_w, 0)) AS power_max,
             max(ifNull(temperature_c, 0)) AS temp_max, countIf(length(throttle_reasons) > 0) AS throttled_samples,
             countIf(last_xid IS NOT NULL) AS xid_samples, countIf(ifNull(util_gpu_pct, 0) > 0) AS busy_samples, 0 AS late_events, 1 AS agg_version
      FROM ${database}.gpu_samples
      GROUP BY window_start, gpu_uuid, host, gpu_name, worker_id, _offset % 3`,
  })
}

/**
 * What the cost report reads from ClickHouse.
 *
 * GPU time (gpu_samples, sampled_at in [from, to)): each sample of a GPU stands for the time
 * until that GPU's next sample in the range; the last one for the time since its previous
 * sample; either capped at `gapCapMs`, so a GPU whose agent went silent is not billed for the
 * silence beyond the cap. A GPU with a single sample in the range counts the cap.
 *
 * Busy time (request_events, completed_at in [from, to)): per model × tenant × GPU, the service
 * time of each request (dequeued → inference end, or → completion when it failed earlier; see
 * capacity-query.ts), with requests, images and megapixels of successful requests.
 */
import { chDateTime64, num, qualifiedTable, selectRows, type Store } from '../store.ts'

export type GpuTime = { gpu_uuid: string; host: string; gpu_name: string; samples: number; gpu_ms: number }
export type BusyRow = { model: string; tenant: string; gpu_uuid: string; gpu_type: string; requests: number; images: number; megapixels: number; busy_ms: number }


export async function readGpuTime(store: Store, range: { fromMs: number; toMs: number }, gapCapMs: number): Promise<GpuTime[]> {
  const params = { from: chDateTime64(range.fromMs), to: chDateTime64(range.toMs), cap: gapCapMs }
  const sql = `
    SELECT gpu_uuid, any(host) AS host, any(gpu_name) AS gpu_name, count() AS samples,
           sum(least(toFloat64(coalesce(next_ms - t_ms, t_ms - prev_ms, {cap:Float64})), {cap:Float64})) AS gpu_ms
    FROM (
      SELECT gpu_uuid, host, gpu_name, toUnixTimestamp64Milli(sampled_at) AS t_ms,
             leadInFrame(toNullable(toUnixTimestamp64Milli(sampled_at))) OVER w AS next_ms,
             lagInFrame(toNullable(toUnixTimestamp64Milli(sampled_at))) OVER w AS prev_ms
      FROM ${qualifiedTable(store, 'gpuSamples')}
      WHERE sampled_at >= {from:DateTime64(3, 'UTC')} AND sampled_at < {to:DateTime64(3, 'UTC')}
      WINDOW w AS (PARTITION BY gpu_uuid ORDER BY sampled_at ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING)
    )
    GROUP BY gpu_uuid
    ORDER BY gpu_uuid`
  const rows = await selectRows<Record<string, unknown>>(store, sql, params, 'cost report GPU time')
  return rows.map((r) => ({ gpu_uuid: String(r['gpu_uuid']), host: String(r['host']), gpu_name: String(r['gpu_name']), samples: num(r['samples']), gpu_ms: num(r['gpu_ms']) }))
}

export async function readBusy(store: Store, range: { fromMs: number; toMs: number }): Promise<BusyRow[]> {
  const params = { from: chDateTime64(range.fromMs), to: chDateTime64(range.toMs) }
  const sql = `
    SELECT model, tenant, gpu_uuid, any(gpu_type) AS gpu_type, count() AS requests,
           sumIf(images, status = 'ok') AS images_ok, sumIf(images * megapixels, status = 'ok') AS megapixels_ok,
           sum(if(dequeued_at IS NULL, 0, toFloat64(toUnixTimestamp64Milli(coalesce(inference_end_at, completed_at)) - toUnixTimestamp64Milli(dequeued_at)))) AS busy_ms
    FROM ${qualifiedTable(store, 'requestEvents')}
    WHERE completed_at >= {from:DateTime64(3, 'UTC')} AND completed_at < {to:DateTime64(3, 'UTC')}
    GROUP BY model, tenant, gpu_uuid
    ORDER BY model, tenant, gpu_uuid`
  const rows = await selectRows<Record<string, unknown>>(store, sql, params, 'cost report busy time')
  return rows.map((r) => ({
    model: String(r['model']), tenant: String(r['tenant']), gpu_uuid: String(r['gpu_uuid']), gpu_type: String(r['gpu_type']),
    requests: num(r['requests']), images: num(r['images_ok']), megapixels: num(r['megapixels_ok']), busy_ms: num(r['busy_ms']),
  }))
}

/**
 * The cost report: GPU-seconds and GPU-hours from the GPU samples, their cost from the price
 * table (prices.ts), and how that cost splits over models and tenants.
 *
 * Attribution: a GPU's sampled time (cost-query.ts) is either busy, the service time of the
 * requests it served, or idle, the rest. Busy cost goes to the model × tenant of each request.
 * A GPU's idle cost is shared among the model × tenant pairs it served in proportion to their
 * busy time on it ("loaded" cost); idle time of GPUs that served nothing in the range stays
 * unattributed and is shown on its own row. Busy time above a GPU's sampled time (samples
 * lost) is capped at the sampled time. GPUs without a price are listed as unpriced and left out
 * of every cost figure (never counted as free); their hours still appear.
 */
import type { Store } from '../store.ts'
import type { ReportCell, ReportColumn, ReportDocument } from './document.ts'
import { readBusy, readGpuTime, type BusyRow, type GpuTime } from './cost-query.ts'
import { priceFor, type Prices } from './prices.ts'

export type CostOptions = { from: number; to: number; now: number; prices: Prices; pricesSource: string; gapCapMs: number }

type Acc = { requests: number; images: number; megapixels: number; busy_ms: number; busy_cost: number; loaded_cost: number; unpriced_busy_ms: number }
const newAcc = (): Acc => ({ requests: 0, images: 0, megapixels: 0, busy_ms: 0, busy_cost: 0, loaded_cost: 0, unpriced_busy_ms: 0 })
const HOUR_MS = 3_600_000

/** busy_ms: capped at the sampled time; raw_busy_ms: as served (the base of each pair's share). */
type GpuInfo = GpuTime & { gpu_type: string; hourly: number | null; price_key: string | null; busy_ms: number; raw_busy_ms: number }

function gpuInfos(gpus: GpuTime[], busy: BusyRow[], prices: Prices): Map<string, GpuInfo> {
  const out = new Map<string, GpuInfo>()
  for (const g of gpus) out.set(g.gpu_uuid, { ...g, gpu_type: '', hourly: null, price_key: null, busy_ms: 0, raw_busy_ms: 0 })
  for (const b of busy) {
    const g = out.get(b.gpu_uuid)
    if (!g) continue // requests from a GPU with no sample in the range: no sampled time to bill
    g.gpu_type = g.gpu_type || b.gpu_type
    g.raw_busy_ms += b.busy_ms
  }
  for (const g of out.values()) {
    const price = priceFor(prices, g.gpu_type, g.gpu_name)
    g.hourly = price?.hourly ?? null
    g.price_key = price?.key ?? null
    g.busy_ms = Math.min(g.raw_busy_ms, g.gpu_ms)
  }
  return out
}

export async function costReport(store: Store, options: CostOptions): Promise<ReportDocument> {
  const range = { fromMs: options.from, toMs: options.to }
  const [gpuTimes, busy] = await Promise.all([readGpuTime(store, range, options.gapCapMs), readBusy(store, range)])
  const gpus = gpuInfos(gpuTimes, busy, options.prices)
  const byModel = new Map<string, Acc>()
  const byTenant = new Map<string, Acc>()
  let unsampledBusyMs = 0
  for (const b of busy) {
    const g = gpus.get(b.gpu_uuid)
    for (const [map, key] of [[byModel, b.model], [byTenant, b.tenant]] as const) {
      const acc = map.get(key) ?? newAcc()
      map.set(key, acc)
      acc.requests += b.requests
      acc.images += b.images
      acc.megapixels += b.megapixels
      acc.busy_ms += b.busy_ms
      if (!g || g.hourly === null) {
        acc.unpriced_busy_ms += b.busy_ms
        continue
      }
      // Busy share of this GPU's time (capped to its sampled time): its cost, plus that share of its idle cost.
      const share = g.raw_busy_ms > 0 ? b.busy_ms / g.raw_busy_ms : 0
      const gpuCost = (g.gpu_ms / HOUR_MS) * g.hourly
      acc.busy_cost += ((g.busy_ms * share) / HOUR_MS) * g.hourly
      acc.loaded_cost += gpuCost * share
    }
    if (!g) unsampledBusyMs += b.busy_ms
  }
  return document(options, [...gpus.values()], byModel, byTenant, unsampledBusyMs)
}

const money = (key: string, label: string, currency: string): ReportColumn => ({ key, label, unit: currency, digits: 4 })

function accRows(map: Map<string, Acc>, keyName: string, unattributedIdleCost: number): Array<Record<string, ReportCell>> {
  const rows: Array<Record<string, ReportCell>> = [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([key, a]) => ({
    [keyName]: key, requests: a.requests, images: a.images, megapixels: a.megapixels,
    busy_gpu_hours: a.busy_ms / HOUR_MS, busy_cost: a.busy_cost, loaded_cost: a.loaded_cost,
    busy_cost_per_image: a.images > 0 ? a.busy_cost / a.images : null,
    cost_per_image: a.images > 0 ? a.loaded_cost / a.images : null,
    cost_per_megapixel: a.megapixels > 0 ? a.loaded_cost / a.megapixels : null,
    unpriced_busy_gpu_hours: a.unpriced_busy_ms / HOUR_MS,
  }))
  rows.push({ [keyName]: '(idle GPUs, no requests)', requests: 0, images: 0, megapixels: 0, busy_gpu_hours: 0, busy_cost: 0, loaded_cost: unattributedIdleCost, busy_cost_per_image: null, cost_per_image: null, cost_per_megapixel: null, unpriced_busy_gpu_hours: 0 })
  return rows
}

function accColumns(keyName: string, currency: string): ReportColumn[] {
  return [
    { key: keyName, label: keyName }, { key: 'requests', label: 'requests' }, { key: 'images', label: 'images' },
    { key: 'megapixels', label: 'megapixels', unit: 'MP', digits: 1 }, { key: 'busy_gpu_hours', label: 'busy GPU time', unit: 'GPU-h', digits: 3 },
    money('busy_cost', 'busy cost', currency), money('loaded_cost', 'cost incl. idle share', currency),
    { key: 'busy_cost_per_image', label: 'busy cost per image', unit: currency, digits: 6 },
    { key: 'cost_per_image', label: 'cost per image incl. idle', unit: currency, digits: 6 },
    { key: 'cost_per_megapixel', label: 'cost per megapixel incl. idle', unit: currency, digits: 6 },
    { key: 'unpriced_busy_gpu_hours', label: 'busy time on unpriced GPUs', unit: 'GPU-h', digits: 3 },
  ]
}

function document(options: CostOptions, gpus: GpuInfo[], byModel: Map<string, Acc>, byTenant: Map<string, Acc>, unsampledBusyMs: number): ReportDocument {
  const cur = options.prices.currency
  const priced = gpus.filter((g) => g.hourly !== null)
  const unpriced = gpus.filter((g) => g.hourly === null)
  const cost = (g: GpuInfo, ms: number) => (ms / HOUR_MS) * (g.hourly ?? 0)
  const sum = (list: GpuInfo[], f: (g: GpuInfo) => number) => list.reduce((s, g) => s + f(g), 0)
  const totalCost = sum(priced, (g) => cost(g, g.gpu_ms))
  const busyCost = sum(priced, (g) => cost(g, g.busy_ms))
  const unattributedIdle = sum(priced.filter((g) => g.raw_busy_ms === 0), (g) => cost(g, g.gpu_ms))
  const images = [...byModel.values()].reduce((s, a) => s + a.images, 0)
  const megapixels = [...byModel.values()].reduce((s, a) => s + a.megapixels, 0)
  const gpuMs = sum(gpus, (g) => g.gpu_ms)
  const busyMs = sum(gpus, (g) => g.busy_ms)
  const types = new Map<string, GpuInfo[]>()
  for (const g of gpus) types.set(g.gpu_type || g.gpu_name, [...(types.get(g.gpu_type || g.gpu_name) ?? []), g])
  return {
    kind: 'cost',
    title: 'Cost report',
    generatedAt: new Date(options.now).toISOString(),
    range: { from: new Date(options.from).toISOString(), to: new Date(options.to).toISOString() },
    parameters: { currency: cur, prices: options.pricesSource, sampleGapCapSeconds: options.gapCapMs / 1000 },
    notes: [
      `GPU time: each GPU sample stands for the time to the same GPU's next sample in the range (the last one: since its previous sample), capped at ${options.gapCapMs / 1000} s so a silent agent is not billed beyond the cap.`,
      'Busy time: service time of each request completed in the range (dequeued → inference end, or → completion when it failed earlier), on the GPU that served it; idle = sampled time − busy time.',
      'Attribution: busy cost goes to the request\'s model and tenant; each GPU\'s idle cost is shared among the model × tenant pairs it served in proportion to their busy time ("incl. idle"); idle GPUs that served nothing are shown on their own row. Costs per image and per megapixel count images of successful requests.',
      'GPUs without a price are listed under "Unpriced GPUs" and left out of every cost (not counted as free); add their type to the price table.',
      ...(unsampledBusyMs > 0 ? [`${(unsampledBusyMs / HOUR_MS).toFixed(3)} GPU-hours of busy time ran on GPUs with no sample in the range and are not costed.`] : []),
    ],
    sections: [
      {
        id: 'summary',
        heading: 'Summary',
        table: {
          columns: [
            { key: 'gpus', label: 'GPUs' }, { key: 'unpriced_gpus', label: 'unpriced GPUs' },
            { key: 'gpu_seconds', label: 'GPU time', unit: 'GPU-s', digits: 0 }, { key: 'gpu_hours', label: 'GPU time', unit: 'GPU-h', digits: 3 },
            { key: 'busy_gpu_hours', label: 'busy', unit: 'GPU-h', digits: 3 }, { key: 'idle_gpu_hours', label: 'idle', unit: 'GPU-h', digits: 3 },
            money('cost', 'cost', cur), money('idle_cost', 'idle cost', cur), { key: 'images', label: 'images' },
            { key: 'cost_per_image', label: 'cost per image', unit: cur, digits: 6 }, { key: 'cost_per_megapixel', label: 'cost per megapixel', unit: cur, digits: 6 },
          ],
          rows: [{
            gpus: gpus.length, unpriced_gpus: unpriced.length, gpu_seconds: gpuMs / 1000, gpu_hours: gpuMs / HOUR_MS,
            busy_gpu_hours: busyMs / HOUR_MS, idle_gpu_hours: (gpuMs - busyMs) / HOUR_MS, cost: totalCost, idle_cost: totalCost - busyCost, images,
            cost_per_image: images > 0 ? totalCost / images : null, cost_per_megapixel: megapixels > 0 ? totalCost / megapixels : null,
          }],
        },
      },
      {
        id: 'by_gpu_type',
        heading: 'By GPU type',
        table: {
          columns: [
            { key: 'gpu_type', label: 'GPU type' }, { key: 'price_key', label: 'price entry' }, { key: 'hourly', label: 'price', unit: `${cur}/GPU-h`, digits: 2 },
            { key: 'gpus', label: 'GPUs' }, { key: 'gpu_seconds', label: 'GPU time', unit: 'GPU-s', digits: 0 }, { key: 'gpu_hours', label: 'GPU time', unit: 'GPU-h', digits: 3 },
            { key: 'busy_fraction', label: 'busy fraction', digits: 3 }, money('cost', 'cost', cur), money('idle_cost', 'idle cost', cur),
          ],
          rows: [...types].sort(([a], [b]) => (a < b ? -1 : 1)).map(([type, list]) => {
            const first = list[0]
            const ms = sum(list, (g) => g.gpu_ms)
            const isPriced = first?.hourly !== null && first?.hourly !== undefined
            return {
              gpu_type: type, price_key: first?.price_key ?? null, hourly: first?.hourly ?? null, gpus: list.length, gpu_seconds: ms / 1000, gpu_hours: ms / HOUR_MS,
              busy_fraction: ms > 0 ? sum(list, (g) => g.busy_ms) / ms : null,
              cost: isPriced ? sum(list, (g) => cost(g, g.gpu_ms)) : null, idle_cost: isPriced ? sum(list, (g) => cost(g, g.gpu_ms - g.busy_ms)) : null,
            }
          }),
        },
      },
      { id: 'by_model', heading: 'By model', table: { columns: accColumns('model', cur), rows: accRows(byModel, 'model', unattributedIdle) } },
      { id: 'by_tenant', heading: 'By tenant', table: { columns: accColumns('tenant', cur), rows: accRows(byTenant, 'tenant', unattributedIdle) } },
      {
        id: 'unpriced',
        heading: 'Unpriced GPUs',
        text: unpriced.length > 0 ? ['These GPUs have no entry in the price table: their time is not in any cost above.'] : ['Every GPU in the range has a price.'],
        table: {
          columns: [{ key: 'gpu_uuid', label: 'GPU' }, { key: 'host', label: 'host' }, { key: 'gpu_type', label: 'GPU type' }, { key: 'gpu_name', label: 'product' }, { key: 'gpu_hours', label: 'GPU time', unit: 'GPU-h', digits: 3 }],
          rows: unpriced.map((g) => ({ gpu_uuid: g.gpu_uuid, host: g.host, gpu_type: g.gpu_type, gpu_name: g.gpu_name, gpu_hours: g.gpu_ms / HOUR_MS })),
        },
      },
    ],
  }
}

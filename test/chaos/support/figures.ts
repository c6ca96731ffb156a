/** Small measuring helpers shared by the scenarios: peak memory sampling and timing. */

export type MemorySampler = { stop(): { peakRssMiB: number; peakHeapMiB: number; startRssMiB: number; startHeapMiB: number } }

const MiB = 1024 * 1024

/** Samples this process's RSS and heap every `intervalMs` until stopped; returns the peaks. */
export function sampleMemory(intervalMs = 50): MemorySampler {
  const first = process.memoryUsage()
  let peakRss = first.rss
  let peakHeap = first.heapUsed
  const timer = setInterval(() => {
    const m = process.memoryUsage()
    if (m.rss > peakRss) peakRss = m.rss
    if (m.heapUsed > peakHeap) peakHeap = m.heapUsed
  }, intervalMs)
  return {
    stop() {
      clearInterval(timer)
      const m = process.memoryUsage()
      return {
        peakRssMiB: round(Math.max(peakRss, m.rss) / MiB),
        peakHeapMiB: round(Math.max(peakHeap, m.heapUsed) / MiB),
        startRssMiB: round(first.rss / MiB),
        startHeapMiB: round(first.heapUsed / MiB),
      }
    },
  }
}

export function round(x: number, digits = 1): number {
  const f = 10 ** digits
  return Math.round(x * f) / f
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

export function seconds(fromMs: number, toMs = Date.now()): number {
  return round((toMs - fromMs) / 1000, 2)
}

/**
 * Host CPU utilization and memory from Linux's /proc, read the way top and free read them:
 * CPU busy share = 1 - (idle + iowait) / total over the interval between two reads of the
 * aggregate `cpu` line of /proc/stat (guest time is already inside user time, so it is not
 * added again); memory used = MemTotal - MemAvailable from /proc/meminfo, in MiB. Unreadable
 * or unparsable files give nulls, never an error: the GPU sample is still worth sending.
 */
import { readFile } from 'node:fs/promises'

export interface CpuTimes {
  readonly busy: number
  readonly total: number
}

export interface HostStats {
  readonly cpuPct: number | null
  readonly memUsedMb: number | null
  readonly memTotalMb: number | null
}

/** Busy and total jiffies of the aggregate `cpu` line, or null. */
export function parseProcStat(text: string): CpuTimes | null {
  const line = text.split('\n').find((l) => l.startsWith('cpu '))
  if (line === undefined) return null
  const v = line.trim().split(/\s+/).slice(1).map(Number)
  if (v.length < 4 || v.some((x) => !Number.isFinite(x))) return null
  // user nice system idle iowait irq softirq steal [guest guest_nice]: guest is inside user.
  const fields = v.slice(0, 8)
  const total = fields.reduce((s, x) => s + x, 0)
  const idle = (v[3] ?? 0) + (v[4] ?? 0)
  return { busy: total - idle, total }
}

export function cpuPercent(prev: CpuTimes, next: CpuTimes): number | null {
  const dt = next.total - prev.total
  if (dt <= 0) return null
  return Math.min(100, Math.max(0, (100 * (next.busy - prev.busy)) / dt))
}

/** MemTotal and MemTotal - MemAvailable (MiB), or nulls. */
export function parseMeminfo(text: string): { usedMb: number | null; totalMb: number | null } {
  const kb = (key: string): number | null => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)
    return m ? Number(m[1]) : null
  }
  const total = kb('MemTotal')
  const available = kb('MemAvailable')
  return {
    totalMb: total === null ? null : Math.round(total / 1024),
    usedMb: total === null || available === null ? null : Math.round((total - available) / 1024),
  }
}

export interface HostStatsReader {
  /** CPU share since the previous call (null on the first), and memory now. */
  read(): Promise<HostStats>
}

export function createHostStatsReader(paths: { stat: string; meminfo: string } = { stat: '/proc/stat', meminfo: '/proc/meminfo' }): HostStatsReader {
  let prev: CpuTimes | null = null
  const text = (p: string): Promise<string | null> => readFile(p, 'utf8').catch(() => null)
  return {
    async read() {
      const [stat, meminfo] = await Promise.all([text(paths.stat), text(paths.meminfo)])
      const times = stat === null ? null : parseProcStat(stat)
      const cpuPct = prev !== null && times !== null ? cpuPercent(prev, times) : null
      if (times !== null) prev = times
      const mem = meminfo === null ? { usedMb: null, totalMb: null } : parseMeminfo(meminfo)
      return { cpuPct: cpuPct === null ? null : Math.fround(Math.round(cpuPct * 10) / 10), memUsedMb: mem.usedMb, memTotalMb: mem.totalMb }
    },
  }
}

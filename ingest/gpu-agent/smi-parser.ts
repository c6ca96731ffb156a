/**
 * Parser of `nvidia-smi --query-gpu=<query-fields.ts> --format=csv,noheader,nounits` lines.
 *
 * Guarantees: every line gives exactly one outcome and nothing throws.
 * - `sample`: a GPU row; every asked-for field parsed, values padded with spaces trimmed,
 *   `[N/A]`, `[Not Supported]` and any other bracketed marker (`[Unknown Error]`,
 *   `[GPU requires reset]`) read as null and listed in `unavailable` by field name;
 * - `gpu-lost`: "Unable to determine the device handle for GPU<bus id>: <why>" (a GPU that fell
 *   off the bus, Xid 79, or one needing a reset), with its PCI bus id;
 * - `no-devices` / `driver-error`: nvidia-smi's own messages when it sees no GPU or no driver;
 * - `malformed`: anything else (wrong column count, a value that is not a number).
 * Timestamps are nvidia-smi's `YYYY/MM/DD HH:MM:SS.mmm` in the host's local time zone.
 */
import type { GpuSample } from '../../schemas/generated/types.ts'
import { BASE_FIELDS, REASON_SUFFIXES, REASONS } from './query-fields.ts'

/** A GPU row, without the host fields the agent adds. */
export type GpuRow = Omit<GpuSample, 'host' | 'worker_id' | 'host_cpu_pct' | 'host_mem_used_mb' | 'host_mem_total_mb' | 'last_xid' | 'source'> & {
  readonly busId: string | null
  readonly migMode: string | null
}

export type LineOutcome =
  | { readonly kind: 'sample'; readonly row: GpuRow; readonly unavailable: readonly string[] }
  | { readonly kind: 'gpu-lost'; readonly busId: string | null; readonly message: string }
  | { readonly kind: 'no-devices'; readonly message: string }
  | { readonly kind: 'driver-error'; readonly message: string }
  | { readonly kind: 'malformed'; readonly line: string; readonly reason: string }
  | { readonly kind: 'blank' }

const COLUMNS = BASE_FIELDS.length + REASON_SUFFIXES.length
const LOST_RE = /^Unable to determine the device handle for (?:GPU|gpu)\s*([0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-9A-Fa-f])?:?\s*(.*)$/
const TS_RE = /^(\d{4})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?$/

class Malformed extends Error {}

/** Local-time nvidia-smi timestamp → epoch ms, or null. */
export function parseSmiTimestamp(text: string): number | null {
  const m = TS_RE.exec(text)
  if (!m) return null
  const [, y, mo, d, h, mi, s, ms] = m
  return new Date(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), Number((ms ?? '0').padEnd(3, '0'))).getTime()
}

export function parseSmiLine(rawLine: string): LineOutcome {
  const line = rawLine.trim()
  if (line === '') return { kind: 'blank' }
  const lost = LOST_RE.exec(line)
  if (lost) return { kind: 'gpu-lost', busId: lost[1] ?? null, message: (lost[2] ?? '').trim() || line }
  if (/^No devices were found/i.test(line)) return { kind: 'no-devices', message: line }
  if (/^NVIDIA-SMI has failed|^Failed to initialize NVML|couldn't communicate with the NVIDIA driver/i.test(line)) return { kind: 'driver-error', message: line }
  const cells = line.split(',').map((c) => c.trim())
  if (cells.length !== COLUMNS) return { kind: 'malformed', line, reason: `${cells.length} columns, expected ${COLUMNS}` }
  try {
    return parseCells(cells)
  } catch (err) {
    if (err instanceof Malformed) return { kind: 'malformed', line, reason: err.message }
    throw err
  }
}

function parseCells(cells: string[]): LineOutcome {
  const unavailable: string[] = []
  const cell = (i: number): string | null => {
    const v = cells[i] as string
    if (v.startsWith('[') && v.endsWith(']')) {
      unavailable.push(i < BASE_FIELDS.length ? (BASE_FIELDS[i] as string) : `reasons.${REASON_SUFFIXES[i - BASE_FIELDS.length]}`)
      return null
    }
    return v
  }
  const num = (i: number): number | null => {
    const v = cell(i)
    if (v === null) return null
    const n = Number(v)
    if (v === '' || !Number.isFinite(n)) throw new Malformed(`${BASE_FIELDS[i]} is not a number: ${JSON.stringify(v)}`)
    return n
  }
  const int = (i: number): number | null => {
    const n = num(i)
    return n === null ? null : Math.round(n)
  }
  const ts = cell(0)
  const sampledAt = ts === null ? null : parseSmiTimestamp(ts)
  if (sampledAt === null) throw new Malformed(`timestamp is not YYYY/MM/DD HH:MM:SS.mmm: ${JSON.stringify(cells[0])}`)
  const index = int(1)
  const uuid = cell(2)
  if (index === null || uuid === null) throw new Malformed('index and uuid are required')
  const reasons: string[] = []
  REASON_SUFFIXES.forEach((suffix, k) => {
    const v = cell(BASE_FIELDS.length + k)
    if (v === 'Active') reasons.push(REASONS[suffix])
    else if (v !== null && v !== 'Not Active') throw new Malformed(`reason ${suffix} is neither Active nor Not Active: ${JSON.stringify(v)}`)
  })
  const f32 = (n: number | null): number | null => (n === null ? null : Math.fround(n))
  const row: GpuRow = {
    sampled_at: sampledAt,
    gpu_index: index,
    gpu_uuid: uuid,
    gpu_name: cell(3) ?? 'unknown',
    busId: cell(4),
    util_gpu_pct: f32(num(5)),
    util_mem_pct: f32(num(6)),
    mem_used_mb: int(7),
    mem_total_mb: int(8),
    temperature_c: f32(num(9)),
    power_w: f32(num(10)),
    power_limit_w: f32(num(11)),
    sm_clock_mhz: int(12),
    ecc_uncorrected: int(13),
    migMode: cell(14),
    throttle_reasons: reasons,
  }
  return { kind: 'sample', row, unavailable }
}

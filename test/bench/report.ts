/**
 * What a bench run reports: figures (name, value, unit, optional ceiling ratio), the machine and
 * versions, a progress line on stderr, the terminal table and the JSON file. Figures are plain
 * data so every scenario reports the same way and the JSON holds everything the table shows.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, freemem, totalmem, loadavg, platform, release } from 'node:os'
import { join } from 'node:path'

export type Figure = {
  scenario: string
  name: string
  value: number
  unit: string
  /** Name of the figure this one is bounded by, and value / that figure. */
  ceiling?: { name: string; ratio: number }
  note?: string
}

export type Machine = {
  cores: number
  cpuModel: string
  memoryGiB: number
  freeMemoryGiB: number
  loadAverage: number[]
  os: string
}

export function machine(): Machine {
  const c = cpus()
  return {
    cores: c.length,
    cpuModel: c[0]?.model ?? 'unknown',
    memoryGiB: round(totalmem() / 2 ** 30, 1),
    freeMemoryGiB: round(freemem() / 2 ** 30, 1),
    loadAverage: loadavg().map((l) => round(l, 2)),
    os: `${platform()} ${release()}`,
  }
}

export function round(v: number, digits = 0): number {
  const f = 10 ** digits
  return Math.round(v * f) / f
}

/** A single progress line, rewritten in place on a terminal, one line per update otherwise. */
export function progress(message: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${message}`)
  else process.stderr.write(`${message}\n`)
}
export function progressDone(): void {
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K')
}

function formatValue(v: number, unit: string): string {
  const digits = Math.abs(v) >= 100 || Number.isInteger(v) ? 0 : Math.abs(v) >= 1 ? 2 : 3
  return `${v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 })} ${unit}`
}

export function table(figures: Figure[]): string {
  const rows = figures.map((f) => [
    f.scenario,
    f.name,
    formatValue(f.value, f.unit),
    f.ceiling ? `${(f.ceiling.ratio * 100).toFixed(0)}% of ${f.ceiling.name}` : '',
  ])
  const head = ['scenario', 'figure', 'value', 'vs ceiling']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]) => cells.map((c, i) => (i === 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ')
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

export function writeResults(dir: string, doc: Record<string, unknown>): string {
  mkdirSync(dir, { recursive: true })
  const file = join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
  writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`)
  return file
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length === 0 ? NaN : s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

/** Nearest-rank quantile of an unsorted sample. */
export function quantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b)
  if (s.length === 0) return NaN
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!
}

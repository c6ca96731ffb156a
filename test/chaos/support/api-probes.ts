/**
 * Raw HTTP for the api-attack scenario: requests whose header list (duplicates, odd casing) and
 * body bytes (invalid UTF-8, BOM, no content type) are sent exactly as given, and a tally that
 * turns answers into a chaos row (expected answers, refusals, 5xx, p99, every unexpected answer).
 */
import { request } from 'node:http'
import type { ChaosRow } from '../scenario.ts'

export type Answer = { status: number; headers: Record<string, string | string[] | undefined>; body: string; ms: number }

/** One request; `headers` go out as written, in order, duplicates included. */
export function send(baseUrl: string, method: string, path: string, headers: [string, string][] = [], body?: Buffer | string): Promise<Answer> {
  const url = new URL(baseUrl)
  const started = performance.now()
  // With a raw header list Node adds no Host of its own, and HTTP/1.1 without Host is a 400.
  const raw = ['Host', url.host, ...headers.flat()]
  if (body !== undefined) raw.push('Content-Length', String(Buffer.byteLength(body)))
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, headers: raw }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - started }))
      res.on('error', reject)
    })
    // A server that answers before reading a huge body may close the socket under our write.
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? resolve({ status: 0, headers: {}, body: `(connection ${err.code})`, ms: performance.now() - started }) : reject(err)))
    req.end(body)
  })
}

export function isProblem(a: Answer): boolean {
  if (!String(a.headers['content-type'] ?? '').startsWith('application/problem+json')) return false
  try {
    const p = JSON.parse(a.body) as { status?: unknown; code?: unknown }
    return p.status === a.status && typeof p.code === 'string'
  } catch {
    return false
  }
}

export function codeOf(a: Answer): string | undefined {
  try {
    return (JSON.parse(a.body) as { code?: string }).code
  } catch {
    return undefined
  }
}

export function p99(ms: number[]): number {
  if (ms.length === 0) return 0
  const s = [...ms].sort((a, b) => a - b)
  return Math.round(s[Math.min(s.length - 1, Math.ceil(0.99 * s.length) - 1)]! * 10) / 10
}

/** Counts attempts, expected answers, refusals and 5xx of one row; keeps every unexpected answer. */
export class Tally {
  attempts = 0
  asExpected = 0
  refusals = 0
  expectedRefusals = 0
  fiveHundreds = 0
  readonly ms: number[] = []
  readonly problems: string[] = []

  /** `ok`: whether the answer is what this attempt expected; `refusal`: whether it was meant to be refused. */
  record(method: string, path: string, a: Answer, ok: boolean, refusal: boolean, why = ''): void {
    this.attempts++
    this.ms.push(a.ms)
    if (a.status >= 500 || a.status === 0) this.fiveHundreds++
    if (refusal) this.expectedRefusals++
    if (ok) {
      this.asExpected++
      if (refusal) this.refusals++
    } else {
      this.problems.push(`${method} ${path.slice(0, 120)} -> ${a.status}${why ? ` (${why})` : ''}: ${a.body.slice(0, 200)}`)
    }
  }

  row(scenario: string, name: string, figures: ChaosRow['figures'] = {}): ChaosRow {
    return {
      scenario, case: name, group: 'api', produced: this.attempts, delivered: this.asExpected, lost: 0, duplicated: 0,
      deadLettered: this.refusals, expectedDeadLetters: this.expectedRefusals,
      figures: { http5xx: this.fiveHundreds, p99Ms: p99(this.ms), ...figures }, problems: this.problems,
    }
  }
}

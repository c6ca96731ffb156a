/**
 * Property-based fuzzing of a listening query API from its own /openapi.json, by schemathesis
 * (installed from PyPI into the project's .venv on first use). Runs `st run` once per key (the
 * read key for every route but /v1/sql, the sql key for /v1/sql) with a bounded number of examples
 * per operation, and reads its NDJSON event report: operations tested, calls made (one per
 * recorded interaction), 5xx answers, schema violations, response times, and every failed check
 * with its operation. Failures are counted from the report, never from st's exit code.
 *
 * Checks excluded, and why (false positives of schemathesis, not of the API):
 * - positive_data_acceptance: `from`/`to` are free strings in the schema whose meaning ("-15m",
 *   ISO-8601) JSON Schema cannot express, a step must fit its range, an SLO name must be
 *   configured: schema-valid values are rightly refused with a 400 problem.
 * And one answer is not held against the API: a 431 for a URL past Node's 16 KiB header limit
 * comes from Node's HTTP parser before any route runs (not a problem document, not documented
 * per operation); such answers are counted apart as `headerLimit431`.
 */
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

export const EXCLUDED_CHECKS = ['positive_data_acceptance'] as const
/** Checks whose failure means an answer does not match its documented status, type or schema. */
const SCHEMA_CHECKS = new Set(['response_schema_conformance', 'status_code_conformance', 'content_type_conformance', 'response_headers_conformance'])

export type FuzzResult = {
  version: string
  operations: Set<string>
  calls: number
  fiveHundreds: number
  schemaViolations: number
  failures: string[]
  /** schemathesis' own errors (not answers of the API), with their operation. */
  toolErrors: string[]
  elapsedMs: number[]
  /** Failed checks on 431 answers of Node's header-size limit (see above). */
  headerLimit431: number
}

/** Ensures .venv/bin/st exists (venv + pip install schemathesis when missing); returns its version. */
export async function ensureSchemathesis(projectRoot: string): Promise<string> {
  const venv = join(projectRoot, '.venv')
  const st = join(venv, 'bin', 'st')
  if (!existsSync(join(venv, 'bin', 'pip'))) await run('python3', ['-m', 'venv', venv], { timeout: 120_000 })
  if (!existsSync(st)) await run(join(venv, 'bin', 'pip'), ['install', '-q', 'schemathesis'], { timeout: 600_000 })
  const { stdout } = await run(st, ['--version'], { timeout: 60_000 })
  return stdout.trim()
}

type Interaction = { request?: { method?: string; uri?: string }; response?: { status_code?: number; elapsed?: number } | null }
type Check = { name: string; status: string; failure_info?: { failure?: { title?: string; message?: string } } | null }
type Recorder = { label?: string; interactions?: Record<string, Interaction>; checks?: Record<string, Check[]> }

/** One `st run` against `baseUrl` with `key`; `paths`: include (only these) or exclude (all but these). */
export async function fuzzOnce(o: {
  projectRoot: string; baseUrl: string; key: string; reportDir: string; maxExamples: number
  include?: string[]; exclude?: string[]; seed: number; into: FuzzResult
}): Promise<void> {
  mkdirSync(o.reportDir, { recursive: true })
  const before = new Set(readdirSync(o.reportDir))
  const args = [
    'run', `${o.baseUrl}/openapi.json`, '--checks', 'all', '--exclude-checks', EXCLUDED_CHECKS.join(','),
    '-H', `Authorization: Bearer ${o.key}`, '--max-examples', String(o.maxExamples), '--phases', 'examples,coverage,fuzzing',
    '--no-shrink', '--workers', '2', '--seed', String(o.seed), '--max-failures', '10000', '--no-color', '--warnings', 'off',
    '--generation-database', 'none', '--report', 'ndjson', '--report-dir', o.reportDir, '--request-timeout', '30',
    ...(o.include ?? []).flatMap((p) => ['--include-path', p]), ...(o.exclude ?? []).flatMap((p) => ['--exclude-path', p]),
  ]
  // cwd: st keeps a .schemathesis folder in its working directory; not in the user's tree.
  // st exits 1 when it found failures: the report, not the exit code, says what happened.
  await run(join(o.projectRoot, '.venv', 'bin', 'st'), args, { cwd: o.reportDir, timeout: 300_000, maxBuffer: 64 * 1024 * 1024 }).catch((err: { code?: unknown; stderr?: string }) => {
    if (typeof err.code !== 'number') throw err
  })
  const report = readdirSync(o.reportDir).find((f) => f.endsWith('.ndjson') && !before.has(f))
  if (!report) throw new Error(`schemathesis wrote no NDJSON report into ${o.reportDir}`)
  readReport(readFileSync(join(o.reportDir, report), 'utf8'), o.into)
}

export function emptyFuzzResult(version: string): FuzzResult {
  return { version, operations: new Set(), calls: 0, fiveHundreds: 0, schemaViolations: 0, failures: [], toolErrors: [], elapsedMs: [], headerLimit431: 0 }
}

function readReport(ndjson: string, into: FuzzResult): void {
  const seen = new Set<string>()
  for (const line of ndjson.split('\n')) {
    if (line.trim() === '') continue
    const event = JSON.parse(line) as Record<string, { recorder?: Recorder; status?: string; label?: string; info?: unknown }>
    const finished = event['ScenarioFinished']
    if (finished) {
      const rec = finished.recorder ?? {}
      const label = rec.label ?? '(unknown operation)'
      if (finished.status === 'error') into.toolErrors.push(`${label}: schemathesis error`)
      if (Object.keys(rec.interactions ?? {}).length > 0) into.operations.add(label)
      for (const [id, it] of Object.entries(rec.interactions ?? {})) {
        if (seen.has(id)) continue
        seen.add(id)
        into.calls++
        const status = it.response?.status_code
        if (status !== undefined && status >= 500) into.fiveHundreds++
        if (it.response?.elapsed !== undefined) into.elapsedMs.push(it.response.elapsed * 1000)
      }
      for (const [id, checks] of Object.entries(rec.checks ?? {})) {
        const answeredByNode = rec.interactions?.[id]?.response?.status_code === 431
        for (const c of checks) {
          if (c.status !== 'failure') continue
          if (answeredByNode) {
            into.headerLimit431++
            continue
          }
          if (SCHEMA_CHECKS.has(c.name)) into.schemaViolations++
          const title = c.failure_info?.failure?.title ?? ''
          into.failures.push(`${label}: ${c.name} ${title}`.slice(0, 240))
        }
      }
    }
    const nonFatal = event['NonFatalError'] ?? event['FatalError']
    if (nonFatal) into.toolErrors.push(`${nonFatal.label ?? '(run)'}: ${JSON.stringify(nonFatal.info ?? nonFatal).slice(0, 200)}`)
  }
}

/**
 * The query API under attack, against two real listening APIs over a seeded embedded ClickHouse
 * with auth required (test/chaos/support/api-target.ts): schemathesis fuzzing from /openapi.json,
 * SQL injection in every GET parameter and refusal classes of POST /v1/sql, auth bypass
 * attempts, rate limits, content-type tricks. Each a row: attempts, answers as expected,
 * refusals got / expected, 5xx, p99, and every unexpected answer as a problem.
 */
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import type { ChaosRow, ChaosScenario } from '../scenario.ts'
import { ensureSchemathesis, emptyFuzzResult, EXCLUDED_CHECKS, fuzzOnce } from '../support/api-fuzz.ts'
import { attackAuth, attackContentTypes, attackRateLimit } from '../support/api-gate.ts'
import { attackSql, injectEveryParameter, injectionRows } from '../support/api-injection.ts'
import { p99 } from '../support/api-probes.ts'
import { startApiTarget } from '../support/api-target.ts'

const NAME = 'api-attack'
const PORTS = { main: 19370, strict: 19371 }
const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url))

export const apiAttack: ChaosScenario = {
  name: NAME,
  group: 'api',
  description: 'Fuzzes every route from the OpenAPI document (schemathesis), injects SQL in every parameter, tries auth bypasses, bursts past rate limits and sends content-type tricks to a real API with auth on.',
  async run(ctx) {
    ctx.progress('installing / finding schemathesis')
    const version = await ensureSchemathesis(PROJECT_ROOT)
    ctx.progress('seeding ClickHouse, starting two APIs')
    const t = await startApiTarget(ctx.workDir, PORTS)
    const rows: ChaosRow[] = []
    try {
      ctx.progress(`fuzzing with ${version}`)
      const fuzz = emptyFuzzResult(version)
      const maxExamples = ctx.quick ? 10 : 100
      const reportDir = join(ctx.workDir, 'schemathesis')
      await fuzzOnce({ projectRoot: PROJECT_ROOT, baseUrl: t.mainUrl, key: t.keys.read, reportDir, maxExamples, exclude: ['/v1/sql'], seed: 7, into: fuzz })
      await fuzzOnce({ projectRoot: PROJECT_ROOT, baseUrl: t.mainUrl, key: t.keys.sql, reportDir, maxExamples, include: ['/v1/sql'], seed: 7, into: fuzz })
      rows.push({
        scenario: NAME, case: `schemathesis fuzzing, ${maxExamples} examples per operation`, group: 'api',
        produced: fuzz.operations.size, delivered: fuzz.operations.size - new Set(fuzz.failures.map((f) => f.split(':')[0])).size,
        lost: 0, duplicated: 0, deadLettered: 0, expectedDeadLetters: 0,
        figures: {
          schemathesis: fuzz.version, calls: fuzz.calls, http5xx: fuzz.fiveHundreds, schemaViolations: fuzz.schemaViolations,
          p99Ms: p99(fuzz.elapsedMs), toolErrors: fuzz.toolErrors.length, headerLimit431: fuzz.headerLimit431, excludedChecks: EXCLUDED_CHECKS.join(','),
        },
        problems: [...fuzz.failures, ...(fuzz.calls === 0 ? ['schemathesis made no calls'] : [])],
      })

      ctx.progress('SQL injection in every GET parameter')
      const params = await injectEveryParameter(t.mainUrl, t.keys.read)
      ctx.progress('SQL endpoint refusals')
      const sql = await attackSql(t.mainUrl, t.keys.sql, t.seededRequests, 1)
      rows.push(...injectionRows(NAME, params, sql))

      ctx.progress('auth bypass attempts')
      rows.push((await attackAuth(t)).row(NAME, 'auth bypass: no/malformed/tampered/revoked key, wrong scope, query string, Basic, casing, double header, path spellings'))
      ctx.progress('rate limits')
      const rate = await attackRateLimit(t)
      rows.push(rate.tally.row(NAME, `rate limits: bursts of 3x the bucket (keyed, unauthenticated, SQL), refill`, { retryAfterSeconds: rate.retryAfterSeconds }))
      ctx.progress('content-type tricks')
      rows.push((await attackContentTypes(t)).row(NAME, 'content-type tricks on POST /v1/sql'))
      return rows
    } finally {
      await t.close()
    }
  },
}

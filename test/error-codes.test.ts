import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const SOURCE_DIRS = ['bin', 'ingest', 'transform', 'query-api', 'schemas', 'migrations']
const CODE = /['"`]((?:ING|TRF|API|MIG|SCH|CFG)_[A-Z0-9_]*[A-Z0-9])['"`]/g

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return name === 'node_modules' || name === 'fixtures' ? [] : sourceFiles(path)
    return path.endsWith('.ts') && !path.endsWith('.test.ts') && !path.includes('test-') ? [path] : []
  })
}

describe('docs/errors.md', () => {
  it('lists exactly the error codes the source uses', () => {
    const used = new Set<string>()
    for (const file of SOURCE_DIRS.flatMap(sourceFiles)) {
      for (const m of readFileSync(file, 'utf8').matchAll(CODE)) used.add(m[1]!)
    }
    const documented = new Set([...readFileSync('docs/errors.md', 'utf8').matchAll(/^\| `([A-Z]+_[A-Z0-9_]+)` \|/gm)].map((m) => m[1]!))
    expect([...used].filter((c) => !documented.has(c)).sort()).toEqual([])
    expect([...documented].filter((c) => !used.has(c)).sort()).toEqual([])
  })
})

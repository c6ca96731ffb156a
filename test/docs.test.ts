import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { renderReadme } from '../scripts/config-table.ts'

describe('README', () => {
  it('documents every configuration variable with its current default', () => {
    const readme = readFileSync('README.md', 'utf8')
    // a stale table means an option changed without its documentation: run `npm run docs:config`
    expect(renderReadme(readme)).toBe(readme)
  })

  it('has a quick start with the demo and test commands that package.json defines', () => {
    const readme = readFileSync('README.md', 'utf8')
    const scripts = JSON.parse(readFileSync('package.json', 'utf8')).scripts as Record<string, string>
    expect(readme).toMatch(/## Quick start[\s\S]*npm run demo[\s\S]*npm test/)
    expect(scripts.demo).toBe('bash scripts/demo.sh')
    expect(scripts.test).toBe('bash scripts/test.sh')
  })
})

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { formatReport, importCommand, parseImportArgs } from './command.ts'

const dir = mkdtempSync(join(tmpdir(), 'dw-import-cmd-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function io() {
  let err = ''
  return { io: { stdout: { write: () => true }, stderr: { write: (t: string) => ((err += t), true) } }, err: () => err }
}

describe('diffwatch import (command line)', () => {
  it('maps flags onto the configuration, validated with the environment', () => {
    const p = parseImportArgs(['--batch-size', '500', '--no-ledger', 'x.ndjson'], { KAFKA_BROKERS: 'k1:9092,k2:9092', IMPORT_BATCH_SIZE: '9' })
    expect([p.file, p.ledger, p.config.IMPORT_BATCH_SIZE, p.config.KAFKA_BROKERS]).toEqual(['x.ndjson', false, 500, 'k1:9092,k2:9092'])
    expect(() => parseImportArgs(['--batch-size', '0', 'x'], {})).toThrow('IMPORT_BATCH_SIZE')
    expect(() => parseImportArgs([], {})).toThrow('exactly one FILE')
  })

  it('says what is wrong with the file before connecting to Kafka (exit 2)', async () => {
    const missing = io()
    expect(await importCommand([join(dir, 'nope.ndjson')], { KAFKA_BROKERS: '127.0.0.1:1' }, missing.io)).toBe(2)
    expect(missing.err()).toContain('ING_IMPORT_NO_FILE')
    writeFileSync(join(dir, 'plain.txt'), 'GET /v1/generate 200\n')
    const text = io()
    expect(await importCommand([join(dir, 'plain.txt')], { KAFKA_BROKERS: '127.0.0.1:1' }, text.io)).toBe(2)
    expect(text.err()).toContain('ING_IMPORT_FORMAT')
  })

  it('reports rejections by reason and warns about records older than the raw retention', () => {
    const text = formatReport({ file: 'f', format: 'ndjson', gzip: true, read: 12, produced: 9, skipped: 0, rejected: 3, rejectedByReason: { invalid_json: 1, missing_model: 2 }, olderThanRetention: 4, bytes: 2e6, elapsedMs: 1000, recordsPerSec: 12, fatal: null, rejectsFile: 'f.rejects.ndjson' })
    expect(text.split('\n')).toEqual([
      'done: f (ndjson, gzip, 2.0 MB) in 1.0 s, 12 records/s',
      '  read 12, produced 9, rejected 3, already imported 0',
      '  rejected missing_model: 2',
      '  rejected invalid_json: 1',
      '  rejected records: f.rejects.ndjson',
      "  warning: 4 records completed more than 30 days ago: the raw table's TTL drops them at insert (they still count in the windowed aggregates)",
      '',
    ])
  })
})

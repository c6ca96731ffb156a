/**
 * The import ledger: how far an import of one log into one topic got, so that running the same
 * import again (or resuming an interrupted one) produces nothing twice to Kafka.
 *
 * Guarantees:
 * - an import is identified by the target topic and the file's content as stored, not by its
 *   path: the ledger is found by the SHA-256 of the first 1 KiB and holds the hash of the first
 *   64 KiB (or of the whole file, when smaller) seen last time; a renamed or copied log is the
 *   same import, a log that grew by appending (beyond its first KiB) keeps its identity and only
 *   its new records are produced; a different file whose first KiB happens to match starts over;
 * - `nextIndex` moves only after Kafka acknowledged every record before it (the importer calls
 *   `advance` in record order), and is written atomically (temp file + rename);
 * - a crash between an acknowledgement and the ledger write re-produces at most the batches in
 *   flight; those records carry the same event ids (event-id.ts) as the first time.
 */
import { createHash } from 'node:crypto'
import { open, mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

export interface LedgerEntry {
  readonly nextIndex: number
  readonly prefixBytes: number
  readonly prefixHash: string
  readonly topic: string
  readonly updatedAt: string
}

export interface ImportLedger {
  readonly key: string
  readonly path: string
  /** Records with an index below this were produced and acknowledged by an earlier run. */
  readonly startIndex: number
  advance(nextIndex: number): Promise<void>
}

const KEY_BYTES = 1024
const PREFIX_BYTES = 64 * 1024

async function readPrefix(path: string, bytes: number): Promise<Buffer> {
  const fh = await open(path, 'r')
  try {
    const buf = Buffer.alloc(bytes)
    const { bytesRead } = await fh.read(buf, 0, bytes, 0)
    return buf.subarray(0, bytesRead)
  } finally {
    await fh.close()
  }
}

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex')

export async function openLedger(stateDir: string, file: string, topic: string): Promise<ImportLedger> {
  const prefix = await readPrefix(file, PREFIX_BYTES)
  const key = sha256(`${topic}\0${sha256(prefix.subarray(0, KEY_BYTES))}`).slice(0, 32)
  const path = join(stateDir, `${key}.json`)
  await mkdir(stateDir, { recursive: true })
  let startIndex = 0
  try {
    const entry = JSON.parse(await readFile(path, 'utf8')) as Partial<LedgerEntry>
    const same = typeof entry.prefixBytes === 'number' && entry.prefixBytes <= prefix.length && sha256(prefix.subarray(0, entry.prefixBytes)) === entry.prefixHash
    if (same && typeof entry.nextIndex === 'number' && entry.nextIndex >= 0) startIndex = entry.nextIndex
  } catch {
    // No ledger yet (or an unreadable one): the import starts from the first record.
  }
  let current = startIndex
  return {
    key,
    path,
    startIndex,
    async advance(nextIndex) {
      if (nextIndex <= current) return
      current = nextIndex
      const entry: LedgerEntry = { nextIndex, prefixBytes: prefix.length, prefixHash: sha256(prefix), topic, updatedAt: new Date().toISOString() }
      await writeFile(`${path}.tmp`, `${JSON.stringify(entry)}\n`)
      await rename(`${path}.tmp`, path)
    },
  }
}

/**
 * Runs `diffwatch transform` as a child process, the way an operator deploys it, so fault tests
 * can SIGKILL or SIGTERM a real process. Its stderr (JSON log lines) is kept in memory and shown
 * when a test fails, and written whole to `logFile` when one is given; stdout is ignored.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

export type TransformerProcess = {
  readonly child: ChildProcess
  /** Exit code or signal name once exited. */
  readonly exited: Promise<string>
  /** The last log lines it wrote (stderr). */
  logTail(lines?: number): string
  kill(signal: NodeJS.Signals): Promise<string>
  /** Sends `signal` the moment a log line containing `needle` arrives (no polling delay). */
  killOn(needle: string, signal: NodeJS.Signals): void
}

export function spawnTransformer(env: Record<string, string>, args: string[] = ['--migrate'], logFile?: string): TransformerProcess {
  const child = spawn(process.execPath, [path.join(root, 'bin/diffwatch.js'), 'transform', ...args], {
    cwd: root,
    // PATH and HOME only from the parent: nothing else of the test's environment leaks in.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  const tail: string[] = []
  const triggers: { needle: string; signal: NodeJS.Signals }[] = []
  child.stderr!.setEncoding('utf8')
  if (logFile) child.stderr!.pipe(createWriteStream(logFile, { flags: 'a' }))
  child.stderr!.on('data', (chunk: string) => {
    for (const t of triggers) if (chunk.includes(t.needle) && child.exitCode === null) child.kill(t.signal)
    tail.push(...chunk.split('\n').filter(Boolean))
    if (tail.length > 400) tail.splice(0, tail.length - 400)
  })
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? String(code))))
  return {
    child,
    exited,
    logTail: (lines = 30) => tail.slice(-lines).join('\n'),
    killOn(needle, signal) {
      triggers.push({ needle, signal })
    },
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    },
  }
}

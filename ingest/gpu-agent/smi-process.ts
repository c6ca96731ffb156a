/**
 * Running nvidia-smi: a one-off probe that finds out whether it exists, sees GPUs and which name
 * the driver uses for clock reasons; then the stream of its output lines, from one long-lived
 * `-lms` process (the default: one process, nvidia-smi keeps NVML open) or one call per interval.
 *
 * Guarantees: the probe never throws, it answers with a stable code; the line stream restarts a
 * long-lived process that exited (counted, with a growing pause up to 30 s) until aborted, and
 * the child is killed when the stream ends.
 */
import { spawn, execFile } from 'node:child_process'
import { createInterface } from 'node:readline'
import { parseSmiLine } from './smi-parser.ts'
import { smiArgs, type ReasonPrefix } from './query-fields.ts'

export type ProbeResult =
  | { readonly ok: true; readonly prefix: ReasonPrefix; readonly gpus: number }
  | { readonly ok: false; readonly code: 'ING_GPU_NO_SMI' | 'ING_GPU_NO_DEVICES' | 'ING_GPU_DRIVER' | 'ING_GPU_PROBE'; readonly message: string }

function run(binary: string, args: string[]): Promise<{ output: string; missing: boolean; exitCode: number | null }> {
  return new Promise((resolve) => {
    execFile(binary, args, { timeout: 15_000, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: string | number }) | null
      const missing = e?.code === 'ENOENT' || e?.code === 'EACCES'
      resolve({ output: `${stdout}\n${stderr}`, missing, exitCode: e === null ? 0 : typeof e.code === 'number' ? e.code : null })
    })
  })
}

export async function probeSmi(binary: string): Promise<ProbeResult> {
  for (const prefix of ['clocks_event_reasons', 'clocks_throttle_reasons'] as const) {
    const r = await run(binary, smiArgs(prefix))
    if (r.missing) return { ok: false, code: 'ING_GPU_NO_SMI', message: `${binary} not found: no NVIDIA driver tools on this host (use --simulate for simulated samples)` }
    if (/is not a valid field to query/.test(r.output)) continue
    let gpus = 0
    for (const line of r.output.split('\n')) {
      const o = parseSmiLine(line)
      if (o.kind === 'no-devices') return { ok: false, code: 'ING_GPU_NO_DEVICES', message: `${binary}: ${o.message}` }
      if (o.kind === 'driver-error') return { ok: false, code: 'ING_GPU_DRIVER', message: `${binary}: ${o.message}` }
      if (o.kind === 'sample' || o.kind === 'gpu-lost') gpus += 1
    }
    if (gpus > 0) return { ok: true, prefix, gpus }
    return { ok: false, code: 'ING_GPU_PROBE', message: `${binary} printed no GPU row (exit ${r.exitCode}): ${r.output.trim().slice(0, 300)}` }
  }
  return { ok: false, code: 'ING_GPU_PROBE', message: `${binary} accepts neither clocks_event_reasons.* nor clocks_throttle_reasons.*` }
}

export type SmiEvent = { readonly kind: 'line'; readonly text: string } | { readonly kind: 'round-end' } | { readonly kind: 'restart'; readonly reason: string }

export interface SmiStreamOptions {
  readonly binary: string
  readonly prefix: ReasonPrefix
  readonly intervalMs: number
  /** loop: one long-lived `-lms` process; poll: one call per interval. */
  readonly mode: 'loop' | 'poll'
  readonly signal: AbortSignal
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(done, ms)
    function done(): void {
      clearTimeout(t)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })

export async function* smiEvents(o: SmiStreamOptions): AsyncGenerator<SmiEvent> {
  if (o.mode === 'poll') {
    while (!o.signal.aborted) {
      const started = Date.now()
      const r = await run(o.binary, smiArgs(o.prefix))
      for (const text of r.output.split('\n')) if (text.trim() !== '') yield { kind: 'line', text }
      yield { kind: 'round-end' }
      await sleep(Math.max(0, o.intervalMs - (Date.now() - started)), o.signal)
    }
    return
  }
  let pause = o.intervalMs
  while (!o.signal.aborted) {
    const child = spawn(o.binary, smiArgs(o.prefix, o.intervalMs), { stdio: ['ignore', 'pipe', 'pipe'] })
    const kill = (): void => {
      child.kill('SIGTERM')
    }
    o.signal.addEventListener('abort', kill, { once: true })
    const exited = new Promise<string>((resolve) => {
      child.once('error', (err) => resolve(err.message))
      child.once('close', (code, sig) => resolve(`exited with ${sig ?? code}`))
    })
    // Lost-GPU messages may come on stderr: both streams are read as lines.
    const lines = createInterface({ input: child.stdout })
    const errLines = createInterface({ input: child.stderr })
    const stderrQueue: string[] = []
    errLines.on('line', (l) => stderrQueue.push(l))
    let sawLine = false
    try {
      for await (const text of lines) {
        while (stderrQueue.length > 0) yield { kind: 'line', text: stderrQueue.shift() as string }
        sawLine = true
        yield { kind: 'line', text }
      }
    } finally {
      o.signal.removeEventListener('abort', kill)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    }
    const why = await exited
    for (const text of stderrQueue.splice(0)) yield { kind: 'line', text }
    if (o.signal.aborted) return
    yield { kind: 'restart', reason: why }
    pause = sawLine ? o.intervalMs : Math.min(30_000, pause * 2)
    await sleep(pause, o.signal)
  }
}

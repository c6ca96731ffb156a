/**
 * The simulator in a process of its own, for scenarios where it must not share the measured
 * process's JS thread (freshness: real workers are other machines). Options come as one JSON
 * argument (RunSimulationOptions without functions); progress goes to stdout as
 * `progress <json>` lines, the totals as one `totals <json>` line at the end. `runSimulationChild`
 * is the parent's side.
 */
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { runSimulation, type RunSimulationOptions, type SimulationProgress, type SimulationTotals } from '../../ingest/simulator/producer.ts'

type ChildOptions = Omit<RunSimulationOptions, 'onProgress' | 'signal' | 'sink'>

export function runSimulationChild(options: ChildOptions, onProgress?: (p: SimulationProgress) => void): Promise<SimulationTotals> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit'] })
  let totals: SimulationTotals | null = null
  createInterface({ input: child.stdout }).on('line', (line) => {
    const space = line.indexOf(' ')
    const [tag, body] = [line.slice(0, space), line.slice(space + 1)]
    if (tag === 'progress') onProgress?.(JSON.parse(body) as SimulationProgress)
    else if (tag === 'totals') totals = JSON.parse(body) as SimulationTotals
  })
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => {
      if (code === 0 && totals !== null) resolve(totals)
      else reject(new Error(`the simulator process ended with ${signal ?? `exit code ${code}`}${totals === null ? ' and no totals' : ''}`))
    })
  })
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const options = JSON.parse(process.argv[2] ?? '{}') as ChildOptions
  const totals = await runSimulation({ ...options, onProgress: (p) => process.stdout.write(`progress ${JSON.stringify(p)}\n`) })
  process.stdout.write(`totals ${JSON.stringify(totals)}\n`)
}

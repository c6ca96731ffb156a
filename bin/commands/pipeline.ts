/** `diffwatch run | transform | serve`: long-running services until SIGINT/SIGTERM. */
import { parseArgs } from 'node:util'
import { runUntilSignal, startServices } from './services.ts'

function migrateFlag(argv: string[], defaultValue: boolean): boolean {
  const { values } = parseArgs({ args: argv, options: { migrate: { type: 'boolean' }, 'no-migrate': { type: 'boolean' } } })
  if (values['no-migrate']) return false
  return values.migrate ?? defaultValue
}

export async function runCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return runUntilSignal(() => startServices(env, { transform: true, api: true, migrate: migrateFlag(argv, true) }))
}

export async function transformCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return runUntilSignal(() => startServices(env, { transform: true, api: false, migrate: migrateFlag(argv, false) }))
}

export async function serveCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return runUntilSignal(() => startServices(env, { transform: false, api: true, migrate: migrateFlag(argv, false) }))
}

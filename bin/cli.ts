/**
 * `diffwatch <command>`: one command for every part of the pipeline. Each sub-command parses its
 * own flags, reads its configuration once from the environment, and returns an exit code; errors
 * are printed with their stable code, never as a bare stack trace for a user's mistake.
 */
import { DiffwatchError } from '../schemas/errors.ts'
import { demoCommand } from './commands/demo.ts'
import { migrateCommand } from './commands/migrate.ts'
import { runCommand, serveCommand, transformCommand } from './commands/pipeline.ts'
import { simulateCommand } from '../ingest/simulator/command.ts'
import { gatewayCommand } from '../ingest/gateway/command.ts'
import { gpuAgentCommand } from '../ingest/gpu-agent/command.ts'
import { importCommand } from '../ingest/import/command.ts'
import { keysCommand } from './commands/keys.ts'
import { reportCommand } from './commands/report.ts'

type Command = { summary: string; run: (argv: string[], env: NodeJS.ProcessEnv) => Promise<number> }

const COMMANDS: Record<string, Command> = {
  demo: { summary: 'local Kafka + embedded ClickHouse + simulated fleet, then a summary and the API', run: demoCommand },
  run: { summary: 'transformer and query API in one process (embedded ClickHouse needs this)', run: runCommand },
  transform: { summary: 'the stream transformer (Kafka -> ClickHouse), one consumer-group member', run: transformCommand },
  serve: { summary: 'the query API (Fastify)', run: serveCommand },
  migrate: { summary: 'apply pending ClickHouse migrations (--status to list them)', run: migrateCommand },
  simulate: { summary: 'produce a realistic simulated diffusion fleet to Kafka', run: simulateCommand },
  'gpu-agent': { summary: "sample this host's GPUs with nvidia-smi into Kafka (--simulate without a GPU)", run: gpuAgentCommand },
  import: { summary: 'backfill request events from JSON/NDJSON logs (gzip or not)', run: importCommand },
  report: { summary: 'capacity, trend, cost or SLO report (markdown, html, csv, json)', run: reportCommand },
  keys: { summary: 'API keys of the query API: create --name N --scopes read,sql | list | revoke ID', run: keysCommand },
  gateway: { summary: 'HTTP gateway for workers that cannot speak Kafka: POST /v1/events (JSON, NDJSON, Avro)', run: gatewayCommand },
}

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length))
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
  return `usage: diffwatch <command> [flags]\n\ncommands:\n${lines.join('\n')}\n\nConfiguration comes from environment variables; see README.md.\n`
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(usage())
    return name === undefined ? 2 : 0
  }
  const command = COMMANDS[name]
  if (!command) {
    process.stderr.write(`diffwatch: unknown command ${JSON.stringify(name)}\n\n${usage()}`)
    return 2
  }
  try {
    return await command.run(rest, env)
  } catch (err) {
    if (err instanceof DiffwatchError) {
      process.stderr.write(`diffwatch ${name}: error ${err.code}: ${err.message}\n`)
      return 1
    }
    process.stderr.write(`diffwatch ${name}: unexpected error: ${err instanceof Error ? err.stack : String(err)}\n`)
    return 1
  }
}

/** `diffwatch migrate [--status]`: applies pending migrations, or lists applied and pending ones. */
import { parseArgs } from 'node:util'
import { openClickHouse } from '../../migrations/clickhouse.ts'
import { migrate, migrationStatus } from '../../migrations/runner.ts'
import { loadTransformConfig } from '../../transform/config.ts'
import { clickHouseOptions } from './services.ts'

export async function migrateCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { status: { type: 'boolean', default: false } } })
  const config = loadTransformConfig(env)
  const client = await openClickHouse(clickHouseOptions(config))
  try {
    if (values.status) {
      const s = await migrationStatus(client, { database: config.CLICKHOUSE_DATABASE })
      process.stdout.write(JSON.stringify(s, null, 2) + '\n')
      return s.changed.length > 0 ? 1 : 0
    }
    const applied = await migrate(client, { database: config.CLICKHOUSE_DATABASE, log: { info: (m: string) => process.stdout.write(m + '\n') } })
    process.stdout.write(applied.length === 0 ? 'migrations: up to date\n' : `migrations: applied ${applied.length}\n`)
    return 0
  } finally {
    await client.close()
  }
}

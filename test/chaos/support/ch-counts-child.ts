/**
 * Child process: opens an embedded ClickHouse folder (after the transformer that wrote it has
 * exited; chdb locks a folder per process, and the chaos runner's process must hold none), runs
 * the read-only queries given as JSON in argv[4] and prints `{name: rows}` as one JSON line.
 *
 *   node --import tsx ch-counts-child.ts <dataPath> <database> '{"name":"SELECT ..."}'
 */
import { openClickHouse } from '../../../migrations/clickhouse.ts'

const [dataPath, database, queriesJson] = process.argv.slice(2)
if (!dataPath || !database || !queriesJson) {
  process.stderr.write('usage: ch-counts-child.ts <dataPath> <database> <queries json>\n')
  process.exit(2)
}
const client = await openClickHouse({ dataPath, database })
const out: Record<string, unknown[]> = {}
for (const [name, query] of Object.entries(JSON.parse(queriesJson) as Record<string, string>)) {
  const rs = await client.query({ query, format: 'JSONEachRow' })
  out[name] = await rs.json()
}
await client.close()
process.stdout.write(`${JSON.stringify(out)}\n`)

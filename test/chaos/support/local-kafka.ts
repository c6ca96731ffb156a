/**
 * Local Kafka for fault scenarios, driven through scripts/kafka.sh: a private single broker or a
 * KRaft cluster of combined nodes on loopback, with each node stoppable and restartable. Stopping
 * is a controlled shutdown (SIGTERM), as an operator's restart would be. Every call resolves only
 * when the script finished (start: the node answers metadata requests).
 */
import { execFile } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')

export type LocalKafka = {
  readonly brokers: string
  readonly nodes: number
  start(): Promise<void>
  /** Stops node `i` (1-based); on a single broker, the broker. */
  stopNode(i: number): Promise<void>
  startNode(i: number): Promise<void>
  /** Stops every node and wipes the data (the next start formats afresh). */
  destroy(): Promise<void>
}

export function localKafka(o: { port: number; nodes: number; heap?: string }): LocalKafka {
  const brokers = Array.from({ length: o.nodes }, (_, i) => `127.0.0.1:${o.port + i}`).join(',')
  const { KAFKA_BROKERS: _external, ...inherited } = process.env
  const env = { ...inherited, KAFKA_PORT: String(o.port), KAFKA_BROKER_COUNT: String(o.nodes), KAFKA_HEAP: o.heap ?? '512m' }
  const script = (args: string[], extra: Record<string, string> = {}): Promise<void> =>
    new Promise((resolve, reject) => {
      execFile('bash', [path.join(root, 'scripts/kafka.sh'), ...args], { env: { ...env, ...extra }, cwd: root, timeout: 180_000 }, (err, _out, stderr) => {
        if (err) reject(new Error(`scripts/kafka.sh ${args.join(' ')} failed: ${err.message}\n${stderr}`))
        else resolve()
      })
    })
  const single = o.nodes === 1
  return {
    brokers,
    nodes: o.nodes,
    start: () => script(['start'], { KAFKA_DATA_RESET: '1' }),
    stopNode: (i) => script(single ? ['stop'] : ['stop-node', String(i)]),
    startNode: (i) => script(single ? ['start'] : ['start-node', String(i)]),
    async destroy() {
      await script(['stop'])
    },
  }
}

/**
 * The ClickHouse HTTP stand-in (test/support/clickhouse-http-server.ts) as a separate process the
 * fault scenarios can stop, SIGKILL and restart on the same port and data folder, the way an
 * operator's ClickHouse goes away and comes back. Also opens a diffwatch client on it, which is
 * how the runner reads any ClickHouse folder (the runner never opens embedded ClickHouse itself:
 * one folder per process, and scenarios use many).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import net from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ClickHouseClient } from '@clickhouse/client'
import { openClickHouse } from '../../../migrations/clickhouse.ts'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')
const SERVER = path.join(ROOT, 'test/support/clickhouse-http-server.ts')
/** Ports of this suite's ClickHouse stand-ins (the runner's block 19340-19349). */
const PORTS = Array.from({ length: 10 }, (_, i) => 19340 + i)

export type ClickHouseProcess = {
  readonly url: string
  readonly port: number
  pid(): number | undefined
  running(): boolean
  /** SIGTERM and wait: the engine closes cleanly and releases the folder. */
  stop(): Promise<void>
  /** SIGKILL and wait: ClickHouse crashing. */
  kill(): Promise<void>
  /** Starts it again on the same port and folder. */
  start(): Promise<void>
  client(database: string): Promise<ClickHouseClient>
  close(): Promise<void>
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port })
    s.once('connect', () => (s.destroy(), resolve(true)))
    s.once('error', () => resolve(false))
  })
}

async function freePort(): Promise<number> {
  for (const p of PORTS) if (!(await listening(p))) return p
  throw new Error(`ports ${PORTS[0]}-${PORTS.at(-1)} are all taken: another chaos run is going on`)
}

export async function startClickHouseProcess(dataPath: string): Promise<ClickHouseProcess> {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  let child: ChildProcess | null = null
  let exited: Promise<void> = Promise.resolve()
  const clients: ClickHouseClient[] = []
  const launch = async () => {
    const c = spawn(process.execPath, ['--import', 'tsx', SERVER, '--data', dataPath, '--port', String(port)], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
    })
    child = c
    exited = new Promise((r) => c.once('exit', () => r()))
    let err = ''
    c.stderr!.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-4000)))
    await new Promise<void>((resolve, reject) => {
      c.stdout!.setEncoding('utf8').on('data', (d: string) => d.includes('listening on') && resolve())
      c.once('exit', (code) => reject(new Error(`the ClickHouse stand-in exited (${code}) before listening:\n${err}`)))
    })
  }
  const signal = async (sig: NodeJS.Signals) => {
    const c = child
    if (c && c.exitCode === null && c.signalCode === null) c.kill(sig)
    await exited
    child = null
  }
  await launch()
  return {
    url,
    port,
    pid: () => child?.pid,
    running: () => child !== null && child.exitCode === null,
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
    start: launch,
    async client(database) {
      const c = await openClickHouse({ url, database })
      clients.push(c)
      return c
    },
    async close() {
      for (const c of clients.splice(0)) await c.close().catch(() => undefined)
      await signal('SIGTERM')
    },
  }
}

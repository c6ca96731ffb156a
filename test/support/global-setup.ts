/**
 * Global setup of the integration project: makes one real Kafka broker available to every test
 * file and publishes its address as KAFKA_BROKERS (forked test workers are spawned after this
 * runs and copy process.env; the same value is also provided as inject('kafkaBrokers')).
 *
 * Where the broker comes from, first match wins:
 *  1. KAFKA_BROKERS is set: that cluster is used and nothing is started.
 *  2. A Docker engine answers `docker info`: Kafka in a container (testcontainers, apache/kafka).
 *  3. Java is installed: the project's own broker (scripts/kafka.sh, jars from Maven Central) on a
 *     test port, from 19093 up (KAFKA_TEST_PORT pins one), with wiped data, stopped in teardown.
 *  4. Otherwise the run fails and says what to install or set.
 * KAFKA_TEST_BROKER=local or =docker skips the detection and insists on that path.
 *
 * Test runs may overlap on one machine (several engineers, or a watch run next to a CI run):
 * each run claims its port with a lock file, so no run restarts or wipes another run's broker.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { TestProject } from 'vitest/node'

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string
  }
}

type Broker = { brokers: string; teardown: () => Promise<void> }

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const cacheDir = path.join(root, '.cache/kafka')
const KAFKA_IMAGE = process.env.KAFKA_TEST_IMAGE ?? 'apache/kafka:4.3.1'
const FIRST_TEST_PORT = 19093
const log = (msg: string) => console.log(`[integration] Kafka: ${msg}`)

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const broker = await provideBroker()
  process.env.KAFKA_BROKERS = broker.brokers
  project.provide('kafkaBrokers', broker.brokers)
  return broker.teardown
}

async function provideBroker(): Promise<Broker> {
  if (process.env.KAFKA_BROKERS) {
    log(`using the cluster in KAFKA_BROKERS=${process.env.KAFKA_BROKERS}; starting nothing`)
    return { brokers: process.env.KAFKA_BROKERS, teardown: async () => {} }
  }
  const only = process.env.KAFKA_TEST_BROKER
  if (only !== undefined && only !== 'local' && only !== 'docker') {
    throw new Error(`KAFKA_TEST_BROKER must be "local" or "docker", got ${JSON.stringify(only)}`)
  }
  if (only !== 'local' && succeeds('docker', ['info'])) return startContainer()
  if (only === 'docker') throw new Error('KAFKA_TEST_BROKER=docker, but `docker info` does not answer: start a Docker engine')
  if (succeeds(javaBin(), ['-version'])) return startLocalBroker()
  throw new Error(
    'The integration tests need a Kafka broker, and none can be had here: there is no KAFKA_BROKERS, no ' +
      'Docker engine answering `docker info`, and no Java. Install Java 17+ (e.g. apt-get install ' +
      'openjdk-17-jre-headless, plus maven for the first fetch) and the suite starts its own broker, or ' +
      'start a Docker engine, or set KAFKA_BROKERS=host:port to an existing Kafka cluster.',
  )
}

function succeeds(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore', timeout: 5_000 }).status === 0
}

function javaBin(): string {
  return process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, 'bin', 'java') : 'java'
}

async function startLocalBroker(): Promise<Broker> {
  const port = await claimPort()
  const { KAFKA_BROKERS: _external, ...inherited } = process.env
  // No KAFKA_BROKERS in the script's env, or its stop would think an external cluster is in use.
  const env = { ...inherited, KAFKA_PORT: String(port), KAFKA_DATA_RESET: '1', KAFKA_HEAP: process.env.KAFKA_HEAP ?? '512m' }
  const script = path.join(root, 'scripts/kafka.sh')
  log(`no KAFKA_BROKERS and no Docker engine; starting the project's broker (scripts/kafka.sh) on 127.0.0.1:${port}`)
  try {
    execFileSync('bash', [script, 'start'], { env, stdio: 'inherit', cwd: root })
  } catch {
    releasePort(port)
    throw new Error(`scripts/kafka.sh could not start a broker on port ${port}; its output above says why`)
  }
  return {
    brokers: `127.0.0.1:${port}`,
    teardown: async () => {
      try {
        execFileSync('bash', [script, 'stop'], { env, stdio: 'inherit', cwd: root })
      } finally {
        releasePort(port)
      }
    },
  }
}

/**
 * Claims a test port with an exclusive lock file (`wx` creation is atomic). A lock whose owner
 * died is taken over, and so is the broker it left running (scripts/kafka.sh restarts it with
 * wiped data). A free lock on a port that something else listens on is skipped.
 */
async function claimPort(): Promise<number> {
  const pinned = process.env.KAFKA_TEST_PORT
  const candidates = pinned ? [Number(pinned)] : Array.from({ length: 10 }, (_, i) => FIRST_TEST_PORT + i)
  mkdirSync(cacheDir, { recursive: true })
  for (const port of candidates) {
    const lock = lockFile(port)
    let stale = false
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' })
    } catch {
      if (alive(Number(readFileSync(lock, 'utf8')))) continue
      rmSync(lock, { force: true })
      try {
        writeFileSync(lock, String(process.pid), { flag: 'wx' })
      } catch {
        continue
      }
      stale = true
    }
    if (!stale && ((await listening(port)) || (await listening(port + 1000)))) {
      releasePort(port)
      continue
    }
    return port
  }
  throw new Error(
    pinned
      ? `KAFKA_TEST_PORT=${pinned} is in use by another test run or process (lock ${lockFile(Number(pinned))})`
      : `ports ${candidates[0]}-${candidates.at(-1)} are all in use by other test runs or processes; set KAFKA_TEST_PORT`,
  )
}

function lockFile(port: number): string {
  return path.join(cacheDir, `test-run-${port}.lock`)
}

function releasePort(port: number): void {
  rmSync(lockFile(port), { force: true })
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port })
    socket.once('connect', () => (socket.destroy(), resolve(true)))
    socket.once('error', () => resolve(false))
  })
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

/**
 * Kafka in a container. The advertised listener must be the address the tests dial, i.e. the
 * Docker host and the host port, and it is baked in at start: so the host port is chosen up
 * front instead of letting Docker pick one. The apache/kafka image drops its whole default
 * configuration once any KAFKA_* setting is given, hence the complete KRaft configuration.
 */
async function startContainer(): Promise<Broker> {
  const { GenericContainer, Wait, getContainerRuntimeClient } = await import('testcontainers')
  const host = (await getContainerRuntimeClient()).info.containerRuntime.host
  const hostPort = await freePort()
  log(`a Docker engine answers; starting ${KAFKA_IMAGE} with testcontainers, advertised as ${host}:${hostPort}`)
  const container = await new GenericContainer(KAFKA_IMAGE)
    .withExposedPorts({ container: 9092, host: hostPort })
    .withEnvironment({
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
      KAFKA_LISTENERS: 'PLAINTEXT://:9092,CONTROLLER://:9093',
      KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://${host}:${hostPort}`,
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_INTER_BROKER_LISTENER_NAME: 'PLAINTEXT',
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
      KAFKA_NUM_PARTITIONS: '1',
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS: '10',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
      KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR: '1',
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
    })
    .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
    .withStartupTimeout(120_000)
    .start()
  return {
    brokers: `${host}:${hostPort}`,
    teardown: async () => {
      await container.stop()
    },
  }
}

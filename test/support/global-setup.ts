/**
 * Global setup of the integration tier: makes a real Kafka broker available and exports its
 * address as KAFKA_BROKERS to every test process.
 *
 *  1. KAFKA_BROKERS already set: that cluster is used; nothing is started.
 *  2. Java present: the project's own broker (scripts/kafka.sh) on a test port (KAFKA_TEST_PORT,
 *     default 19192), with fresh data, stopped again in teardown.
 *  3. A Docker engine answering: Kafka from testcontainers (apache/kafka image).
 *  4. None of these: the run fails and says what is missing.
 *
 * The local broker comes before Docker: it needs nothing but Java, starts in ~2 s, and its
 * version is pinned by the project rather than by an image tag.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import type { TestProject } from 'vitest/node'

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string
  }
}

function has(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore', timeout: 5_000 }).status === 0
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.env.KAFKA_BROKERS) {
    console.log(`[integration] using the Kafka cluster in KAFKA_BROKERS=${process.env.KAFKA_BROKERS}`)
    project.provide('kafkaBrokers', process.env.KAFKA_BROKERS)
    return async () => {}
  }
  if (has('java', ['-version'])) {
    const port = process.env.KAFKA_TEST_PORT ?? '19192'
    const env = { ...process.env, KAFKA_PORT: port, KAFKA_DATA_RESET: '1' }
    console.log(`[integration] starting the project's local Kafka broker on 127.0.0.1:${port}`)
    execFileSync('bash', ['scripts/kafka.sh', 'start'], { env, stdio: 'inherit' })
    const brokers = `127.0.0.1:${port}`
    process.env.KAFKA_BROKERS = brokers
    project.provide('kafkaBrokers', brokers)
    return async () => {
      execFileSync('bash', ['scripts/kafka.sh', 'stop'], { env, stdio: 'inherit' })
    }
  }
  if (has('docker', ['info'])) {
    const { GenericContainer, Wait } = await import('testcontainers')
    console.log('[integration] starting Kafka with testcontainers (apache/kafka)')
    const hostPort = 29092
    const container = await new GenericContainer('apache/kafka:4.1.1')
      .withExposedPorts({ container: 9092, host: hostPort })
      .withEnvironment({
        KAFKA_LISTENERS: 'PLAINTEXT://:9092,CONTROLLER://:9093',
        KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${hostPort}`,
        KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
        KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      })
      .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
      .start()
    const brokers = `127.0.0.1:${hostPort}`
    process.env.KAFKA_BROKERS = brokers
    project.provide('kafkaBrokers', brokers)
    return async () => {
      await container.stop()
    }
  }
  throw new Error(
    'integration tests need a Kafka broker and none could be found: install Java 17 (the suite then starts ' +
      'its own broker from Maven Central jars via scripts/kafka.sh), or run a Docker engine (testcontainers), ' +
      'or set KAFKA_BROKERS=host:port to an existing cluster',
  )
}

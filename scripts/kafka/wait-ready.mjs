// Waits until a Kafka broker answers metadata requests (kafkajs admin describeCluster), so that
// "started" means a client can use it, not merely that a JVM is up. Used by scripts/kafka.sh.
//
//   node wait-ready.mjs <host:port> <timeoutSeconds> [brokerPid]
//
// Exit 0: ready. Exit 1: no answer before the timeout. Exit 2: the broker process (brokerPid)
// died while we waited, so there is no point in waiting out the timeout.
import { Kafka, logLevel } from 'kafkajs'

const [broker, timeoutArg, pidArg] = process.argv.slice(2)
if (!broker) {
  console.error('usage: node wait-ready.mjs <host:port> <timeoutSeconds> [brokerPid]')
  process.exit(64)
}
const deadline = Date.now() + Number(timeoutArg ?? 60) * 1000
const pid = pidArg ? Number(pidArg) : undefined
const kafka = new Kafka({
  clientId: 'diffwatch-wait-ready',
  brokers: [broker],
  logLevel: logLevel.NOTHING,
  retry: { retries: 0 },
  connectionTimeout: 1000,
  requestTimeout: 5000,
})

function alive(p) {
  try {
    process.kill(p, 0)
    return true
  } catch (err) {
    return err.code === 'EPERM'
  }
}

let lastError = 'no answer yet'
while (Date.now() < deadline) {
  if (pid !== undefined && !alive(pid)) {
    console.error(`kafka: the broker process (pid ${pid}) exited during start-up`)
    process.exit(2)
  }
  const admin = kafka.admin()
  try {
    await admin.connect()
    const cluster = await admin.describeCluster()
    await admin.disconnect()
    console.log(`kafka: ${broker} answers metadata requests (cluster ${cluster.clusterId}, ${cluster.brokers.length} broker(s))`)
    process.exit(0)
  } catch (err) {
    lastError = err instanceof Error ? `${err.name}: ${err.message}` : String(err)
    await admin.disconnect().catch(() => {})
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}
console.error(`kafka: ${broker} did not answer metadata requests within ${timeoutArg ?? 60} s (last error: ${lastError})`)
process.exit(1)

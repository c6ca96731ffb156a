// Waits until a Kafka broker answers metadata requests (kafkajs describeCluster), or fails after
// a timeout. Usage: node wait-ready.mjs host:port timeoutSeconds
import { Kafka, logLevel } from 'kafkajs'

const [broker, timeoutArg] = process.argv.slice(2)
const deadline = Date.now() + Number(timeoutArg ?? 60) * 1000
const kafka = new Kafka({ clientId: 'diffwatch-wait-ready', brokers: [broker], logLevel: logLevel.NOTHING, retry: { retries: 0 }, connectionTimeout: 1000 })

let lastError = 'no answer'
while (Date.now() < deadline) {
  const admin = kafka.admin()
  try {
    await admin.connect()
    const cluster = await admin.describeCluster()
    await admin.disconnect()
    console.log(`kafka: broker ${broker} ready (cluster ${cluster.clusterId}, ${cluster.brokers.length} broker(s))`)
    process.exit(0)
  } catch (err) {
    lastError = err instanceof Error ? err.message : String(err)
    await admin.disconnect().catch(() => {})
    await new Promise((r) => setTimeout(r, 300))
  }
}
console.error(`kafka: broker ${broker} did not answer metadata requests in time (${lastError})`)
process.exit(1)

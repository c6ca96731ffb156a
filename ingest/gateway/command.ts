/**
 * `diffwatch gateway`: the HTTP gateway as a service. Configuration is read once from the
 * environment (every variable and default below); SIGINT/SIGTERM stop intake (close the HTTP
 * server, letting requests in flight finish and their Kafka sends settle), then close Kafka.
 */
import { Type } from '@sinclair/typebox'
import { createCodec } from '../../schemas/codec.ts'
import { loadConfig } from '../../schemas/config.ts'
import { topicSet } from '../../schemas/topics.ts'
import { createKafkaTransport } from '../sdk/kafka-transport.ts'
import { parseKeyHashes } from './api-keys.ts'
import { buildGateway } from './app.ts'

export const GatewayConfigSchema = Type.Object({
  KAFKA_BROKERS: Type.String({ default: '127.0.0.1:19092', description: 'Comma-separated bootstrap brokers.' }),
  TOPIC_PREFIX: Type.String({ default: '', description: 'Prefix of the diffwatch topic names.' }),
  GATEWAY_HOST: Type.String({ default: '0.0.0.0', description: 'Address the gateway listens on.' }),
  GATEWAY_PORT: Type.Integer({ default: 8787, minimum: 0, maximum: 65535, description: 'Port the gateway listens on.' }),
  GATEWAY_API_KEY_SHA256: Type.String({ minLength: 64, description: 'Comma-separated SHA-256 hex hashes of accepted API keys (echo -n KEY | sha256sum).' }),
  GATEWAY_BODY_LIMIT_BYTES: Type.Integer({ default: 1_048_576, minimum: 1024, description: 'Largest request body as sent (gzip or not).' }),
  GATEWAY_MAX_DECOMPRESSED_BYTES: Type.Integer({ default: 8_388_608, minimum: 1024, description: 'Largest body after gzip inflation.' }),
  GATEWAY_MAX_RECORDS: Type.Integer({ default: 5000, minimum: 1, description: 'Most records in one request.' }),
  GATEWAY_KAFKA_TIMEOUT_MS: Type.Integer({ default: 5000, minimum: 100, description: 'Kafka connect / produce timeout before a 503.' }),
})

const USAGE = 'usage: diffwatch gateway\n\nServes POST /v1/events; configuration from the environment (see docs/gateway-python.md).\n'

export async function gatewayCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE)
    return 0
  }
  if (argv.length > 0) {
    process.stderr.write(`unknown argument ${argv[0]}\n${USAGE}`)
    return 2
  }
  const c = loadConfig(GatewayConfigSchema, env)
  const brokers = c.KAFKA_BROKERS.split(',').map((b) => b.trim()).filter(Boolean)
  const transport = createKafkaTransport({ brokers, clientId: 'diffwatch-gateway', compression: 'gzip', requestTimeoutMs: c.GATEWAY_KAFKA_TIMEOUT_MS })
  const app = buildGateway({
    transport,
    codec: createCodec(),
    topics: topicSet(c.TOPIC_PREFIX),
    apiKeyHashes: parseKeyHashes(c.GATEWAY_API_KEY_SHA256),
    bodyLimitBytes: c.GATEWAY_BODY_LIMIT_BYTES,
    limits: { maxDecompressedBytes: c.GATEWAY_MAX_DECOMPRESSED_BYTES, maxRecords: c.GATEWAY_MAX_RECORDS },
    logger: true,
  })
  const address = await app.listen({ host: c.GATEWAY_HOST, port: c.GATEWAY_PORT })
  process.stdout.write(`diffwatch gateway listening on ${address}\n`)
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'))
    process.once('SIGTERM', () => resolve('SIGTERM'))
  })
  process.stdout.write(`${signal}: stopping intake, then closing Kafka\n`)
  await app.close()
  await transport.close()
  return 0
}

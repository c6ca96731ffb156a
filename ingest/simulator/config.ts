/**
 * Configuration of `diffwatch simulate`, read once from the environment (command-line flags are
 * mapped onto the same variables first, so both are validated together). Every option, its
 * default and its bounds live here.
 */
import { Type, type Static } from '@sinclair/typebox'
import { loadConfig } from '../../schemas/config.ts'
import { GPU_TYPES } from './catalog.ts'
import { parseDiurnal } from './diurnal.ts'

export const SimulatorConfigSchema = Type.Object({
  KAFKA_BROKERS: Type.String({ default: '127.0.0.1:19092', description: 'Comma-separated bootstrap brokers.' }),
  KAFKA_CLIENT_ID: Type.String({ default: 'diffwatch-simulator' }),
  TOPIC_PREFIX: Type.String({ default: '', description: 'Prefix of the diffwatch topics (isolated test runs).' }),
  SIM_RATE: Type.Number({ default: 50, exclusiveMinimum: 0, maximum: 5_000_000, description: 'Events per second, requests and GPU samples together.' }),
  SIM_DURATION_SEC: Type.Number({ default: 60, exclusiveMinimum: 0, maximum: 30 * 86_400, description: 'Seconds of events (simulated time; wall-clock time too in real-time mode).' }),
  SIM_SEED: Type.Integer({ default: 1, minimum: 0, maximum: 4_294_967_295, description: 'Same seed, same events.' }),
  SIM_REALTIME: Type.Boolean({ default: true, description: 'Release events at wall-clock pace with event time = now; false: produce as fast as possible.' }),
  SIM_START_MS: Type.Integer({ default: 0, minimum: 0, description: 'Epoch ms of the first simulated instant when not real-time; 0: now - duration.' }),
  SIM_HOSTS: Type.Integer({ default: 0, minimum: 0, maximum: 100_000, description: '0: as many hosts (at least 4) as SIM_RATE needs at SIM_TARGET_LOAD.' }),
  SIM_GPUS_PER_HOST: Type.Integer({ default: 2, minimum: 1, maximum: 16 }),
  SIM_GPU_MIX: Type.String({ default: 'H100-80GB,A100-40GB,L4-24GB', description: `GPU type of each host, cycled (known: ${Object.keys(GPU_TYPES).join(', ')}).` }),
  SIM_TARGET_LOAD: Type.Number({ default: 0.6, exclusiveMinimum: 0, maximum: 10, description: 'Offered load (arrivals / fleet capacity) the fleet is sized for when SIM_HOSTS=0.' }),
  SIM_SAMPLE_INTERVAL_MS: Type.Integer({ default: 1000, minimum: 10, maximum: 3_600_000, description: 'GPU sampling interval per GPU.' }),
  SIM_QUEUE_TIMEOUT_MS: Type.Integer({ default: 60_000, minimum: 1, description: 'A request still queued after this long is answered 503 queue_timeout.' }),
  SIM_INFERENCE_TIMEOUT_MS: Type.Integer({ default: 20_000, minimum: 1, description: 'Workers abort a pipeline call running longer than this (504 timeout).' }),
  SIM_IDLE_UNLOAD_MS: Type.Integer({ default: 900_000, minimum: 1, description: 'An idle worker unloads its model after this long (next request is a cold start).' }),
  SIM_COLD_START_PROBABILITY: Type.Number({ default: 0.002, minimum: 0, maximum: 1 }),
  SIM_ERROR_SCALE: Type.Number({ default: 1, minimum: 0, maximum: 20, description: 'Multiplier on the random error rates (0: none; OOM, timeouts and queue timeouts remain).' }),
  SIM_DIURNAL: Type.String({ default: 'off', description: 'Daily curve on the request rate: off, cosine:AMPLITUDE[:PEAK_HOUR_UTC] (e.g. cosine:0.6:15), or 24 hourly weights from 00:00 UTC; the mean rate stays SIM_RATE.' }),
  SIM_COMPRESSION: Type.Union([Type.Literal('none'), Type.Literal('gzip')], { default: 'none', description: 'Kafka batch compression.' }),
  SIM_BATCH_MESSAGES: Type.Integer({ default: 5000, minimum: 1, maximum: 100_000, description: 'Messages per sendBatch call (both topics together).' }),
  SIM_MAX_IN_FLIGHT: Type.Integer({ default: 2, minimum: 1, maximum: 16, description: 'sendBatch calls awaiting acks at once.' }),
  SIM_CREATE_TOPICS_PARTITIONS: Type.Integer({ default: 6, minimum: 0, maximum: 1000, description: 'Creates missing topics with this many partitions; 0: never create topics.' }),
  SIM_GROUND_TRUTH: Type.String({ default: '', description: 'File to write every produced event to (NDJSON); empty: none.' }),
})

export type SimulatorConfig = Static<typeof SimulatorConfigSchema>

export function loadSimulatorConfig(env: Record<string, string | undefined> = process.env): Readonly<SimulatorConfig> {
  return loadConfig(SimulatorConfigSchema, env, [
    (c) => (c.KAFKA_BROKERS.split(',').every((b) => /^[^\s:]+:\d+$/.test(b.trim())) ? [] : [`KAFKA_BROKERS must be host:port[,host:port...], got ${JSON.stringify(c.KAFKA_BROKERS)}`]),
    (c) => {
      try {
        parseDiurnal(c.SIM_DIURNAL)
        return []
      } catch (err) {
        return [`SIM_DIURNAL: ${(err as Error).message}`]
      }
    },
    (c) => {
      const unknown = gpuMix(c).filter((t) => GPU_TYPES[t] === undefined)
      return unknown.length === 0 ? [] : [`SIM_GPU_MIX names unknown GPU types: ${unknown.join(', ')} (known: ${Object.keys(GPU_TYPES).join(', ')})`]
    },
  ])
}

export function gpuMix(c: Pick<SimulatorConfig, 'SIM_GPU_MIX'>): string[] {
  return c.SIM_GPU_MIX.split(',').map((s) => s.trim()).filter((s) => s !== '')
}

export function brokerList(c: Pick<SimulatorConfig, 'KAFKA_BROKERS'>): string[] {
  return c.KAFKA_BROKERS.split(',').map((s) => s.trim()).filter((s) => s !== '')
}

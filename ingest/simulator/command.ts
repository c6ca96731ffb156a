/**
 * `diffwatch simulate`: flags are mapped onto the simulator's environment variables, validated
 * together with the environment in one pass, then the run is started. Progress is one updating
 * line on a terminal (plain lines otherwise), a summary follows; Ctrl-C stops the run cleanly.
 * Exit codes: 0 done, 1 failure (Kafka), 2 usage or configuration error, 130 interrupted.
 */
import { parseArgs } from 'node:util'
import { DiffwatchError, isDiffwatchError } from '../../schemas/errors.ts'
import { topicSet } from '../../schemas/topics.ts'
import { parseDiurnal } from './diurnal.ts'
import { brokerList, gpuMix, loadSimulatorConfig, type SimulatorConfig } from './config.ts'
import { runSimulation, type SimulationProgress, type SimulationTotals } from './producer.ts'

export interface CommandIo {
  readonly stdout: { write(text: string): unknown; isTTY?: boolean }
  readonly stderr: { write(text: string): unknown; isTTY?: boolean }
}

const USAGE = `usage: diffwatch simulate [flags]

Produces a simulated diffusion-serving fleet (request events and GPU samples) to Kafka.

  --rate N             events per second, requests and GPU samples together   (SIM_RATE, 50)
  --duration SEC       seconds of events                                        (SIM_DURATION_SEC, 60)
  --seed N             same seed, same events                                   (SIM_SEED, 1)
  --realtime           release events at wall-clock pace, event time = now      (SIM_REALTIME, default)
  --no-realtime        produce as fast as possible over a simulated span
  --start TIME         start of the simulated span (ISO date or epoch ms; not real-time)
  --hosts N            hosts in the fleet; 0 sizes it for the rate              (SIM_HOSTS, 0)
  --gpus-per-host N                                                             (SIM_GPUS_PER_HOST, 2)
  --brokers LIST       host:port[,host:port]                                    (KAFKA_BROKERS)
  --topic-prefix P     prefix of the topic names                                (TOPIC_PREFIX)
  --compression C      none | gzip                                              (SIM_COMPRESSION, none)
  --ground-truth FILE  also write every event to FILE (NDJSON)                  (SIM_GROUND_TRUTH)
  --diurnal CURVE      daily load curve: off | cosine:AMP[:PEAK_HOUR_UTC] | 24 weights (SIM_DIURNAL, off)

Other settings: SIM_* environment variables (see ingest/simulator/config.ts).
`

/** Flag name -> environment variable it sets. */
const FLAG_ENV: Readonly<Record<string, keyof SimulatorConfig>> = {
  rate: 'SIM_RATE',
  duration: 'SIM_DURATION_SEC',
  seed: 'SIM_SEED',
  hosts: 'SIM_HOSTS',
  'gpus-per-host': 'SIM_GPUS_PER_HOST',
  brokers: 'KAFKA_BROKERS',
  'topic-prefix': 'TOPIC_PREFIX',
  compression: 'SIM_COMPRESSION',
  'ground-truth': 'SIM_GROUND_TRUTH',
  diurnal: 'SIM_DIURNAL',
}

function parseStart(text: string): string {
  const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text)
  if (!Number.isFinite(ms)) throw new DiffwatchError('CFG_INVALID', `--start must be an ISO date or epoch milliseconds, got ${JSON.stringify(text)}`)
  return String(ms)
}

/** Environment with the flags applied; throws CFG_INVALID on a bad flag. */
export function flagsToEnv(argv: string[], env: Record<string, string | undefined>): { env: Record<string, string | undefined>; help: boolean } {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        ...Object.fromEntries(Object.keys(FLAG_ENV).map((k) => [k, { type: 'string' as const }])),
        start: { type: 'string' },
        realtime: { type: 'boolean' },
        'no-realtime': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    })
  } catch (err) {
    throw new DiffwatchError('CFG_INVALID', (err as Error).message, { cause: err })
  }
  const values = parsed.values as Record<string, string | boolean | undefined>
  const out: Record<string, string | undefined> = { ...env }
  for (const [flag, name] of Object.entries(FLAG_ENV)) {
    const v = values[flag]
    if (typeof v === 'string') out[name] = v
  }
  if (values.realtime === true && values['no-realtime'] === true) throw new DiffwatchError('CFG_INVALID', 'give either --realtime or --no-realtime, not both')
  if (values.realtime === true) out.SIM_REALTIME = 'true'
  if (values['no-realtime'] === true) out.SIM_REALTIME = 'false'
  if (typeof values.start === 'string') out.SIM_START_MS = parseStart(values.start)
  return { env: out, help: values.help === true }
}

export async function simulateCommand(argv: string[], env: Record<string, string | undefined> = process.env, io: CommandIo = process): Promise<number> {
  let config: Readonly<SimulatorConfig>
  try {
    const flags = flagsToEnv(argv, env)
    if (flags.help) {
      io.stdout.write(USAGE)
      return 0
    }
    config = loadSimulatorConfig(flags.env)
  } catch (err) {
    io.stderr.write(`diffwatch simulate: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`)
    return 2
  }
  const abort = new AbortController()
  const onSigint = (): void => abort.abort()
  process.once('SIGINT', onSigint)
  const progress = progressPrinter(io.stderr)
  try {
    const totals = await runSimulation(simulationOptions(config, abort.signal, progress.update))
    progress.done()
    io.stdout.write(formatSummary(config, totals))
    return totals.aborted ? 130 : 0
  } catch (err) {
    progress.done()
    if (isDiffwatchError(err)) {
      io.stderr.write(`diffwatch simulate: error ${err.code}: ${err.message}\n`)
      return err.code === 'ING_SIM_RATE_TOO_LOW' ? 2 : 1
    }
    throw err
  } finally {
    process.removeListener('SIGINT', onSigint)
  }
}

function simulationOptions(c: Readonly<SimulatorConfig>, signal: AbortSignal, onProgress: (p: SimulationProgress) => void): Parameters<typeof runSimulation>[0] {
  return {
    brokers: brokerList(c),
    topics: topicSet(c.TOPIC_PREFIX),
    rate: c.SIM_RATE,
    durationSec: c.SIM_DURATION_SEC,
    seed: c.SIM_SEED,
    realtime: c.SIM_REALTIME,
    onProgress,
    ...(c.SIM_GROUND_TRUTH !== '' ? { groundTruthPath: c.SIM_GROUND_TRUTH } : {}),
    ...(c.SIM_START_MS > 0 ? { startMs: c.SIM_START_MS } : {}),
    hosts: c.SIM_HOSTS,
    targetLoad: c.SIM_TARGET_LOAD,
    fleet: {
      gpusPerHost: c.SIM_GPUS_PER_HOST,
      gpuMix: gpuMix(c),
      sampleIntervalMs: c.SIM_SAMPLE_INTERVAL_MS,
      queueTimeoutMs: c.SIM_QUEUE_TIMEOUT_MS,
      inferenceTimeoutMs: c.SIM_INFERENCE_TIMEOUT_MS,
      idleUnloadMs: c.SIM_IDLE_UNLOAD_MS,
      coldStartProbability: c.SIM_COLD_START_PROBABILITY,
      errorScale: c.SIM_ERROR_SCALE,
      diurnal: parseDiurnal(c.SIM_DIURNAL),
    },
    compression: c.SIM_COMPRESSION,
    batchMessages: c.SIM_BATCH_MESSAGES,
    maxInFlight: c.SIM_MAX_IN_FLIGHT,
    clientId: c.KAFKA_CLIENT_ID,
    ...(c.SIM_CREATE_TOPICS_PARTITIONS > 0 ? { partitions: c.SIM_CREATE_TOPICS_PARTITIONS } : {}),
    signal,
  }
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US')

function progressPrinter(out: CommandIo['stderr']): { update(p: SimulationProgress): void; done(): void } {
  let open = false
  return {
    update(p) {
      const line = `simulate: ${int(p.eventsSent)} events (${int(p.requestEvents)} requests, ${int(p.gpuSamples)} GPU samples), ${int(p.eventsPerSec)} events/s, ${(p.elapsedMs / 1000).toFixed(0)} s`
      if (out.isTTY === true) {
        out.write(`\r\x1b[2K${line}`)
        open = true
      } else {
        out.write(`${line}\n`)
      }
    },
    done() {
      if (open) out.write('\n')
      open = false
    },
  }
}

export function formatSummary(c: Pick<SimulatorConfig, 'SIM_GROUND_TRUTH'>, t: SimulationTotals): string {
  const f = t.fleet
  const lines = [
    `${t.aborted ? 'interrupted' : 'done'}: ${int(t.events)} events in ${(t.elapsedMs / 1000).toFixed(1)} s (${int(t.eventsPerSec)} events/s), ${(t.bytes / 1e6).toFixed(1)} MB`,
    `  request events ${int(t.requestEvents)}, GPU samples ${int(t.gpuSamples)}`,
    `  fleet: ${f.hosts} hosts, ${f.gpus} GPUs, ${f.requestRate.toFixed(2)} requests/s, offered load ${f.offeredLoad.toFixed(2)}`,
    `  simulated window: ${new Date(f.startMs).toISOString()} .. ${new Date(f.endMs).toISOString()}`,
  ]
  for (const [model, m] of Object.entries(t.byModel).sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`  ${model.padEnd(16)} ${int(m.requests).padStart(10)} requests ${int(m.errors).padStart(8)} errors ${int(m.images).padStart(10)} images`)
  }
  const errors = Object.entries(t.byErrorType).sort(([, a], [, b]) => b - a)
  if (errors.length > 0) lines.push(`  errors: ${errors.map(([k, n]) => `${k} ${int(n)}`).join(', ')}`)
  if (c.SIM_GROUND_TRUTH !== '') lines.push(`  ground truth: ${c.SIM_GROUND_TRUTH}`)
  return `${lines.join('\n')}\n`
}

/**
 * From "this many events per second" to a fleet: the request rate is what is left of the event
 * rate after one GPU sample per GPU per interval, and when no host count is given the fleet
 * gets as many hosts (at least 4) as keep its offered load at the target.
 */
import { DiffwatchError } from '../../schemas/errors.ts'
import { buildFleet, DEFAULT_FLEET_CONFIG, hostsForEventRate, type FleetConfig } from './fleet-model.ts'

export interface FleetPlanInput {
  /** Events per second, requests and GPU samples together. */
  readonly eventRate: number
  readonly seed: number
  /** 0: size the fleet for the rate. */
  readonly hosts: number
  readonly targetLoad: number
  readonly overrides?: Partial<Omit<FleetConfig, 'seed' | 'hosts' | 'requestRate'>>
}

export interface FleetPlan {
  readonly config: FleetConfig
  readonly gpus: number
  readonly sampleRate: number
  readonly offeredLoad: number
}

export function planFleet(input: FleetPlanInput): FleetPlan {
  const base: FleetConfig = { ...DEFAULT_FLEET_CONFIG, ...input.overrides, seed: input.seed }
  const hosts = input.hosts > 0 ? input.hosts : hostsForEventRate(input.eventRate, input.targetLoad, base)
  const gpus = hosts * base.gpusPerHost
  const sampleRate = (gpus * 1000) / base.sampleIntervalMs
  const requestRate = input.eventRate - sampleRate
  if (requestRate <= 0) {
    throw new DiffwatchError(
      'ING_SIM_RATE_TOO_LOW',
      `a rate of ${input.eventRate} events/s leaves no room for requests: ${gpus} GPUs already send ${sampleRate} samples/s; ` +
        'raise --rate, use fewer hosts (--hosts) or sample less often (SIM_SAMPLE_INTERVAL_MS)',
    )
  }
  const config: FleetConfig = { ...base, hosts, requestRate }
  return { config, gpus, sampleRate, offeredLoad: requestRate / buildFleet(config).capacity }
}

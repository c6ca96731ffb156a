/**
 * The contract between `npm run chaos` (test/chaos/run.ts) and its scenarios. A scenario sets up
 * what it needs (topics, transformer processes, servers), injects its fault or bad input, and
 * returns one row per case with counts computed independently from what it produced. The runner
 * decides pass/fail from the row alone, prints the table and writes the JSON report.
 */

export type ChaosGroup = 'fault' | 'bad-input' | 'api' | 'soak'

export type ChaosRow = {
  /** Scenario name, e.g. 'transformer-sigkill'. */
  scenario: string
  /** The case inside the scenario, e.g. '20 kills over 100k events' or 'bad magic'. */
  case: string
  group: ChaosGroup
  /** Valid items produced / sent / tried. */
  produced: number
  /** Valid items found where they belong afterwards (stored rows, accepted records, answers). */
  delivered: number
  /** produced − delivered, counting only items that are missing. */
  lost: number
  /** Items stored more than once. */
  duplicated: number
  /** Dead-lettered (or rejected with a per-record error) items. */
  deadLettered: number
  /** Dead letters (rejections) the scenario expected, computed from what it sent. */
  expectedDeadLetters: number
  /** Anything else measured: seconds to recover, peak RSS MiB, 5xx count, lag... */
  figures: Record<string, number | string>
  /** Violations found; an empty list with lost = duplicated = 0 and deadLettered = expected passes. */
  problems: string[]
}

export type ChaosContext = {
  /** CI's quick mode: smaller volumes, shorter outages, the same checks. */
  quick: boolean
  /** Brokers of the single-broker cluster the runner started (host:port). */
  kafkaBrokers: string
  /** Private scratch folder for this scenario, removed after the run unless it failed. */
  workDir: string
  /** One short line of progress (the runner shows it on the terminal). */
  progress(message: string): void
}

export type ChaosScenario = {
  name: string
  group: ChaosGroup
  /** One sentence: what is done to the system. */
  description: string
  run(ctx: ChaosContext): Promise<ChaosRow[]>
}

/** Whether a row meets the promise: nothing lost or duplicated, exact dead letters, no problems. */
export function rowPasses(row: ChaosRow): boolean {
  return row.lost === 0 && row.duplicated === 0 && row.deadLettered === row.expectedDeadLetters && row.problems.length === 0
}

/**
 * The one error type of diffwatch. Every error that crosses a module boundary is a
 * DiffwatchError with a stable `code` (prefix per part: ING_, TRF_, API_, MIG_, SCH_, CFG_),
 * a `retryable` flag that callers branch on (never on message text), and the original `cause`.
 */
export class DiffwatchError extends Error {
  readonly code: string
  readonly retryable: boolean

  constructor(code: string, message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'DiffwatchError'
    this.code = code
    this.retryable = options.retryable ?? false
  }
}

export function isDiffwatchError(err: unknown, code?: string): err is DiffwatchError {
  return err instanceof DiffwatchError && (code === undefined || err.code === code)
}

/** Message of any thrown value, for logs. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

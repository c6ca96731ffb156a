/** A request-level gateway failure: a stable ING_GW_ code and the HTTP status to answer with. */
import { DiffwatchError } from '../../schemas/errors.ts'

export class GatewayError extends DiffwatchError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
    options: { retryable?: boolean; cause?: unknown } = {},
  ) {
    super(code, message, options)
    this.name = 'GatewayError'
  }
}

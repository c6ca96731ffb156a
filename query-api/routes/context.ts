/** What every route plugin is given by buildApi. */
import type { QueryLimits } from '../config.ts'
import type { Store } from '../store.ts'

export type RouteContext = {
  store: Store
  limits: QueryLimits
  /** Epoch ms "now"; injectable so relative ranges are testable. */
  now: () => number
}

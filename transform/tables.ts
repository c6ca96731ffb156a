/** Which tables and insert columns each event kind of the transformer writes. */
import { INSERT_COLUMNS, TABLES } from '../migrations/tables.ts'
import type { EventKind, KindTables } from './chunk-content.ts'

export const KIND_TABLES: Readonly<Record<EventKind, KindTables>> = Object.freeze({
  'request-event': {
    kind: 'request-event',
    rawTable: TABLES.requestEvents,
    rawColumns: INSERT_COLUMNS.requestEvents,
    windowTable: TABLES.requestWindows,
    windowColumns: INSERT_COLUMNS.requestWindows,
  },
  'gpu-sample': {
    kind: 'gpu-sample',
    rawTable: TABLES.gpuSamples,
    rawColumns: INSERT_COLUMNS.gpuSamples,
    windowTable: TABLES.gpuWindows,
    windowColumns: INSERT_COLUMNS.gpuWindows,
  },
})

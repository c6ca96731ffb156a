/**
 * The one shape every report (capacity, trend, cost, SLO) is built as, before it is rendered to
 * HTML, JSON, CSV or Markdown by render.ts. A report states its inputs (range, parameters) and
 * its method (e.g. the queueing model) in `notes`, so a reader can check how a number was made.
 */

/** A cell: numbers stay numbers (JSON/CSV keep full precision; HTML/Markdown format them). */
export type ReportCell = string | number | boolean | null

export type ReportColumn = {
  /** Key of the cell in each row. */
  key: string
  /** Header shown to people. */
  label: string
  /** Unit appended to the header, e.g. 'ms', '%', 'USD'. */
  unit?: string
  /** Digits after the point when rendered for people (JSON/CSV keep full precision). */
  digits?: number
}

export type ReportTable = {
  columns: ReportColumn[]
  rows: Array<Record<string, ReportCell>>
}

export type ReportSection = {
  /** Stable id, e.g. 'replicas' (CSV names the section by it). */
  id: string
  heading: string
  /** Paragraphs of plain text. */
  text?: string[]
  table?: ReportTable
}

export type ReportDocument = {
  kind: 'capacity' | 'trend' | 'cost' | 'slo'
  title: string
  /** ISO-8601 instant the report was computed. */
  generatedAt: string
  /** The range the report covers, ISO-8601. */
  range: { from: string; to: string }
  /** The parameters it was asked with (targets, filters, price table source...). */
  parameters: Record<string, ReportCell>
  /** Method and caveats, as sentences. */
  notes: string[]
  sections: ReportSection[]
}

/**
 * Renders a ReportDocument for people and for programs.
 *
 * Guarantees:
 * - `json`: the document itself, unchanged (numbers at full precision).
 * - `html`: one self-contained page (inline CSS, no script, no external resource); every text
 *   from the document is HTML-escaped, so a model or tenant name cannot inject markup.
 * - `csv`: RFC 4180 (CRLF, fields quoted when they hold a comma, quote or line break, quotes
 *   doubled). A report has several tables with different columns, so each section's table is a
 *   block introduced by a `# section: <id>` line and its own header row, blocks separated by one
 *   empty line; column names are the cell keys (which name their unit, e.g. `service_mean_ms`);
 *   the first lines carry the range and parameters as `# key: value` lines. A text
 *   cell starting with = + - @ is prefixed with ' (spreadsheet formula injection), as in csv.ts.
 * - `markdown`: GFM with one table per section; `|` in cells is escaped and line breaks become
 *   spaces, so a cell never breaks the table.
 * HTML and Markdown show numbers with the column's `digits`; CSV and JSON keep full precision.
 */
import { toCsv } from '../csv.ts'
import type { ReportCell, ReportColumn, ReportDocument, ReportTable } from './document.ts'

export const REPORT_FORMATS = ['json', 'html', 'csv', 'markdown'] as const
export type ReportFormat = (typeof REPORT_FORMATS)[number]

export const REPORT_CONTENT_TYPES: Readonly<Record<ReportFormat, string>> = {
  json: 'application/json; charset=utf-8',
  html: 'text/html; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  markdown: 'text/markdown; charset=utf-8',
}

export function renderReport(doc: ReportDocument, format: ReportFormat): string {
  switch (format) {
    case 'json':
      return JSON.stringify(doc, null, 2)
    case 'html':
      return renderHtml(doc)
    case 'csv':
      return renderCsv(doc)
    case 'markdown':
      return renderMarkdown(doc)
  }
}

/** A cell as people read it: fixed digits with thousands separators, yes/no, an em dash for null. */
export function formatCell(value: ReportCell, column: ReportColumn): string {
  if (value === null) return '—'
  if (typeof value === 'boolean') return value ? 'yes' : 'no'
  if (typeof value === 'string') return value
  if (!Number.isFinite(value)) return value > 0 ? '∞' : value < 0 ? '−∞' : '—'
  const digits = column.digits ?? (Number.isInteger(value) ? 0 : 3)
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

function header(column: ReportColumn): string {
  return column.unit ? `${column.label} (${column.unit})` : column.label
}

function parameterLines(doc: ReportDocument): Array<[string, string]> {
  return [
    ['generated', doc.generatedAt],
    ['from', doc.range.from],
    ['to', doc.range.to],
    ...Object.entries(doc.parameters).map(([k, v]): [string, string] => [k, v === null ? '' : String(v)]),
  ]
}

const HTML_ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c)
}

const CSS = `body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;color:#1d2330;max-width:1400px;margin:2em auto;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid #d8dde6;padding-bottom:.2em}
.meta{color:#5b6475}table{border-collapse:collapse;margin:.6em 0;font-variant-numeric:tabular-nums}
th,td{border:1px solid #d8dde6;padding:.3em .6em;text-align:left}th{background:#f2f4f8;font-weight:600}
td.num{text-align:right}tr:nth-child(even) td{background:#fafbfc}ul.notes li{margin:.2em 0}dl{display:grid;grid-template-columns:max-content auto;gap:.1em 1em}dt{color:#5b6475}dd{margin:0}.scroll{overflow-x:auto}`

function htmlTable(table: ReportTable): string {
  const head = table.columns.map((c) => `<th>${escapeHtml(header(c))}</th>`).join('')
  const rows = table.rows.map((row) => {
    const cells = table.columns.map((c) => {
      const v = row[c.key] ?? null
      return `<td${typeof v === 'number' ? ' class="num"' : ''}>${escapeHtml(formatCell(v, c))}</td>`
    })
    return `<tr>${cells.join('')}</tr>`
  })
  const empty = table.rows.length === 0 ? `<tr><td colspan="${table.columns.length}">no data in the range</td></tr>` : ''
  return `<div class="scroll"><table><thead><tr>${head}</tr></thead><tbody>${rows.join('\n')}${empty}</tbody></table></div>`
}

function renderHtml(doc: ReportDocument): string {
  const params = parameterLines(doc).map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')
  const sections = doc.sections.map((s) => {
    const text = (s.text ?? []).map((p) => `<p>${escapeHtml(p)}</p>`).join('')
    return `<section id="${escapeHtml(s.id)}"><h2>${escapeHtml(s.heading)}</h2>${text}${s.table ? htmlTable(s.table) : ''}</section>`
  })
  const notes = doc.notes.length > 0 ? `<h2>Method and notes</h2><ul class="notes">${doc.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>` : ''
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(doc.title)}</title><style>${CSS}</style></head>
<body><h1>${escapeHtml(doc.title)}</h1><dl class="meta">${params}</dl>
${sections.join('\n')}
${notes}
</body></html>
`
}

function renderCsv(doc: ReportDocument): string {
  const blocks = [parameterLines(doc).map(([k, v]) => `# ${k}: ${v.replace(/[\r\n]+/g, ' ')}`).join('\r\n') + '\r\n']
  for (const s of doc.sections) {
    if (!s.table) continue
    const cols = s.table.columns
    blocks.push(`# section: ${s.id}\r\n` + toCsv(cols.map((c) => c.key), s.table.rows.map((r) => cols.map((c) => r[c.key] ?? null))))
  }
  return blocks.join('\r\n')
}

/** A Markdown table cell: pipes escaped, line breaks flattened. */
export function escapeMarkdownCell(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n|\r/g, ' ')
}

function markdownTable(table: ReportTable): string {
  const head = `| ${table.columns.map((c) => escapeMarkdownCell(header(c))).join(' | ')} |`
  const align = `| ${table.columns.map((c) => (table.rows.some((r) => typeof r[c.key] === 'number') ? '---:' : '---')).join(' | ')} |`
  const rows = table.rows.map((r) => `| ${table.columns.map((c) => escapeMarkdownCell(formatCell(r[c.key] ?? null, c))).join(' | ')} |`)
  return [head, align, ...rows].join('\n') + (table.rows.length === 0 ? '\n\n_no data in the range_' : '')
}

function renderMarkdown(doc: ReportDocument): string {
  const out = [`# ${doc.title}`, '', ...parameterLines(doc).map(([k, v]) => `- **${k}**: ${v}`)]
  for (const s of doc.sections) {
    out.push('', `## ${s.heading}`, '')
    for (const p of s.text ?? []) out.push(p, '')
    if (s.table) out.push(markdownTable(s.table))
  }
  if (doc.notes.length > 0) out.push('', '## Method and notes', '', ...doc.notes.map((n) => `- ${n}`))
  return out.join('\n') + '\n'
}

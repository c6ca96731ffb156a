/**
 * RFC 4180 CSV for the data routes: a header row, CRLF line ends, fields quoted only when they
 * hold a comma, quote or line break; null and undefined are empty fields. A field starting with
 * = + - @ is prefixed with ' when it is text (not a number), so a spreadsheet opening the file
 * does not run it as a formula (group names come from event producers).
 */
export type CsvCell = string | number | boolean | null | undefined

export function toCsv(header: readonly string[], rows: readonly (readonly CsvCell[])[]): string {
  const lines = [header.map(field).join(',')]
  for (const row of rows) lines.push(row.map(field).join(','))
  return lines.join('\r\n') + '\r\n'
}

function field(value: CsvCell): string {
  if (value === null || value === undefined) return ''
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : ''
  let text = String(value)
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
}

export const CSV_CONTENT_TYPE = 'text/csv; charset=utf-8'

import { describe, expect, it } from 'vitest'
import type { ReportDocument } from './document.ts'
import { escapeMarkdownCell, renderReport } from './render.ts'

const doc: ReportDocument = {
  kind: 'cost',
  title: 'Cost <report> & "more"',
  generatedAt: '2026-01-02T03:04:05.000Z',
  range: { from: '2026-01-01T00:00:00.000Z', to: '2026-01-02T00:00:00.000Z' },
  parameters: { currency: 'USD', target: null },
  notes: ['GPU time is <attributed> by "service" time'],
  sections: [
    {
      id: 'by_tenant',
      heading: 'By tenant',
      text: ['One row per tenant.'],
      table: {
        columns: [{ key: 'tenant', label: 'tenant' }, { key: 'cost', label: 'cost', unit: 'USD', digits: 2 }, { key: 'ok', label: 'priced' }],
        rows: [
          { tenant: 'acme, "inc"\nline2', cost: 1234.5678, ok: true },
          { tenant: '<script>alert(1)</script>|x', cost: null, ok: false },
          { tenant: '=HYPERLINK("x")', cost: 0.1, ok: true },
        ],
      },
    },
    { id: 'empty', heading: 'Nothing', table: { columns: [{ key: 'a', label: 'a' }], rows: [] } },
  ],
}

describe('renderReport', () => {
  it('json is the document itself', () => {
    expect(JSON.parse(renderReport(doc, 'json'))).toEqual(doc)
  })

  it('html escapes every text and formats numbers with the column digits', () => {
    const html = renderReport(doc, 'html')
    expect(html).toContain('<title>Cost &lt;report&gt; &amp; &quot;more&quot;</title>')
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;|x')
    expect(html).not.toContain('<script>')
    expect(html).toContain('<th>cost (USD)</th>')
    expect(html).toContain('<td class="num">1,234.57</td>')
    expect(html).toContain('<td>—</td>')
    expect(html).toContain('GPU time is &lt;attributed&gt; by &quot;service&quot; time')
    expect(html).toContain('no data in the range')
    expect(html).not.toMatch(/<link|src=|https?:\/\//)
  })

  it('csv has one RFC 4180 block per section, introduced by a # section line', () => {
    const csv = renderReport(doc, 'csv')
    const blocks = csv.split('\r\n\r\n')
    expect(blocks[0]).toBe('# generated: 2026-01-02T03:04:05.000Z\r\n# from: 2026-01-01T00:00:00.000Z\r\n# to: 2026-01-02T00:00:00.000Z\r\n# currency: USD\r\n# target: ')
    expect(blocks[1]).toBe(
      '# section: by_tenant\r\ntenant,cost,ok\r\n"acme, ""inc""\nline2",1234.5678,true\r\n<script>alert(1)</script>|x,,false\r\n"\'=HYPERLINK(""x"")",0.1,true',
    )
    expect(blocks[2]).toBe('# section: empty\r\na\r\n')
  })

  it('markdown escapes pipes and line breaks so a cell never breaks its table', () => {
    const md = renderReport(doc, 'markdown')
    expect(md).toContain('| tenant | cost (USD) | priced |\n| --- | ---: | --- |')
    expect(md).toContain('| acme, "inc" line2 | 1,234.57 | yes |')
    expect(md).toContain('| <script>alert(1)</script>\\|x | — | no |')
    expect(escapeMarkdownCell('a|b\\|c')).toBe('a\\|b\\\\\\|c')
    for (const line of md.split('\n').filter((l) => l.startsWith('| acme') || l.startsWith('| <script'))) {
      expect(line.split(/(?<!\\)\|/).length - 2).toBe(3)
    }
  })
})

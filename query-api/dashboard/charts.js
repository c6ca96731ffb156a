// Drawing helpers of the dashboard: uPlot line charts, the GPU heat map and the OOM bars, and
// the table view that sits under every chart with the very numbers drawn (what the browser test
// compares with the API).
import uPlot from '/dashboard/vendor/uPlot.esm.js'

const plots = new Map()

const AXIS = { stroke: '#8b93a7', grid: { stroke: '#262b38', width: 1 }, ticks: { stroke: '#262b38' } }

/** (Re)draws a time-series chart: `times` in epoch s, `series` [{ label, color, values }]. */
export function lineChart(id, times, series, { unit = '', fmt = (v) => v } = {}) {
  const el = document.getElementById(id)
  plots.get(id)?.destroy()
  el.textContent = ''
  const width = Math.max(300, el.clientWidth)
  const opts = {
    width,
    height: 220,
    cursor: { points: { size: 6 } },
    legend: { live: true },
    scales: { x: { time: true }, y: { range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] } },
    axes: [{ ...AXIS }, { ...AXIS, size: 72, values: (_u, ticks) => ticks.map((t) => fmt(t) + unit) }],
    series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, fill: s.fill, spanGaps: false, points: { show: false }, value: (_u, v) => (v == null ? '–' : fmt(v) + unit) }))],
  }
  const plot = new uPlot(opts, [times, ...series.map((s) => s.values)], el)
  plots.set(id, plot)
  el.dataset.points = String(times.length)
}

/** A table with a header row; cells get data-col so tests can read columns by name. */
export function table(id, header, rows) {
  const t = document.getElementById(id)
  t.textContent = ''
  const head = t.createTHead().insertRow()
  for (const h of header) head.appendChild(Object.assign(document.createElement('th'), { textContent: h }))
  const body = t.createTBody()
  for (const row of rows) {
    const tr = body.insertRow()
    row.forEach((v, i) => {
      const td = tr.insertCell()
      td.dataset.col = header[i]
      td.dataset.value = v == null ? '' : String(v)
      td.textContent = v == null ? '–' : typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(3) : String(v)
    })
  }
}

/** Viridis-like scale from dark blue (0 %) through teal to yellow (100 %). */
export function heatColor(pct) {
  if (pct == null) return '#1b1f2a'
  const stops = [[0, [40, 22, 84]], [25, [45, 95, 140]], [50, [33, 145, 140]], [75, [94, 201, 98]], [100, [253, 231, 37]]]
  const p = Math.max(0, Math.min(100, pct))
  let i = 0
  while (i < stops.length - 2 && p > stops[i + 1][0]) i++
  const [a, ca] = stops[i]
  const [b, cb] = stops[i + 1]
  const f = (p - a) / (b - a)
  return `rgb(${ca.map((c, k) => Math.round(c + f * (cb[k] - c))).join(',')})`
}

/** Heat map: one row per GPU, one cell per bucket. */
export function heatmap(id, gpus) {
  const el = document.getElementById(id)
  el.textContent = ''
  const columns = gpus[0]?.points.length ?? 0
  el.style.setProperty('--columns', String(columns))
  for (const g of gpus) {
    const label = Object.assign(document.createElement('div'), { className: 'hm-label', textContent: `${g.host} · ${g.gpu_uuid.slice(-6)}`, title: `${g.gpu_name} ${g.gpu_uuid}` })
    el.appendChild(label)
    for (const p of g.points) {
      const cell = document.createElement('div')
      cell.className = 'hm-cell'
      cell.style.background = heatColor(p.value)
      cell.dataset.gpu = g.gpu_uuid
      cell.dataset.time = p.time
      cell.dataset.value = p.value == null ? '' : String(p.value)
      cell.title = `${g.host} ${g.gpu_uuid}\n${p.time}\n${p.value == null ? 'no samples' : p.value.toFixed(1) + ' % util'}`
      el.appendChild(cell)
    }
  }
  if (gpus.length === 0) el.appendChild(Object.assign(document.createElement('p'), { className: 'empty', textContent: 'No GPU samples in this range.' }))
  const legend = document.createElement('div')
  legend.className = 'hm-legend'
  legend.innerHTML = '<span>0 %</span><i></i><span>100 %</span>'
  el.appendChild(legend)
}

/** Horizontal bars of OOM rate, with the counts written on them. */
export function bars(id, rows) {
  const el = document.getElementById(id)
  el.textContent = ''
  const max = Math.max(0.0001, ...rows.map((r) => r.oom_rate))
  for (const r of rows) {
    const row = document.createElement('div')
    row.className = 'bar-row'
    row.innerHTML = `<span class="bar-label"></span><span class="bar-track"><span class="bar"></span></span><span class="bar-value"></span>`
    row.querySelector('.bar-label').textContent = `${r.model} · ${r.resolution} · batch ${r.batch_size}`
    row.querySelector('.bar').style.width = `${(100 * r.oom_rate) / max}%`
    row.querySelector('.bar-value').textContent = `${(100 * r.oom_rate).toFixed(1)} %  (${r.ooms}/${r.requests})`
    el.appendChild(row)
  }
  if (rows.length === 0) el.appendChild(Object.assign(document.createElement('p'), { className: 'empty', textContent: 'No out-of-memory failures in this range.' }))
}

// The dashboard's script: reads the /v1 routes for the chosen range and filters, fills the key
// figures, charts and tables, and refreshes every 30 s while auto-refresh is on. URL parameters
// (range, from, to, model, gpu_type, refresh=0) preset the controls, so a view can be shared.
// After each load, <body> carries data-from / data-to (the exact range asked for) and
// data-loads (how many loads completed).
import { bars, heatmap, lineChart, table } from '/dashboard/charts.js'

const RANGES = { '15m': [900, '30s', '1m'], '1h': [3600, '1m', '2m'], '6h': [21600, '5m', '15m'], '24h': [86400, '15m', '1h'], '7d': [604800, '1h', '6h'] }
const ERROR_COLORS = { oom: '#f87171', timeout: '#fb923c', queue_timeout: '#facc15', invalid_input: '#a3a3a3', safety_blocked: '#c084fc', model_error: '#f472b6', upstream: '#38bdf8', gpu_fault: '#ef4444', cancelled: '#737373', internal: '#e879f9' }
const url = new URLSearchParams(location.search)
const $ = (id) => document.getElementById(id)
let timer = null
let loads = 0

for (const name of ['range', 'model', 'gpu_type']) {
  const v = url.get(name)
  if (v && name !== 'range') $(name).appendChild(new Option(v, v, true, true))
  if (v && name === 'range' && RANGES[v]) $(name).value = v
}
$('auto').checked = url.get('refresh') !== '0'

// An API key (scope read), when the server requires one: kept in this browser's localStorage and
// sent as a Bearer header, never in a URL (URLs end up in logs and in shared links).
const KEY_ITEM = 'diffwatch.apiKey'
$('apikey').value = localStorage.getItem(KEY_ITEM) ?? ''
$('apikey').addEventListener('change', () => {
  const key = $('apikey').value.trim()
  if (key) localStorage.setItem(KEY_ITEM, key)
  else localStorage.removeItem(KEY_ITEM)
})

async function api(path, params) {
  const qs = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== '' && v != null))
  const key = $('apikey').value.trim()
  const res = await fetch(`${path}?${qs}`, { headers: key ? { authorization: `Bearer ${key}` } : {} })
  const body = await res.json()
  if (res.status === 401 || res.status === 403) $('apikey').focus()
  if (!res.ok) throw new Error(`${path}: ${body.detail ?? res.status}`)
  return body
}

function currentRange() {
  const [seconds, step, gpuStep] = RANGES[$('range').value]
  // Fixed from/to (URL) win; otherwise the last `seconds` up to now, on a 10 s boundary.
  const to = url.get('to') ?? new Date(Math.floor(Date.now() / 10_000) * 10_000).toISOString()
  const from = url.get('from') ?? new Date(Date.parse(to) - seconds * 1000).toISOString()
  return { from, to, step, gpuStep }
}

const fmt1 = (v) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(1))
const pct = (v) => (v == null ? '–' : `${(100 * v).toFixed(v > 0.999 && v < 1 ? 2 : 1)} %`)

function kpi(label, value, sub, id) {
  return `<div class="kpi" id="kpi-${id}"><div class="kpi-label">${label}</div><div class="kpi-value" data-kpi="${id}">${value}</div><div class="kpi-sub">${sub}</div></div>`
}

async function fillFilterOptions(r) {
  for (const dim of ['model', 'gpu_type']) {
    const body = await api('/v1/throughput', { from: r.from, to: r.to, groupBy: dim, step: r.gpuStep })
    const select = $(dim)
    const keep = select.value
    const have = new Set([...select.options].map((o) => o.value))
    for (const s of body.series) if (!have.has(s.group)) select.appendChild(new Option(s.group, s.group))
    select.value = keep
  }
}

async function load() {
  const r = currentRange()
  const filters = { model: $('model').value, gpu_type: $('gpu_type').value }
  const base = { from: r.from, to: r.to, ...filters }
  $('status').textContent = 'loading…'
  try {
    const [thr, lat, latTot, errs, avail, gpu, gpuAll, oom] = await Promise.all([
      api('/v1/throughput', { ...base, step: r.step }),
      api('/v1/latency/series', { ...base, step: r.step, quantiles: '0.5,0.95,0.99' }),
      api('/v1/latency/percentiles', { ...base, quantiles: '0.5,0.95,0.99' }),
      api('/v1/errors', { ...base, step: r.step }),
      api('/v1/availability', base),
      api('/v1/gpu/series', { ...base, step: r.gpuStep, metric: 'util' }),
      api('/v1/gpu/utilization', { ...base, groupBy: 'none' }),
      api('/v1/oom', { ...base, limit: 12 }),
    ])
    render(thr, lat, latTot, errs, avail, gpu, gpuAll, oom)
    // SLOs cover their own 28/30-day windows, not the picked range; a failure here leaves the rest.
    await api('/v1/slo', {}).then(renderSlo, (err) => renderSlo({ configured: false, error: String(err.message ?? err), slos: [] }))
    document.body.dataset.from = r.from
    document.body.dataset.to = r.to
    document.body.dataset.loads = String(++loads)
    $('status').textContent = `updated ${new Date().toLocaleTimeString()}`
    $('status').classList.remove('error')
    fillFilterOptions(r).catch(() => {})
  } catch (err) {
    $('status').textContent = String(err.message ?? err)
    $('status').classList.add('error')
  }
}

function render(thr, lat, latTot, errs, avail, gpu, gpuAll, oom) {
  const t = thr.totals
  const p = latTot.groups[0]?.percentiles ?? []
  const g = gpuAll.groups[0]
  $('kpis').innerHTML = [
    kpi('Requests / s', t.requests_per_s.toFixed(2), `${t.requests.toLocaleString('en')} requests`, 'rps'),
    kpi('Images / s', t.images_per_s.toFixed(2), `${t.images.toLocaleString('en')} images`, 'ips'),
    kpi('p95 latency', p[1]?.value_ms == null ? '–' : `${fmt1(p[1].value_ms / 1000)} s`, `p50 ${p[0]?.value_ms == null ? '–' : fmt1(p[0].value_ms / 1000) + ' s'}`, 'p95'),
    kpi('Error rate', pct(errs.totals.error_rate), `${errs.totals.errors.toLocaleString('en')} errors`, 'errors'),
    kpi('Availability', pct(avail.totals.availability), 'excl. client errors', 'availability'),
    kpi('GPU utilization', g?.util_mean_pct == null ? '–' : `${g.util_mean_pct.toFixed(0)} %`, g ? `${g.gpus} GPUs · ${g.idle_gpus} idle` : 'no samples', 'gpu'),
  ].join('')
  document.getElementById('kpi-rps').dataset.requests = String(t.requests)

  const times = (pts) => pts.map((x) => Date.parse(x.time) / 1000)
  const latPts = lat.series[0]?.points ?? []
  const sec = (v) => (v == null ? null : v / 1000)
  lineChart('chart-latency', times(latPts), [
    { label: 'p50', color: '#4ade80', values: latPts.map((x) => sec(x.values_ms[0])) },
    { label: 'p95', color: '#facc15', values: latPts.map((x) => sec(x.values_ms[1])) },
    { label: 'p99', color: '#f87171', values: latPts.map((x) => sec(x.values_ms[2])) },
  ], { unit: ' s', fmt: fmt1 })
  table('table-latency', ['time', 'count', 'p50', 'p95', 'p99'], latPts.map((x) => [x.time, x.count, ...x.values_ms]))

  const thrPts = thr.series[0]?.points ?? []
  lineChart('chart-throughput', times(thrPts), [
    { label: 'requests/s', color: '#60a5fa', fill: 'rgba(96,165,250,0.12)', values: thrPts.map((x) => x.requests_per_s) },
    { label: 'images/s', color: '#a78bfa', values: thrPts.map((x) => x.images_per_s) },
  ], { fmt: (v) => v.toFixed(2) })
  table('table-throughput', ['time', 'requests', 'images', 'requests_per_s', 'images_per_s'], thrPts.map((x) => [x.time, x.requests, x.images, x.requests_per_s, x.images_per_s]))

  const errPts = errs.series[0]?.points ?? []
  const types = Object.keys(errs.totals.by_type).filter((k) => errs.totals.by_type[k] > 0)
  lineChart('chart-errors', times(errPts), types.map((k) => ({ label: k, color: ERROR_COLORS[k] ?? '#ddd', values: errPts.map((x) => (x.rate_by_type[k] == null ? null : 100 * x.rate_by_type[k])) })), { unit: ' %', fmt: (v) => v.toFixed(1) })
  table('table-errors', ['error_type', 'count', 'rate'], types.map((k) => [k, errs.totals.by_type[k], errs.totals.rate_by_type[k]]))

  heatmap('heatmap', gpu.gpus)
  table('table-heatmap', ['gpu', 'host', 'mean_util_pct'], gpu.gpus.map((x) => {
    const vals = x.points.filter((q) => q.value != null)
    const samples = vals.reduce((s, q) => s + q.samples, 0)
    return [x.gpu_uuid, x.host, samples > 0 ? vals.reduce((s, q) => s + q.value * q.samples, 0) / samples : null]
  }))

  bars('oom', oom.rows.filter((x) => x.ooms > 0))
  table('table-oom', ['model', 'resolution', 'batch_size', 'requests', 'ooms', 'oom_rate'], oom.rows.map((x) => [x.model, x.resolution, x.batch_size, x.requests, x.ooms, x.oom_rate]))
}

function renderSlo(slo) {
  const el = $('slo')
  el.textContent = ''
  const fastest = (s) => s.burn_rates.reduce((m, b) => (b.long_burn_rate != null && (m == null || b.long_burn_rate > m.long_burn_rate) ? b : m), null)
  for (const s of slo.slos) {
    const row = document.createElement('div')
    row.className = 'bar-row'
    row.dataset.slo = s.name
    row.innerHTML = `<span class="bar-label"></span><span class="bar-track"><span class="bar"></span></span><span class="bar-value"></span>`
    row.querySelector('.bar-label').textContent = `${s.name} · ${s.objective_percent} % / ${s.window}`
    const left = s.budget_remaining
    const bar = row.querySelector('.bar')
    bar.style.width = `${left == null ? 0 : left < 0 ? 100 : Math.min(1, left) * 100}%`
    bar.style.background = left == null ? '#555' : left < 0 ? '#ef4444' : left < 0.25 ? '#facc15' : '#4ade80'
    const f = fastest(s)
    const firing = s.firing_alerts.map((a) => `${a.severity.toUpperCase()} ${a.pair}`).join(', ')
    row.querySelector('.bar-value').textContent = `${left == null ? 'no traffic' : left < 0 ? `budget overspent by ${pct(-left)}` : pct(left) + ' left'} · SLI ${pct(s.sli)}${f ? ` · burn ${f.long_burn_rate.toFixed(1)}× (${f.pair})` : ''}${firing ? ` · FIRING ${firing}` : ''}`
    if (firing) row.classList.add('firing')
    el.appendChild(row)
  }
  if (slo.slos.length === 0) {
    const why = slo.error ?? (slo.configured ? 'No SLO matches.' : 'No SLOs configured: point DIFFWATCH_SLO_FILE at a file like docs/slo.example.json.')
    el.appendChild(Object.assign(document.createElement('p'), { className: 'empty', textContent: why }))
  }
  table('table-slo', ['slo', 'objective_percent', 'events', 'bad', 'sli', 'budget_remaining', 'firing'], slo.slos.map((s) => [s.name, s.objective_percent, s.events, s.bad, s.sli, s.budget_remaining, s.firing_alerts.length]))
}

function schedule() {
  clearInterval(timer)
  if ($('auto').checked) timer = setInterval(load, 30_000)
}

$('controls').addEventListener('change', (e) => {
  if (e.target.id === 'range') { url.delete('from'); url.delete('to') }
  schedule()
  load()
})
// Charts are sized when drawn: redraw after the width settles, not on every resize event.
let lastWidth = window.innerWidth
let resizeTimer = null
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer)
  resizeTimer = setTimeout(() => { if (window.innerWidth !== lastWidth) { lastWidth = window.innerWidth; load() } }, 300)
})
schedule()
load()

// Latency distributions as a hand-written SVG, in the HdrHistogram style: x is the
// percentile on a log scale of 1/(1-p) (so p50, p90, p99, p99.9 are evenly spaced and the
// tail is visible), y is the latency on a log scale.

export interface ChartSeries {
  label: string
  latenciesMs: readonly number[]
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f']
const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

function formatMs(ms: number): string {
  if (ms >= 1000) return `${ms / 1000} s`
  return `${ms} ms`
}

export function latencyChart(title: string, series: readonly ChartSeries[]): string {
  const width = 1000
  const height = 480
  const margin = { left: 70, right: 330, top: 40, bottom: 50 }
  const plotW = width - margin.left - margin.right
  const plotH = height - margin.top - margin.bottom
  const usable = series.filter((s) => s.latenciesMs.length)
  const sorted = usable.map((s) => [...s.latenciesMs].sort((a, b) => a - b))
  const all = sorted.flat().filter((v) => v > 0)
  const minExp = Math.floor(Math.log10(Math.max(1e-3, Math.min(...all))))
  const maxExp = Math.ceil(Math.log10(Math.max(...all)))
  const maxNines = Math.min(4, Math.max(2, Math.ceil(Math.log10(Math.max(...sorted.map((s) => s.length))))))
  const x = (p: number) => margin.left + (Math.min(maxNines, -Math.log10(1 - p)) / maxNines) * plotW
  const y = (ms: number) => margin.top + plotH - ((Math.log10(Math.max(ms, 10 ** minExp)) - minExp) / Math.max(1, maxExp - minExp)) * plotH

  const parts: string[] = []
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`)
  parts.push(`<rect width="${width}" height="${height}" fill="white"/>`)
  parts.push(`<text x="${margin.left}" y="24" font-size="15" font-weight="bold">${escape(title)}</text>`)
  for (let e = minExp; e <= maxExp; e++) {
    const yy = y(10 ** e).toFixed(1)
    parts.push(`<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${yy}" y2="${yy}" stroke="#ddd"/>`)
    parts.push(`<text x="${margin.left - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle">${formatMs(Number((10 ** e).toPrecision(1)))}</text>`)
  }
  const ticks: [number, string][] = [[0, 'p0'], [0.5, 'p50'], [0.9, 'p90'], [0.99, 'p99'], [0.999, 'p99.9'], [0.9999, 'p99.99']]
  for (const [p, label] of ticks) {
    if (-Math.log10(1 - p) > maxNines) continue
    const xx = x(p).toFixed(1)
    parts.push(`<line x1="${xx}" x2="${xx}" y1="${margin.top}" y2="${margin.top + plotH}" stroke="#ddd"/>`)
    parts.push(`<text x="${xx}" y="${margin.top + plotH + 16}" text-anchor="middle">${label}</text>`)
  }
  parts.push(`<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`)
  parts.push(`<text x="${margin.left + plotW / 2}" y="${height - 10}" text-anchor="middle">percentile</text>`)
  parts.push(`<text transform="translate(16 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle">latency (log scale)</text>`)

  sorted.forEach((values, index) => {
    const n = values.length
    const points: string[] = []
    // Thinned evenly in the x (percentile) space, so the tail keeps its detail.
    const steps = 300
    let last = -1
    for (let k = 0; k <= steps; k++) {
      const nines = (k / steps) * maxNines
      const p = 1 - 10 ** -nines
      const i = Math.min(n - 1, Math.floor(p * n))
      if (i === last && k !== steps) continue
      last = i
      points.push(`${x(Math.min(p, 1 - 0.5 / n)).toFixed(1)},${y(values[i]!).toFixed(1)}`)
    }
    const color = COLORS[index % COLORS.length]
    // Past the palette, the colours come back dashed.
    const dash = index >= COLORS.length ? ' stroke-dasharray="6 3"' : ''
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${dash} points="${points.join(' ')}"/>`)
    const ly = margin.top + 10 + index * 20
    parts.push(`<line x1="${width - margin.right + 15}" x2="${width - margin.right + 40}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="3"${dash}/>`)
    parts.push(`<text x="${width - margin.right + 46}" y="${ly}" dominant-baseline="middle">${escape(usable[index]!.label)} (n=${n})</text>`)
  })
  parts.push('</svg>')
  return parts.join('\n')
}

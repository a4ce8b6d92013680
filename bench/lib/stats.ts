/** Latency summary of one scenario, in milliseconds. */
export interface LatencySummary {
  count: number
  mean: number
  p50: number
  p95: number
  p99: number
  max: number
}

/** Nearest-rank percentile of an ascending array (p in 0..100). */
/** What every closed-loop scenario reports, whatever it drives. */
export interface LoadOutcome {
  name: string
  concurrency: number
  completed: number
  failed: number
  failures: string[]
  elapsedMs: number
  sagasPerSecond: number
  latencyMs: LatencySummary
}

export function percentile(sorted: readonly number[], p: number): number {
  if (!sorted.length) return Number.NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!
}

export function summarize(latenciesMs: readonly number[]): LatencySummary {
  const sorted = [...latenciesMs].sort((a, b) => a - b)
  const total = sorted.reduce((sum, value) => sum + value, 0)
  return {
    count: sorted.length,
    mean: sorted.length ? total / sorted.length : Number.NaN,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
  }
}

/**
 * Points of the empirical CDF, thinned to at most `points` entries so that a chart of
 * 100,000 samples stays small: [latency ms, fraction of samples at or below it].
 */
export function cdfPoints(latenciesMs: readonly number[], points = 200): [number, number][] {
  const sorted = [...latenciesMs].sort((a, b) => a - b)
  if (!sorted.length) return []
  const out: [number, number][] = []
  const step = Math.max(1, Math.floor(sorted.length / points))
  for (let i = 0; i < sorted.length; i += step) out.push([sorted[i]!, (i + 1) / sorted.length])
  out.push([sorted.at(-1)!, 1])
  return out
}

/** Least-squares slope of y over x (units of y per unit of x). */
export function slope(points: readonly { x: number; y: number }[]): number {
  const n = points.length
  if (n < 2) return 0
  const mx = points.reduce((s, p) => s + p.x, 0) / n
  const my = points.reduce((s, p) => s + p.y, 0) / n
  let num = 0
  let den = 0
  for (const p of points) {
    num += (p.x - mx) * (p.y - my)
    den += (p.x - mx) ** 2
  }
  return den === 0 ? 0 : num / den
}

/** Rounds for reports: 3 significant digits below 100, integers above. */
export function round(value: number): number {
  if (!Number.isFinite(value)) return value
  if (Math.abs(value) >= 100) return Math.round(value)
  return Number(value.toPrecision(3))
}

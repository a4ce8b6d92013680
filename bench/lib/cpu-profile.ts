import { readFile, readdir, rename, rm } from 'node:fs/promises'
import path from 'node:path'

interface CallFrame { functionName: string; url: string; lineNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; children?: number[] }
interface CpuProfile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number }

/**
 * A span of the monotonic clock in µs (`process.hrtime.bigint() / 1000n`), the clock V8 stamps
 * profile samples with, so a profile can be cut to the measured part of a process's life.
 */
export interface ProfileWindow { fromUs: number; toUs: number }

/** Now on the clock of profile samples, µs. */
export const profileClockUs = (): number => Number(process.hrtime.bigint() / 1000n)

export interface ProfileSummary {
  file: string
  totalMs: number
  /** Set when only the samples in a window were counted (not start-up and warm-up). */
  windowMs?: number
  /** Self time by function, highest first. */
  topFrames: { frame: string; selfMs: number; percent: number }[]
  /** Self time by where the code lives: a package, Node's internals, a project file, GC, idle. */
  byArea: { area: string; selfMs: number; percent: number }[]
  /**
   * Self time charged to the nearest package or project file up the stack: a socket write
   * (native, node:net) counts for pg, ioredis or axios, whichever made it.
   */
  byComponent: { component: string; selfMs: number; percent: number }[]
}

const ROOT = path.resolve(import.meta.dirname, '../..')

/** Where a frame's code lives, for grouping self time. */
export function areaOf(frame: CallFrame): string {
  const { url, functionName } = frame
  if (!url) return functionName.startsWith('(') ? functionName : '(native)'
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/').slice(0, 2).join('/')}`
  if (url.startsWith('wasm://')) return 'wasm (Prisma query compiler)'
  const file = url.startsWith('file://') ? decodeURIComponent(new URL(url).pathname) : url
  const modules = file.lastIndexOf('/node_modules/')
  if (modules !== -1) {
    const [first, second] = file.slice(modules + 14).split('/')
    return first?.startsWith('@') ? `${first}/${second}` : first ?? file
  }
  const relative = path.relative(ROOT, file)
  if (relative.startsWith('generated/')) return 'generated/prisma (Prisma client)'
  return relative
}

/**
 * Reads V8 .cpuprofile files and sums self time by function, by area and by component: one
 * profile, or several processes running the same code (e.g. every participant) together;
 * with a window, only the samples taken in it.
 */
export async function summarizeProfile(files: string | string[], options: { window?: ProfileWindow; top?: number } = {}): Promise<ProfileSummary> {
  const { window, top = 15 } = options
  const list = Array.isArray(files) ? files : [files]
  const byFrame = new Map<string, number>()
  const byArea = new Map<string, number>()
  const byComponent = new Map<string, number>()
  const add = (map: Map<string, number>, key: string, us: number) => map.set(key, (map.get(key) ?? 0) + us)
  let totalUs = 0
  for (const file of list) {
    const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile
    const nodes = new Map(profile.nodes.map((node) => [node.id, node]))
    const selfUs = new Map<number, number>()
    let at = profile.startTime
    profile.samples.forEach((id, i) => {
      const delta = profile.timeDeltas[i] ?? 0
      at += delta
      if (window && (at < window.fromUs || at > window.toUs)) return
      selfUs.set(id, (selfUs.get(id) ?? 0) + delta)
    })
    const parents = new Map<number, number>()
    for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id)
    const componentOf = (id: number): string => {
      const leaf = areaOf(nodes.get(id)!.callFrame)
      if (leaf.startsWith('(') && leaf !== '(native)') return leaf
      for (let at: number | undefined = id; at !== undefined; at = parents.get(at)) {
        const area = areaOf(nodes.get(at)!.callFrame)
        if (!area.startsWith('node:') && !area.startsWith('(')) return area
      }
      return `${leaf} (no package on the stack)`
    }
    for (const [id, us] of selfUs) {
      const frame = nodes.get(id)!.callFrame
      const area = areaOf(frame)
      add(byComponent, componentOf(id), us)
      add(byFrame, `${frame.functionName || '(anonymous)'} — ${area}${frame.url && !area.startsWith('node:') ? `:${frame.lineNumber + 1}` : ''}`, us)
      add(byArea, area, us)
      totalUs += us
    }
  }
  const rank = (entries: Map<string, number>, n: number) => [...entries].sort((a, b) => b[1] - a[1]).slice(0, n)
  return {
    file: list.map((file) => path.basename(file)).join(', '),
    totalMs: totalUs / 1000,
    ...(window ? { windowMs: (window.toUs - window.fromUs) / 1000 } : {}),
    topFrames: rank(byFrame, top).map(([frame, us]) => ({ frame, selfMs: us / 1000, percent: (100 * us) / totalUs })),
    byArea: rank(byArea, 12).map(([area, us]) => ({ area, selfMs: us / 1000, percent: (100 * us) / totalUs })),
    byComponent: rank(byComponent, 15).map(([component, us]) => ({ component, selfMs: us / 1000, percent: (100 * us) / totalUs })),
  }
}

/** Sampled time that was not idle, µs: how much work a profile saw. */
function busyUs(profile: CpuProfile): number {
  const idle = new Set(profile.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id))
  return profile.samples.reduce((sum, id, i) => sum + (idle.has(id) ? 0 : profile.timeDeltas[i] ?? 0), 0)
}

/**
 * `--cpu-prof` writes one profile per thread, and with `--import tsx` a worker runs a second
 * thread for the module loader's hooks (busy only at start-up). Keeps the busiest profile in
 * `dir` (the main thread's) as `<target>` and removes `dir`.
 */
export async function keepMainThreadProfile(dir: string, target: string): Promise<void> {
  const files = (await readdir(dir)).filter((name) => name.endsWith('.cpuprofile'))
  let best: { file: string; busy: number } | undefined
  for (const name of files) {
    const file = path.join(dir, name)
    const busy = busyUs(JSON.parse(await readFile(file, 'utf8')) as CpuProfile)
    if (!best || busy > best.busy) best = { file, busy }
  }
  if (!best) throw new Error(`no CPU profile was written in ${dir}`)
  await rename(best.file, target)
  await rm(dir, { recursive: true, force: true })
}

import { readFileSync, readdirSync } from 'node:fs'

// CPU time of other processes (Postgres, the stub, spawned services) from /proc, Linux only.
// Times in /proc/<pid>/stat are in clock ticks; USER_HZ is 100 on every Linux build that
// matters (sysconf(_SC_CLK_TCK)), which is what `getconf CLK_TCK` prints here.
const TICK_MS = 1000 / 100

interface ProcStat {
  pid: number
  comm: string
  ppid: number
  /** utime + stime of the process itself, ms. */
  ownMs: number
  /** cutime + cstime: its reaped children, ms (for the postmaster: backends that exited). */
  childrenMs: number
}

function readStat(pid: number): ProcStat | undefined {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined // gone already
  }
  // The command name may contain spaces and parentheses: split after the last ')'.
  const close = text.lastIndexOf(')')
  const comm = text.slice(text.indexOf('(') + 1, close)
  const fields = text.slice(close + 2).split(' ')
  const num = (i: number) => Number(fields[i])
  return { pid, comm, ppid: num(1), ownMs: (num(11) + num(12)) * TICK_MS, childrenMs: (num(13) + num(14)) * TICK_MS }
}

function allStats(): ProcStat[] {
  const stats: ProcStat[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const stat = readStat(Number(entry))
    if (stat) stats.push(stat)
  }
  return stats
}

/**
 * CPU ms used so far by every process named `comm` (e.g. "postgres"), including children they
 * reaped: the postmaster's cutime/cstime holds the time of backends that exited meanwhile.
 */
export function cpuMsOfCommand(comm: string): number {
  return allStats().filter((s) => s.comm === comm).reduce((sum, s) => sum + s.ownMs + s.childrenMs, 0)
}

/** CPU ms of each given pid (own time only); pids that are gone are left out. */
export function cpuMsByPid(pids: readonly number[]): Map<number, number> {
  const times = new Map<number, number>()
  for (const pid of pids) {
    const stat = readStat(pid)
    if (stat) times.set(pid, stat.ownMs)
  }
  return times
}

/** CPU ms of a process and all its live descendants (a tsx launcher and the node it starts). */
export function cpuMsOfTree(rootPid: number): number {
  const stats = allStats()
  const children = new Map<number, ProcStat[]>()
  for (const s of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s])
  let total = 0
  const visit = (pid: number) => {
    const own = stats.find((s) => s.pid === pid)
    if (own) total += own.ownMs + own.childrenMs
    for (const child of children.get(pid) ?? []) visit(child.pid)
  }
  visit(rootPid)
  return total
}

/** Resident set size of a process tree, in bytes (from /proc/<pid>/statm). */
export function rssOfTree(rootPid: number): number {
  const stats = allStats()
  const pids = [rootPid]
  for (let i = 0; i < pids.length; i++) for (const s of stats) if (s.ppid === pids[i]) pids.push(s.pid)
  let pages = 0
  for (const pid of pids) {
    try {
      pages += Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1])
    } catch {
      // gone
    }
  }
  return pages * 4096
}

/** CPU time of the whole machine so far (all cores), from /proc/stat: busy and total, ms. */
export function machineCpuMs(): { busyMs: number; totalMs: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number) as number[]
  const total = user! + nice! + system! + idle! + iowait! + irq! + softirq! + (steal ?? 0)
  return { busyMs: (total - idle! - iowait!) * TICK_MS, totalMs: total * TICK_MS }
}

/** What a process has written so far (/proc/<pid>/io): bytes sent to the storage layer and write calls. */
export function writesOf(pid: number): { bytes: number; calls: number } {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8')
    const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(io)?.[1] ?? 0)
    return { bytes: field('write_bytes'), calls: field('syscw') }
  } catch {
    return { bytes: 0, calls: 0 } // gone
  }
}

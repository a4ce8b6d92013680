import type { Redis } from 'ioredis'
import type pg from 'pg'
import path from 'node:path'
import { keepMainThreadProfile, type ProfileSummary, summarizeProfile } from './cpu-profile.ts'
import { committedTransactions, pgDelta, pgSnapshot, type PgDelta, STATS_FLUSH_MS } from './postgres-counters.ts'
import { cpuMsOfCommand, cpuMsOfTree, machineCpuMs, writesOf } from './proc.ts'
import type { WorkerResult, WorkerTask } from './protocol.ts'
import type { Peers } from '../peers/setup.ts'
import { type Stub, startWorker, type WorkerOptions } from './workers.ts'

export type Size = 'small' | 'full'

/** Sizes of everything measured, by --size. */
export interface Plan {
  /** Sagas per engine/raw scenario (--sagas), split over `rounds`. */
  sagas: number
  /** Raw and engine alternate this many times at each concurrency. */
  rounds: number
  warmup: number
  concurrencies: number[]
  productSagas: Record<number, number>
  seedCount: number
  searchRequests: number
  /** Longest a search shape is measured, ms (a slow shape gets fewer samples, not a longer run). */
  searchShapeBudgetMs: number
  recoverySagas: number
  recoveryConcurrency: number
  memorySagas: number
  memorySampleMs: number
  instancesDurationMs: number
  /** The bench saga emits a domain event and the workers run the outbox relay (`--no-outbox`: neither). */
  outbox: boolean
}

export interface BenchContext {
  size: Size
  plan: Plan
  databaseUrl: string
  databaseName: string
  redisUrl: string
  resultsDir: string
  /** Coordinator's own connection: counters, seeding, checks. */
  pg: pg.Client
  redis: Redis
  stub: Stub
  /** Distinguishes this run's sagas (their userId reference). */
  runId: string
  profiles: (ProfileSummary & { reason: string })[]
  /** The peers measured beside the engine (--peers), set up and stopped by run.ts. */
  peers?: Peers
  log(line: string): void
}

/** Workers' results plus what Postgres and the stub did meanwhile. */
export interface Measured<R extends WorkerResult = WorkerResult> {
  results: R[]
  pg: PgDelta
  stubCpuMs: number
  /** Wall time from `go` to the last `done`. */
  wallMs: number
  machine: MachineLoad
  /** CPU of every redis-server process, ms: the bench's Redis and other users' alike. */
  redisCpuAllMs: number
  /** What the `servers` of the options did: CPU ms, bytes written to storage, write calls. */
  servers: { cpuMs: number; writeBytes: number; writeCalls: number }
  /** Commits of the measured database (`commits` option), with what its clients commit when idle. */
  commits?: { count: number; idlePerSecond: number }
}

export interface MeasureOptions extends WorkerOptions {
  label: string
  /** Database whose backends' CPU is measured (and whose commits are counted). Default: the bench database. */
  database?: string
  /** A peer's server processes (pids): their CPU and writes count with the measurement. */
  servers?: number[]
  /**
   * Also count the measured database's commits (pg_stat_database.xact_commit). Costs about 26 s:
   * the readings wait for idle backends to report (STATS_FLUSH_MS), and what the workers commit
   * while idle is measured for 5 s beforehand and taken off the waits.
   */
  commits?: boolean
}

/** How busy the machine was while measuring, and how much of that was not the benchmark. */
export interface MachineLoad {
  /** Busy share of all cores. */
  busyPercent: number
  /** CPU ms of everything but the workers, the stub and the bench database's Postgres processes: other users of the machine. */
  othersCpuMs: number
}

/** How long the workers' idle commits are counted before a measurement with `commits`. */
const IDLE_COMMITS_MS = 5_000

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Runs tasks in worker processes at the same time: all warm up, then Postgres' counters and
 * the stub's CPU are read, all are told to go, and the counters are read again when the
 * last one is done.
 */
export async function measure<R extends WorkerResult>(context: BenchContext, tasks: WorkerTask[], options: MeasureOptions): Promise<Measured<R>> {
  const database = options.database ?? context.databaseName
  const servers = options.servers ?? []
  const serverReading = () => servers.reduce((sum, pid) => {
    const writes = writesOf(pid)
    return { cpuMs: sum.cpuMs + cpuMsOfTree(pid), writeBytes: sum.writeBytes + writes.bytes, writeCalls: sum.writeCalls + writes.calls }
  }, { cpuMs: 0, writeBytes: 0, writeCalls: 0 })
  let lastReport = 0
  const workers = tasks.map((task) => startWorker(task, {
    ...options,
    onProgress: (completed) => {
      if (Date.now() - lastReport < 10_000) return
      lastReport = Date.now()
      context.log(`    … ${options.label}: ${completed} done`)
    },
  }))
  try {
    await Promise.all(workers.map((w) => w.ready))
    let idle: { from: number; perSecond: number; commits: number } | undefined
    if (options.commits) {
      await delay(STATS_FLUSH_MS)
      const first = await committedTransactions(context.pg, database)
      const firstAt = performance.now()
      await delay(IDLE_COMMITS_MS)
      const commits = await committedTransactions(context.pg, database)
      const from = performance.now()
      idle = { from, commits, perSecond: (commits - first) / ((from - firstAt) / 1000) }
    }
    const before = await pgSnapshot(context.pg, database)
    const stubBefore = cpuMsOfTree(context.stub.pid)
    const serversBefore = serverReading()
    const redisBefore = cpuMsOfCommand('redis-server')
    const machineBefore = machineCpuMs()
    const began = performance.now()
    for (const worker of workers) worker.go()
    const results = await Promise.all(workers.map((w) => w.done)) as R[]
    const wallMs = performance.now() - began
    const stubCpuMs = cpuMsOfTree(context.stub.pid) - stubBefore
    const serversAfter = serverReading()
    const redisCpuAllMs = cpuMsOfCommand('redis-server') - redisBefore
    const machineAfter = machineCpuMs()
    const pg = await pgDelta(context.pg, database, before)
    const serverDelta = {
      cpuMs: serversAfter.cpuMs - serversBefore.cpuMs,
      writeBytes: serversAfter.writeBytes - serversBefore.writeBytes,
      writeCalls: serversAfter.writeCalls - serversBefore.writeCalls,
    }
    const busyMs = machineAfter.busyMs - machineBefore.busyMs
    const workersMs = results.reduce((sum, r) => sum + r.cpuUserMs + r.cpuSystemMs, 0)
    const machine = {
      busyPercent: (100 * busyMs) / Math.max(1, machineAfter.totalMs - machineBefore.totalMs),
      othersCpuMs: Math.max(0, busyMs - workersMs - pg.cpuBenchMs - stubCpuMs - serverDelta.cpuMs),
    }
    let commits: Measured['commits']
    if (idle) {
      await delay(STATS_FLUSH_MS)
      const after = await committedTransactions(context.pg, database)
      // Between the readings the workers were idle except while measured: take off what idling commits.
      const idleMs = performance.now() - idle.from - wallMs
      commits = { count: after - idle.commits - (idle.perSecond * idleMs) / 1000, idlePerSecond: idle.perSecond }
    }
    return { results, pg, stubCpuMs, wallMs, machine, redisCpuAllMs, servers: serverDelta, ...(commits ? { commits } : {}) }
  } finally {
    await Promise.all(workers.map((w) => w.finish()))
  }
}

/**
 * Reruns tasks in workers started with `--cpu-prof`, keeps the main thread's profile as
 * `<resultsDir>/<name>.cpuprofile` and adds its summary to the report.
 */
export async function profile(context: BenchContext, tasks: WorkerTask[], name: string, reason: string): Promise<void> {
  context.log(`  profiling ${name} (${reason})`)
  const dir = path.join(context.resultsDir, `${name}-profiles`)
  await measure(context, tasks, { label: `profile ${name}`, cpuProfileDir: dir })
  const file = path.join(context.resultsDir, `${name}.cpuprofile`)
  await keepMainThreadProfile(dir, file)
  context.profiles.push({ reason, ...(await summarizeProfile(file)) })
}

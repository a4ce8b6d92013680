import type { Redis } from 'ioredis'
import type pg from 'pg'
import path from 'node:path'
import { keepMainThreadProfile, type ProfileSummary, summarizeProfile } from './cpu-profile.ts'
import { pgDelta, pgSnapshot, type PgDelta } from './postgres-counters.ts'
import { cpuMsOfTree, machineCpuMs } from './proc.ts'
import type { WorkerResult, WorkerTask } from './protocol.ts'
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
}

/** How busy the machine was while measuring, and how much of that was not the benchmark. */
export interface MachineLoad {
  /** Busy share of all cores. */
  busyPercent: number
  /** CPU ms of everything but the workers, the stub and the bench database's Postgres processes: other users of the machine. */
  othersCpuMs: number
}

/**
 * Runs tasks in worker processes at the same time: all warm up, then Postgres' counters and
 * the stub's CPU are read, all are told to go, and the counters are read again when the
 * last one is done.
 */
export async function measure<R extends WorkerResult>(context: BenchContext, tasks: WorkerTask[], options: WorkerOptions & { label: string }): Promise<Measured<R>> {
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
    const before = await pgSnapshot(context.pg, context.databaseName)
    const stubBefore = cpuMsOfTree(context.stub.pid)
    const machineBefore = machineCpuMs()
    const began = performance.now()
    for (const worker of workers) worker.go()
    const results = await Promise.all(workers.map((w) => w.done)) as R[]
    const wallMs = performance.now() - began
    const stubCpuMs = cpuMsOfTree(context.stub.pid) - stubBefore
    const machineAfter = machineCpuMs()
    const pg = await pgDelta(context.pg, context.databaseName, before)
    const busyMs = machineAfter.busyMs - machineBefore.busyMs
    const workersMs = results.reduce((sum, r) => sum + r.cpuUserMs + r.cpuSystemMs, 0)
    const machine = {
      busyPercent: (100 * busyMs) / Math.max(1, machineAfter.totalMs - machineBefore.totalMs),
      othersCpuMs: Math.max(0, busyMs - workersMs - pg.cpuBenchMs - stubCpuMs),
    }
    return { results, pg, stubCpuMs, wallMs, machine }
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

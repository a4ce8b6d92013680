import type { StatementCounts } from './counting-database.ts'

// What the coordinator (bench/run.ts) and a worker process (bench/workers/load-worker.ts) say
// to each other over IPC. A worker sets up and warms up, says `ready`, waits for `go` (the
// coordinator reads Postgres' counters in between), measures, says `done`, waits for `exit`.

interface DatabaseTask {
  databaseUrl: string
  /** Redis for the mirror (and status reads). Default: none. */
  redisUrl?: string
  /** The bench saga's completion writes a domain event to the outbox, and the worker runs the relay. Default: true */
  outbox?: boolean
}

/**
 * Who runs the bench saga: our engine (`engine`), nobody (`raw`: the same four calls in a row),
 * or a peer on its own durable runtime (bench/peers/).
 */
export type SagaRunner = 'engine' | 'raw' | 'dbos' | 'restate'

/** Where a Restate peer's worker registers its service endpoint and invokes it. */
export interface RestateAddresses {
  ingressUrl: string
  adminUrl: string
}

/**
 * Sagas through one runner. For `dbos`, `databaseUrl` is DBOS's own system database; `restate`
 * uses no database (its server keeps the journal) and needs `restate`.
 */
export interface LoadTask extends DatabaseTask {
  kind: SagaRunner
  concurrency: number
  /** Sagas to measure; or run for `durationMs`. */
  count?: number
  durationMs?: number
  /** Sagas run before `ready`, not measured (JIT, pools, connections). */
  warmup: number
  stubUrl: string
  instanceId: string
  runId: string
  /** Samples memory (after a forced GC when --expose-gc is on) this often during the measured phase. */
  memorySampleMs?: number
  restate?: RestateAddresses
}

/** orchestrator.recoverPendingSagas over orphans the coordinator inserted. */
export interface RecoveryTask extends DatabaseTask {
  kind: 'recovery'
  concurrency: number
  stubUrl: string
  instanceId: string
  runId: string
  warmup: number
}

/** Status and search requests against the orchestrator's HTTP app over real HTTP. */
export interface SearchTask extends DatabaseTask {
  kind: 'search'
  /** Bulk-inserted sagas present: seed numbers 0..seedCount-1. */
  seedCount: number
  /** Measured requests per query shape. */
  requests: number
  /** Longest one shape is measured, ms: a slow shape gets fewer samples rather than a longer run. */
  shapeBudgetMs: number
  /** EXPLAIN ANALYZE the SQL of shapes whose p99 is at least this, ms. */
  explainAboveMs: number
  warmup: number
  /** Sagas driven by this run (mirrored in Redis): the status read that hits the cache. */
  recentIds: string[]
  /** Only these query shapes (by name). Default: all. */
  only?: string[]
}

export type WorkerTask = LoadTask | RecoveryTask | SearchTask

export interface MemorySample {
  /** ms since the measured phase began */
  tMs: number
  sagas: number
  rss: number
  heapUsed: number
  heapTotal: number
  external: number
}

/** Where an engine saga's time went, summed over the measured sagas (ms). */
export interface Breakdown {
  sagas: number
  /** Awaiting the participant (the HTTP call), every attempt. */
  transportMs: number
  /** Awaiting createSaga (INSERT + read back). */
  createMs: number
  /** Awaiting recordTransition (one UPDATE+INSERT statement per step). */
  storeWriteMs: number
  storeWrites: number
  /** From a transition's commit to the engine going on: the Redis mirror's MULTI. */
  mirrorMs: number
}

export interface LoadResult {
  kind: SagaRunner | 'recovery'
  completed: number
  failed: number
  /** First few failure messages. */
  failures: string[]
  elapsedMs: number
  latenciesMs: number[]
  /** process.cpuUsage() over the measured phase. */
  cpuUserMs: number
  cpuSystemMs: number
  statements: StatementCounts
  breakdown?: Breakdown
  memory?: MemorySample[]
  /** recovery: the summary recoverPendingSagas returned (without ids). */
  recovery?: Record<string, number>
}

export interface SearchResult {
  kind: 'search'
  queries: { name: string; description: string; latenciesMs: number[]; items: number; failures: number; plan?: string; postgresMs: number }[]
  cpuUserMs: number
  cpuSystemMs: number
}

export type WorkerResult = LoadResult | SearchResult

export type ToWorker = { type: 'task'; task: WorkerTask } | { type: 'go' } | { type: 'exit' }
export type FromWorker =
  | { type: 'ready' }
  | { type: 'progress'; completed: number }
  | { type: 'done'; result: WorkerResult }
  | { type: 'error'; message: string }

/**
 * One way of running the bench saga, as the load loop sees it: the engine, the raw floor, or a
 * peer (bench/peers/). Counters start from zero at `startMeasuring`.
 */
export interface SagaDriver {
  /** Runs saga number `n` to its end; throws unless it completed. */
  runOne(n: number): Promise<void>
  startMeasuring?(): void
  /** SQL statements sent since `startMeasuring` (drivers that count them). */
  statements?(): StatementCounts
  /** Where the engine's time went since `startMeasuring` (engine only). */
  breakdown?(): Omit<Breakdown, 'sagas'>
  close(): Promise<void>
}

import type { MachineLoad } from './context.ts'
import type { SagaRunner } from './protocol.ts'
import type { LoadOutcome } from './stats.ts'

// What the sections report: a scenario's figures, and a target with whether it was met.

export interface ScenarioResult extends LoadOutcome {
  kind: SagaRunner
  /**
   * CPU ms per saga. `caller`: the worker process (for a peer: its SDK and the saga's code);
   * Postgres "bench": the measured database's backends (DBOS: its own) and the background
   * processes; `server`: a peer's server (restate-server); `redisAll`: every redis-server
   * process, other users' included.
   */
  cpuMsPerSaga: { caller: number; postgresAll: number; postgresBench: number; stub: number; server: number; redisAll: number }
  perSaga: {
    /** Transaction ids assigned, cluster-wide, per saga. */
    writeTransactions: number
    /** Distinct writing transactions of this run's event rows per saga (engine only): immune to other databases' work. */
    writeTransactionsFromEvents?: number
    /** DBOS: distinct writing transactions (xmin) of the run's rows in DBOS's tables, per saga; like the engine's event-log count. */
    writeTransactionsFromRows?: number
    /** DBOS: commits of its database (pg_stat_database.xact_commit, read-only transactions included) per saga. */
    committedTransactions?: number
    sqlStatements: number
    sqlStatementsByKind: Record<string, number>
    walBytes: number
    /** Restate: bytes its server wrote to storage (/proc/<pid>/io write_bytes) and its write calls, per saga. */
    serverWriteBytes?: number
    serverWriteCalls?: number
  }
  /** DBOS: what its database commits per second while the worker idles (queue polling and the like). */
  idleCommitsPerSecond?: number
  /** Each round on its own (raw and engine rounds alternate). */
  rounds: { sagasPerSecond: number; p50: number; busyPercent: number; othersCpuMs: number }[]
  /** Mean ms per saga spent awaiting each port (engine only). */
  breakdownMs?: { participantCalls: number; createSaga: number; recordTransition: number; redisMirror: number; rest: number; postgresWire: number }
  /** Transactions other databases ran during the measurement (their writes are in the cluster-wide counts). */
  otherDatabasesXacts: number
  machine: MachineLoad
}

export interface Target {
  section: string
  name: string
  target: string
  measured: string
  met: boolean
  /** How far off, when missed, and what bounds it. */
  note?: string
}

import type pg from 'pg'
import { cpuMsByPid, cpuMsOfCommand } from './proc.ts'

/** Postgres counters read around a measured phase. */
export interface PgSnapshot {
  /** Next transaction id to be assigned, cluster-wide (pg_snapshot_xmax of the current snapshot). */
  xid: bigint
  walLsn: string
  /** utime+stime of every postgres process (plus backends reaped by the postmaster), ms. */
  cpuAllMs: number
  /** CPU ms of the bench database's backends and Postgres' background processes, by pid. */
  benchCpu: Map<number, number>
  /** Transactions of the other databases (pg_stat_database, which lags by about a second). */
  otherDatabasesXacts: number
}

/** What happened in Postgres between two snapshots. */
export interface PgDelta {
  /** Transaction ids assigned, cluster-wide: every transaction that wrote. */
  xids: number
  walBytes: number
  cpuAllMs: number
  /** CPU of the bench database's backends and the background processes (those that exited meanwhile are only in cpuAllMs). */
  cpuBenchMs: number
  /** Transactions other databases ran meanwhile: > 0 means the cluster-wide counts include other work. */
  otherDatabasesXacts: number
}

export async function pgSnapshot(client: pg.Client, database: string): Promise<PgSnapshot> {
  await client.query('SELECT pg_stat_clear_snapshot()')
  const { rows: [head] } = await client.query<{ xid: string; lsn: string; other: string | null }>(`
    SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS xid, pg_current_wal_lsn()::text AS lsn,
           (SELECT sum(xact_commit + xact_rollback) FROM pg_stat_database WHERE datname IS DISTINCT FROM $1)::text AS other`, [database])
  // Background processes (walwriter, checkpointer, …) have no database: they do our commits' I/O.
  const { rows: pids } = await client.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = $1 OR datname IS NULL', [database])
  return {
    xid: BigInt(head!.xid),
    walLsn: head!.lsn,
    cpuAllMs: cpuMsOfCommand('postgres'),
    benchCpu: cpuMsByPid(pids.map((p) => p.pid)),
    otherDatabasesXacts: Number(head!.other ?? 0),
  }
}

export async function pgDelta(client: pg.Client, database: string, before: PgSnapshot): Promise<PgDelta> {
  const after = await pgSnapshot(client, database)
  const { rows: [wal] } = await client.query<{ bytes: string }>('SELECT pg_wal_lsn_diff($1, $2)::text AS bytes', [after.walLsn, before.walLsn])
  let cpuBenchMs = 0
  // A backend missing from the first snapshot connected meanwhile: all of its CPU is the
  // measurement's (a pool reopening a connection it had let go when idle).
  for (const [pid, ms] of after.benchCpu) cpuBenchMs += ms - (before.benchCpu.get(pid) ?? 0)
  return {
    xids: Number(after.xid - before.xid),
    walBytes: Number(wal!.bytes),
    cpuAllMs: after.cpuAllMs - before.cpuAllMs,
    cpuBenchMs,
    otherDatabasesXacts: after.otherDatabasesXacts - before.otherDatabasesXacts,
  }
}

/**
 * Transactions `database` has committed (pg_stat_database.xact_commit), read-only ones included.
 * Backends report them in batches: at most once a second while busy, and an idle backend holds
 * what it has not reported for up to 10 s (PGSTAT_IDLE_INTERVAL), so read this only after the
 * database's clients have been idle for `STATS_FLUSH_MS`.
 */
export async function committedTransactions(client: pg.Client, database: string): Promise<number> {
  await client.query('SELECT pg_stat_clear_snapshot()')
  const { rows: [row] } = await client.query<{ commits: string | null }>('SELECT xact_commit::text AS commits FROM pg_stat_database WHERE datname = $1', [database])
  return Number(row?.commits ?? 0)
}

/** How long after its last transaction a backend has surely reported its statistics. */
export const STATS_FLUSH_MS = 10_500

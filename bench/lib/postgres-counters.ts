import type pg from 'pg'
import { cpuMsOfCommand, cpuMsOfPids } from './proc.ts'

/** Postgres counters read around a measured phase. */
export interface PgSnapshot {
  /** Next transaction id to be assigned, cluster-wide (pg_snapshot_xmax of the current snapshot). */
  xid: bigint
  walLsn: string
  /** utime+stime of every postgres process (plus backends reaped by the postmaster), ms. */
  cpuAllMs: number
  /** Backends connected to the bench database and Postgres' background processes, by pid. */
  benchPids: number[]
  benchCpuMs: number
  /** Committed + rolled back transactions per database (pg_stat_database, which lags ~1 s). */
  otherDatabasesXacts: number
}

/** What happened in Postgres between two snapshots. */
export interface PgDelta {
  /** Transaction ids assigned: write transactions, cluster-wide. */
  xids: number
  walBytes: number
  cpuAllMs: number
  /** CPU of the bench database's backends (those alive at both ends) and the background processes. */
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
  const benchPids = pids.map((p) => p.pid)
  return {
    xid: BigInt(head!.xid),
    walLsn: head!.lsn,
    cpuAllMs: cpuMsOfCommand('postgres'),
    benchPids,
    benchCpuMs: cpuMsOfPids(benchPids),
    otherDatabasesXacts: Number(head!.other ?? 0),
  }
}

export async function pgDelta(client: pg.Client, database: string, before: PgSnapshot): Promise<PgDelta> {
  const after = await pgSnapshot(client, database)
  const { rows: [wal] } = await client.query<{ bytes: string }>('SELECT pg_wal_lsn_diff($1, $2)::text AS bytes', [after.walLsn, before.walLsn])
  const both = before.benchPids.filter((pid) => after.benchPids.includes(pid))
  return {
    xids: Number(after.xid - before.xid),
    walBytes: Number(wal!.bytes),
    cpuAllMs: after.cpuAllMs - before.cpuAllMs,
    cpuBenchMs: cpuMsOfPids(both) - cpuMsOfPids([]) - sumOf(before, both),
    otherDatabasesXacts: after.otherDatabasesXacts - before.otherDatabasesXacts,
  }
}

// CPU the surviving pids had at the first snapshot (read again per pid would be after the fact).
function sumOf(before: PgSnapshot, pids: number[]): number {
  return before.benchPidCpu ? pids.reduce((s, pid) => s + (before.benchPidCpu!.get(pid) ?? 0), 0) : 0
}

import type { Peers, PeerName } from '../peers/setup.ts'
import { round } from '../lib/stats.ts'
import type { ScenarioResult, Target } from '../lib/results.ts'

// The peers beside the engine (--peers): the issue's goals as targets, and the summary that
// report.json carries under `peers` (peers.dbos.sagasPerSecC20, peers.dbos.p50MsC1, …).
// The figures come from the engine section, where the peers run in the same alternating rounds.

/** The engine against each peer: throughput at the highest concurrency ≥ N × the peer's, p50 at c=1 ≤ N × the peer's. */
export const PEER_GOALS: Record<PeerName, { throughputAtLeast: number; p50AtMost: number; label: string }> = {
  dbos: { throughputAtLeast: 3, p50AtMost: 0.5, label: 'DBOS' },
  restate: { throughputAtLeast: 2, p50AtMost: 0.5, label: 'Restate' },
}

export function peerTargets(engine: ScenarioResult[], peers: ScenarioResult[], concurrencies: number[]): Target[] {
  const targets: Target[] = []
  const high = Math.max(...concurrencies)
  const find = (list: ScenarioResult[], kind: string, c: number) => list.find((s) => s.kind === kind && s.concurrency === c)
  for (const [name, goal] of Object.entries(PEER_GOALS) as [PeerName, (typeof PEER_GOALS)[PeerName]][]) {
    const engineHigh = find(engine, 'engine', high)
    const peerHigh = find(peers, name, high)
    if (engineHigh && peerHigh) {
      const ratio = engineHigh.sagasPerSecond / peerHigh.sagasPerSecond
      targets.push({
        section: 'peers', name: `throughput at c=${high} vs ${goal.label}`, target: `≥ ${goal.throughputAtLeast} × ${goal.label}`,
        measured: `${round(ratio)} × ${goal.label} (${round(engineHigh.sagasPerSecond)} vs ${round(peerHigh.sagasPerSecond)} sagas/s)`, met: ratio >= goal.throughputAtLeast,
        note: `by round: ${engineHigh.rounds.map((r, i) => round(r.sagasPerSecond / (peerHigh.rounds[i]?.sagasPerSecond ?? Number.NaN))).join(', ')}`,
      })
    }
    const engineOne = find(engine, 'engine', 1)
    const peerOne = find(peers, name, 1)
    if (engineOne && peerOne) {
      const ratio = engineOne.latencyMs.p50 / peerOne.latencyMs.p50
      targets.push({
        section: 'peers', name: `p50 latency at c=1 vs ${goal.label}`, target: `≤ ${goal.p50AtMost} × ${goal.label}'s p50`,
        measured: `${round(ratio)} × ${goal.label} (${round(engineOne.latencyMs.p50)} vs ${round(peerOne.latencyMs.p50)} ms)`, met: ratio <= goal.p50AtMost,
        note: `by round: ${engineOne.rounds.map((r, i) => round(r.p50 / (peerOne.rounds[i]?.p50 ?? Number.NaN))).join(', ')}`,
      })
    }
  }
  return targets
}

type Figure = `${'sagasPerSec' | 'p50Ms' | 'p95Ms' | 'p99Ms'}C${number}`

export interface MeasuredPeer {
  name: string
  /** Installed npm packages and versions. */
  packages: Record<string, string>
  /** How it was configured, durability first. */
  configuration: string[]
  /** What it persists for a saga, in words (Restate: no Postgres). */
  persists: string
  /** The engine's figure over the peer's: `throughputC<high>` (≥ goal) and `p50C1` (≤ goal). */
  engineOverPeer: Record<string, number>
  scenarios: ScenarioResult[]
  /** sagasPerSecC<c>, p50MsC<c>, p95MsC<c>, p99MsC<c> at every concurrency measured: peers.dbos.sagasPerSecC20, peers.dbos.p50MsC1. */
  [figure: Figure]: number
}

export type PeerReport = MeasuredPeer | { name: string; skipped: string }

export function isMeasured(peer: PeerReport): peer is MeasuredPeer {
  return !('skipped' in peer)
}

function measuredPeer(name: string, packages: Record<string, string>, configuration: string[], persists: string, mine: ScenarioResult[], engine: ScenarioResult[]): MeasuredPeer {
  const figures: Record<string, number> = {}
  for (const s of mine) {
    figures[`sagasPerSecC${s.concurrency}`] = s.sagasPerSecond
    figures[`p50MsC${s.concurrency}`] = s.latencyMs.p50
    figures[`p95MsC${s.concurrency}`] = s.latencyMs.p95
    figures[`p99MsC${s.concurrency}`] = s.latencyMs.p99
  }
  const engineOverPeer: Record<string, number> = {}
  const high = Math.max(...mine.map((s) => s.concurrency))
  const at = (list: ScenarioResult[], c: number) => list.find((s) => s.concurrency === c)
  const [engineHigh, peerHigh] = [at(engine, high), at(mine, high)]
  if (engineHigh && peerHigh) engineOverPeer[`throughputC${high}`] = engineHigh.sagasPerSecond / peerHigh.sagasPerSecond
  const [engineOne, peerOne] = [at(engine, 1), at(mine, 1)]
  if (engineOne && peerOne) engineOverPeer.p50C1 = engineOne.latencyMs.p50 / peerOne.latencyMs.p50
  return { name, packages, configuration, persists, engineOverPeer, scenarios: mine, ...figures } as MeasuredPeer
}

/** `report.peers`: each peer's figures, configuration and ratios, or why it was skipped. */
export function peersReport(peers: Peers, engineScenarios: ScenarioResult[], peerScenarios: ScenarioResult[], postgresSettings: Record<string, string>): Record<PeerName, PeerReport> {
  const engine = engineScenarios.filter((s) => s.kind === 'engine')
  const dbos = measuredPeer('DBOS Transact', { '@dbos-inc/dbos-sdk': peers.dbos.sdk }, [
    `its defaults, except the application name (saga-bench), the system database (${peers.dbos.databaseName}, on the bench's Postgres server, created and migrated by DBOS) and the log level (info, as the engine's)`,
    `durability as documented by DBOS: a workflow's status and input, each step's output and its result are committed to Postgres before it goes on; Postgres as configured for the engine (${['synchronous_commit', 'fsync'].map((k) => `${k}=${postgresSettings[k] ?? '?'}`).join(', ')})`,
    'pool of 10 connections (its default and the engine\'s); LISTEN/NOTIFY on (its default)',
    'steps retried as the engine retries them: only transient answers, same attempts, first delay and growth (DBOS has no cap on the delay)',
  ], 'Postgres rows in its own database: workflow status, input, output and one row per step output (see the write transactions)', peerScenarios.filter((s) => s.kind === 'dbos'), engine)
  const restate: PeerReport = peers.restate
    ? measuredPeer('Restate', { '@restatedev/restate-server': peers.restate.server, '@restatedev/restate-sdk': peers.restate.sdk }, [
      `${peers.restate.version}, its defaults (one node with every role): ${Object.entries(peers.restate.durability).map(([k, v]) => `${k} = ${v}`).join(', ')}; loopback ports, usage telemetry off, data in the run's results folder (same disk as Postgres), removed at the end`,
      'durability as documented by Restate: the invocation and each ctx.run result are appended to its log (fsynced) before the handler goes on; a crash replays the journal',
      `SDK ${peers.restate.sdk}, the newest whose Node endpoint runs on Node 20 (1.15 and later call Promise.withResolvers, Node 22+); the service served over HTTP/2 from the measuring worker, invoked through the ingress with an idempotency key`,
      'ctx.run retried as the engine retries: same attempts, delays and cap; a rejection is a TerminalError',
    ], 'its own log and partition store (RocksDB) on disk, no Postgres: the bytes its server wrote per saga stand for the transactions', peerScenarios.filter((s) => s.kind === 'restate'), engine)
    : { name: 'Restate', skipped: peers.skipped.restate ?? 'not started' }
  return { dbos, restate }
}

import pg from 'pg'
import { benchSaga } from '../bench-saga.ts'
import type { BenchContext } from '../lib/context.ts'
import { measure, type Measured, type MeasureOptions, profile } from '../lib/context.ts'
import type { LoadResult, LoadTask, SagaRunner } from '../lib/protocol.ts'
import type { ScenarioResult, Target } from '../lib/results.ts'
import { round, summarize } from '../lib/stats.ts'
import { peerTargets } from './peers.ts'

/** How each runner is named in the report. */
const RUNNER_LABELS: Record<SagaRunner, string> = { raw: 'raw floor', engine: 'engine', dbos: 'DBOS', restate: 'Restate' }

export interface EngineSection {
  /** The raw floor and the engine. */
  scenarios: ScenarioResult[]
  /** The peers (--peers), measured in the same alternating rounds. */
  peerScenarios: ScenarioResult[]
  targets: Target[]
  latencies: Record<string, number[]>
  /** What the section's transitions did to orchestrator.sagas (pg_stat_user_tables; warm-ups included). */
  sagasTable: SagasTableWrites
  /** The engine at the highest concurrency without the outbox (plan.outbox), in the same rounds. */
  withoutOutbox?: ScenarioResult
  /**
   * The headline figures (report.json: engine.sagasPerSecC20, engine.ratioC20, engine.p50MsC1,
   * engine.p50OverRawMsC1), at every concurrency measured.
   */
  [figure: `${'sagasPerSec' | 'ratio' | 'p50Ms' | 'p50OverRawMs'}C${number}`]: number
}

/** Issue 15's engine targets: half the raw floor's throughput at the highest concurrency, and
 * at most 2.5 ms over the raw floor's p50 at c=1, with the same durability. */
export const ENGINE_GOALS = { ratioAtLeast: 0.5, p50OverRawAtMostMs: 2.5 }
/** Issue 16: the outbox may cost the engine at most 5 % of its throughput. */
const OUTBOX_COST_AT_MOST = 0.05

/** Updates of the sagas table, how many were HOT (no index touched), and how many indexes it has. */
export interface SagasTableWrites {
  updates: number
  hotUpdates: number
  indexes: number
}

async function sagasTableWrites(context: BenchContext): Promise<SagasTableWrites> {
  await context.pg.query('SELECT pg_stat_clear_snapshot()')
  const { rows: [row] } = await context.pg.query<{ upd: string; hot: string; indexes: string }>(`
    SELECT n_tup_upd::text AS upd, n_tup_hot_upd::text AS hot,
           (SELECT count(*) FROM pg_indexes WHERE schemaname = 'orchestrator' AND tablename = 'sagas')::text AS indexes
      FROM pg_stat_user_tables WHERE schemaname = 'orchestrator' AND relname = 'sagas'`)
  return { updates: Number(row!.upd), hotUpdates: Number(row!.hot), indexes: Number(row!.indexes) }
}

function loadTask(context: BenchContext, kind: SagaRunner, concurrency: number, count: number, suffix = '', outbox = context.plan.outbox): LoadTask {
  return {
    kind,
    concurrency,
    count,
    warmup: context.plan.warmup,
    stubUrl: context.stub.url,
    databaseUrl: kind === 'dbos' ? context.peers!.dbos.databaseUrl : context.databaseUrl,
    redisUrl: context.redisUrl,
    outbox,
    instanceId: `bench-${kind}-c${concurrency}${suffix}-${context.runId}`,
    runId: `${context.runId}-${kind}-c${concurrency}${suffix}`,
    ...(kind === 'restate' ? { restate: { ingressUrl: context.peers!.restate!.ingressUrl, adminUrl: context.peers!.restate!.adminUrl } } : {}),
  }
}

/** What is measured around a runner besides its worker: DBOS's own database and commits, Restate's server. */
function measureOptions(context: BenchContext, kind: SagaRunner): Omit<MeasureOptions, 'label'> {
  if (kind === 'dbos') return { database: context.peers!.dbos.databaseName, commits: true }
  if (kind === 'restate') return { servers: [context.peers!.restate!.pid] }
  return {}
}

/** Write transactions per saga as the event log shows them: distinct xmin of the run's event rows. */
async function writeTransactionsFromEvents(context: BenchContext, runId: string): Promise<number> {
  const { rows: [row] } = await context.pg.query<{ tx: string; sagas: string }>(`
    SELECT count(DISTINCT e.xmin::text) AS tx, count(DISTINCT s.id) AS sagas
      FROM orchestrator.sagas s JOIN orchestrator.saga_events e ON e.saga_id = s.id
     WHERE s.user_id = $1`, [runId])
  return Number(row!.tx) / Math.max(1, Number(row!.sagas))
}

/**
 * DBOS's write transactions per saga as its tables show them: distinct xmin of the rows of the
 * run's workflows (status, input, output, one row per step). A transaction whose rows were all
 * updated later leaves no trace, so this is a lower bound, as exact as the engine's event log.
 */
async function dbosWriteTransactions(context: BenchContext, runId: string): Promise<number> {
  const client = new pg.Client({ connectionString: context.peers!.dbos.databaseUrl })
  await client.connect()
  try {
    const { rows: [row] } = await client.query<{ tx: string; sagas: string }>(`
      SELECT count(DISTINCT x) AS tx, (SELECT count(*) FROM dbos.workflow_status WHERE starts_with(workflow_uuid, $1)) AS sagas FROM (
        SELECT xmin::text AS x FROM dbos.workflow_status WHERE starts_with(workflow_uuid, $1)
        UNION ALL SELECT xmin::text FROM dbos.workflow_input WHERE starts_with(workflow_uuid, $1)
        UNION ALL SELECT xmin::text FROM dbos.workflow_output WHERE starts_with(workflow_uuid, $1)
        UNION ALL SELECT xmin::text FROM dbos.operation_outputs WHERE starts_with(workflow_uuid, $1)) AS written`, [`${runId}:`])
    return Number(row!.tx) / Math.max(1, Number(row!.sagas))
  } finally {
    await client.end()
  }
}

interface Round {
  measured: Measured<LoadResult>
  result: LoadResult
}

/**
 * A runner as the rounds alternate it: one of the four, or the engine without its outbox (the
 * bench saga's domain event and the relay off), which measures what the outbox costs.
 */
interface Runner {
  kind: SagaRunner
  label: string
  suffix: string
  outbox?: false
}

const runnerOf = (kind: SagaRunner): Runner => ({ kind, label: RUNNER_LABELS[kind], suffix: '' })
const ENGINE_WITHOUT_OUTBOX: Runner = { kind: 'engine', label: 'engine without outbox', suffix: '-no-outbox', outbox: false }

/** One round of one scenario: a fresh worker, warmed up, then `count` sagas. */
async function runRound(context: BenchContext, runner: Runner, concurrency: number, round: number, count: number): Promise<Round> {
  const { kind } = runner
  const task = { ...loadTask(context, kind, concurrency, count, runner.suffix, runner.outbox), instanceId: `bench-${kind}${runner.suffix}-c${concurrency}-r${round}-${context.runId}` }
  const measured = await measure<LoadResult>(context, [task], { label: `${runner.label} c=${concurrency} round ${round}`, ...measureOptions(context, kind) })
  const result = measured.results[0]!
  if (result.failed) context.log(`    ${result.failed} failed: ${result.failures.join('; ')}`)
  return { measured, result }
}

/** Pools a scenario's rounds: sums of counts and times, every latency. */
async function pool(context: BenchContext, runner: Runner, concurrency: number, rounds: Round[]): Promise<{ result: ScenarioResult; latencies: number[] }> {
  const { kind } = runner
  const sum = (get: (round: Round) => number) => rounds.reduce((total, round) => total + get(round), 0)
  const n = Math.max(1, sum((r) => r.result.completed))
  const latencies = rounds.flatMap((r) => r.result.latenciesMs)
  const latency = summarize(latencies)
  const elapsedMs = sum((r) => r.result.elapsedMs)
  const byKind: Record<string, number> = {}
  for (const r of rounds) for (const [k, v] of Object.entries(r.result.statements.byKind)) byKind[k] = (byKind[k] ?? 0) + v / n
  const b = rounds.every((r) => r.result.breakdown) ? {
    transportMs: sum((r) => r.result.breakdown!.transportMs),
    createMs: sum((r) => r.result.breakdown!.createMs),
    storeWriteMs: sum((r) => r.result.breakdown!.storeWriteMs),
    mirrorMs: sum((r) => r.result.breakdown!.mirrorMs),
  } : undefined
  const busyMs = sum((r) => r.measured.machine.busyPercent * r.measured.wallMs)
  const runId = loadTask(context, kind, concurrency, 0, runner.suffix).runId
  const commits = rounds.every((r) => r.measured.commits) ? sum((r) => r.measured.commits!.count) / n : undefined
  const result: ScenarioResult = {
    name: `${runner.label} c=${concurrency}`,
    kind,
    concurrency,
    completed: sum((r) => r.result.completed),
    failed: sum((r) => r.result.failed),
    failures: rounds.flatMap((r) => r.result.failures).slice(0, 5),
    elapsedMs,
    sagasPerSecond: n / (elapsedMs / 1000),
    latencyMs: latency,
    rounds: rounds.map((r) => ({
      sagasPerSecond: r.result.completed / (r.result.elapsedMs / 1000),
      p50: summarize(r.result.latenciesMs).p50,
      busyPercent: r.measured.machine.busyPercent,
      othersCpuMs: r.measured.machine.othersCpuMs,
    })),
    cpuMsPerSaga: {
      caller: sum((r) => r.result.cpuUserMs + r.result.cpuSystemMs) / n,
      postgresAll: sum((r) => r.measured.pg.cpuAllMs) / n,
      postgresBench: sum((r) => r.measured.pg.cpuBenchMs) / n,
      stub: sum((r) => r.measured.stubCpuMs) / n,
      server: sum((r) => r.measured.servers.cpuMs) / n,
      redisAll: sum((r) => r.measured.redisCpuAllMs) / n,
    },
    perSaga: {
      writeTransactions: sum((r) => r.measured.pg.xids) / n,
      ...(kind === 'engine' ? { writeTransactionsFromEvents: await writeTransactionsFromEvents(context, runId) } : {}),
      ...(kind === 'dbos' ? { writeTransactionsFromRows: await dbosWriteTransactions(context, runId) } : {}),
      ...(commits !== undefined ? { committedTransactions: commits } : {}),
      sqlStatements: sum((r) => r.result.statements.total) / n,
      sqlStatementsByKind: byKind,
      walBytes: sum((r) => r.measured.pg.walBytes) / n,
      ...(kind === 'restate' ? { serverWriteBytes: sum((r) => r.measured.servers.writeBytes) / n, serverWriteCalls: sum((r) => r.measured.servers.writeCalls) / n } : {}),
    },
    ...(commits !== undefined ? { idleCommitsPerSecond: sum((r) => r.measured.commits!.idlePerSecond) / rounds.length } : {}),
    ...(b ? {
      breakdownMs: {
        participantCalls: b.transportMs / n,
        createSaga: b.createMs / n,
        recordTransition: b.storeWriteMs / n,
        redisMirror: b.mirrorMs / n,
        rest: latency.mean - (b.transportMs + b.createMs + b.storeWriteMs + b.mirrorMs) / n,
        postgresWire: sum((r) => r.result.statements.waitMs) / n,
      },
    } : {}),
    otherDatabasesXacts: sum((r) => r.measured.pg.otherDatabasesXacts),
    machine: { busyPercent: busyMs / Math.max(1, sum((r) => r.measured.wallMs)), othersCpuMs: sum((r) => r.measured.machine.othersCpuMs) },
  }
  context.log(`  ${result.name}: ${round(result.sagasPerSecond)} sagas/s, p50 ${round(latency.p50)} ms, p99 ${round(latency.p99)} ms` +
    (kind === 'engine' || kind === 'dbos' ? `, ${round(result.perSaga.sqlStatements)} statements and ${round(result.perSaga.writeTransactions)} xids per saga` : ''))
  return { result, latencies }
}

/** Profiles a shorter engine run in a worker started with --cpu-prof. */
export async function profileEngine(context: BenchContext, concurrency: number, reason: string): Promise<void> {
  const count = Math.min(context.plan.sagas, concurrency === 1 ? 300 : 1_000)
  await profile(context, [loadTask(context, 'engine', concurrency, count, '-profile')], `engine-c${concurrency}`, reason)
}

export async function runEngineSection(context: BenchContext): Promise<EngineSection> {
  const scenarios: ScenarioResult[] = []
  const peerScenarios: ScenarioResult[] = []
  const latencies: Record<string, number[]> = {}
  const tableBefore = await sagasTableWrites(context)
  // Raw, engine and the peers alternate in rounds, so that a burst of load from elsewhere on
  // the machine hits every side of a ratio rather than one.
  const kinds: SagaRunner[] = ['raw', 'engine', ...(context.peers ? ['dbos' as const] : []), ...(context.peers?.restate ? ['restate' as const] : [])]
  const rounds = context.plan.rounds
  const perRound = Math.ceil(context.plan.sagas / rounds)
  const high = Math.max(...context.plan.concurrencies)
  let withoutOutbox: ScenarioResult | undefined
  for (const concurrency of context.plan.concurrencies) {
    // What the outbox costs is measured where throughput is: at the highest concurrency.
    // The engine without the outbox runs right beside the engine, first in every other round,
    // so neither side of that comparison always runs in the other's wake (one full run measured
    // -2.6 % to +28 % by round with a fixed order).
    const runners = kinds.map(runnerOf)
    if (context.plan.outbox && concurrency === high) runners.splice(runners.findIndex((r) => r.kind === 'engine') + 1, 0, ENGINE_WITHOUT_OUTBOX)
    const orderOf = (r: number) => {
      if (r % 2 === 1 || !runners.includes(ENGINE_WITHOUT_OUTBOX)) return runners
      const order = [...runners]
      const at = order.indexOf(ENGINE_WITHOUT_OUTBOX)
      ;[order[at - 1], order[at]] = [order[at]!, order[at - 1]!]
      return order
    }
    context.log(`  c=${concurrency}: ${rounds} round(s) of ${perRound} sagas, ${runners.map((r) => r.label).join(' then ')}${rounds > 1 && runners.includes(ENGINE_WITHOUT_OUTBOX) ? ' (the two engines swap places every other round)' : ''}`)
    const done = new Map<Runner, Round[]>(runners.map((runner) => [runner, []]))
    for (let r = 1; r <= rounds; r++) {
      for (const runner of orderOf(r)) done.get(runner)!.push(await runRound(context, runner, concurrency, r, perRound))
    }
    for (const runner of runners) {
      const { result, latencies: samples } = await pool(context, runner, concurrency, done.get(runner)!)
      if (runner === ENGINE_WITHOUT_OUTBOX) withoutOutbox = result
      else (runner.kind === 'raw' || runner.kind === 'engine' ? scenarios : peerScenarios).push(result)
      latencies[result.name] = samples
    }
  }

  const find = (kind: string, c: number) => scenarios.find((s) => s.kind === kind && s.concurrency === c)
  const targets: Target[] = []
  const steps = benchSaga.steps.length
  const engineHigh = find('engine', high)
  const rawHigh = find('raw', high)
  if (engineHigh && rawHigh) {
    const ratio = engineHigh.sagasPerSecond / rawHigh.sagasPerSecond
    targets.push({
      section: 'engine', name: `throughput at c=${high} vs raw floor`, target: `≥ ${ENGINE_GOALS.ratioAtLeast} × raw`,
      measured: `${round(ratio)} × raw (${round(engineHigh.sagasPerSecond)} vs ${round(rawHigh.sagasPerSecond)} sagas/s)`, met: ratio >= ENGINE_GOALS.ratioAtLeast,
      note: `by round: ${engineHigh.rounds.map((r, i) => `${round(r.sagasPerSecond / rawHigh.rounds[i]!.sagasPerSecond)}`).join(', ')}`,
    })
  }
  const engineOne = find('engine', 1)
  const rawOne = find('raw', 1)
  if (engineOne && rawOne) {
    const extra = engineOne.latencyMs.p50 - rawOne.latencyMs.p50
    targets.push({
      section: 'engine', name: 'p50 latency at c=1 vs raw floor', target: `raw p50 + ${ENGINE_GOALS.p50OverRawAtMostMs} ms`,
      measured: `raw + ${round(extra)} ms (${round(engineOne.latencyMs.p50)} vs ${round(rawOne.latencyMs.p50)} ms)`, met: extra <= ENGINE_GOALS.p50OverRawAtMostMs,
      note: `by round: ${engineOne.rounds.map((r, i) => `+${round(r.p50 - rawOne.rounds[i]!.p50)} ms`).join(', ')}`,
    })
  }
  for (const engine of scenarios.filter((s) => s.kind === 'engine')) {
    const fromEvents = engine.perSaga.writeTransactionsFromEvents
    targets.push({
      section: 'engine', name: `write transactions per saga (c=${engine.concurrency})`, target: `≤ ${steps + 1} (1 per step + 1)`,
      measured: `${round(engine.perSaga.writeTransactions)} xids/saga cluster-wide; ${fromEvents === undefined ? '?' : round(fromEvents)} from the event log`,
      // The event log's count is exact for this run; the cluster-wide one includes lease renewals and other databases.
      met: (fromEvents ?? engine.perSaga.writeTransactions) <= steps + 1,
      ...(engine.otherDatabasesXacts > 0 ? { note: `other databases ran ${engine.otherDatabasesXacts} transactions meanwhile: the cluster-wide figure includes some of theirs` } : {}),
    })
    targets.push({
      section: 'engine', name: `SQL statements per saga (c=${engine.concurrency})`, target: `≤ ${3 * steps} (3 per step)`,
      measured: `${round(engine.perSaga.sqlStatements)} (${Object.entries(engine.perSaga.sqlStatementsByKind).map(([k, v]) => `${k} ${round(v)}`).join(', ')})`,
      met: engine.perSaga.sqlStatements <= 3 * steps,
    })
  }

  if (engineHigh && withoutOutbox) {
    const drop = 1 - engineHigh.sagasPerSecond / withoutOutbox.sagasPerSecond
    targets.push({
      section: 'engine', name: `throughput cost of the outbox at c=${high}`, target: `≤ ${100 * OUTBOX_COST_AT_MOST} % fewer sagas/s`,
      measured: `${round(100 * drop)} % (${round(engineHigh.sagasPerSecond)} with vs ${round(withoutOutbox.sagasPerSecond)} sagas/s without)`, met: drop <= OUTBOX_COST_AT_MOST,
      note: `by round: ${engineHigh.rounds.map((r, i) => `${round(100 * (1 - r.sagasPerSecond / withoutOutbox!.rounds[i]!.sagasPerSecond))} %`).join(', ')}`,
    })
  }
  targets.push(...peerTargets(scenarios, peerScenarios, context.plan.concurrencies))

  // A missed latency or throughput target is profiled, never tuned away: once per concurrency,
  // whichever targets (raw floor, peers) it missed.
  const missed = new Map<number, string[]>()
  for (const target of targets.filter((t) => !t.met)) {
    const at = target.name.startsWith('throughput') ? high : target.name.startsWith('p50') ? 1 : undefined
    if (at !== undefined) missed.set(at, [...(missed.get(at) ?? []), target.name])
  }
  for (const [concurrency, names] of missed) await profileEngine(context, concurrency, `missed: ${names.join('; ')}`)
  // Workers flush their table statistics when they disconnect; give the last one a moment.
  await new Promise((resolve) => setTimeout(resolve, 1_500))
  const tableAfter = await sagasTableWrites(context)
  const sagasTable = { updates: tableAfter.updates - tableBefore.updates, hotUpdates: tableAfter.hotUpdates - tableBefore.hotUpdates, indexes: tableAfter.indexes }
  return { scenarios, peerScenarios, targets, latencies, sagasTable, ...(withoutOutbox ? { withoutOutbox } : {}), ...headlineFigures(scenarios) }
}

/** sagasPerSecC<c>, ratioC<c> (engine over raw floor), p50MsC<c> and p50OverRawMsC<c>, for each concurrency with both runners. */
function headlineFigures(scenarios: ScenarioResult[]): Record<string, number> {
  const figures: Record<string, number> = {}
  for (const engine of scenarios.filter((s) => s.kind === 'engine')) {
    const raw = scenarios.find((s) => s.kind === 'raw' && s.concurrency === engine.concurrency)
    const c = engine.concurrency
    figures[`sagasPerSecC${c}`] = engine.sagasPerSecond
    figures[`p50MsC${c}`] = engine.latencyMs.p50
    if (raw) {
      figures[`ratioC${c}`] = engine.sagasPerSecond / raw.sagasPerSecond
      figures[`p50OverRawMsC${c}`] = engine.latencyMs.p50 - raw.latencyMs.p50
    }
  }
  return figures
}

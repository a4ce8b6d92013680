import { benchSaga } from '../bench-saga.ts'
import type { BenchContext } from '../lib/context.ts'
import { measure, type Measured, profile, type MachineLoad } from '../lib/context.ts'
import type { LoadResult, LoadTask } from '../lib/protocol.ts'
import { type LoadOutcome, round, summarize } from '../lib/stats.ts'

export interface ScenarioResult extends LoadOutcome {
  kind: 'engine' | 'raw'
  /** CPU ms per saga. */
  cpuMsPerSaga: { caller: number; postgresAll: number; postgresBench: number; stub: number }
  perSaga: {
    /** Transaction ids assigned, cluster-wide, per saga. */
    writeTransactions: number
    /** Distinct writing transactions of this run's event rows per saga (engine only): immune to other databases' work. */
    writeTransactionsFromEvents?: number
    sqlStatements: number
    sqlStatementsByKind: Record<string, number>
    walBytes: number
  }
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

export interface EngineSection {
  scenarios: ScenarioResult[]
  targets: Target[]
  latencies: Record<string, number[]>
  /** What the section's transitions did to orchestrator.sagas (pg_stat_user_tables; warm-ups included). */
  sagasTable: SagasTableWrites
}

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

function loadTask(context: BenchContext, kind: 'engine' | 'raw', concurrency: number, count: number, suffix = ''): LoadTask {
  return {
    kind,
    concurrency,
    count,
    warmup: context.plan.warmup,
    stubUrl: context.stub.url,
    databaseUrl: context.databaseUrl,
    redisUrl: context.redisUrl,
    instanceId: `bench-${kind}-c${concurrency}${suffix}-${context.runId}`,
    runId: `${context.runId}-${kind}-c${concurrency}${suffix}`,
  }
}

/** Write transactions per saga as the event log shows them: distinct xmin of the run's event rows. */
async function writeTransactionsFromEvents(context: BenchContext, runId: string): Promise<number> {
  const { rows: [row] } = await context.pg.query<{ tx: string; sagas: string }>(`
    SELECT count(DISTINCT e.xmin::text) AS tx, count(DISTINCT s.id) AS sagas
      FROM orchestrator.sagas s JOIN orchestrator.saga_events e ON e.saga_id = s.id
     WHERE s.user_id = $1`, [runId])
  return Number(row!.tx) / Math.max(1, Number(row!.sagas))
}

interface Round {
  measured: Measured<LoadResult>
  result: LoadResult
}

/** One round of one scenario: a fresh worker, warmed up, then `count` sagas. */
async function runRound(context: BenchContext, kind: 'engine' | 'raw', concurrency: number, round: number, count: number): Promise<Round> {
  const task = { ...loadTask(context, kind, concurrency, count), instanceId: `bench-${kind}-c${concurrency}-r${round}-${context.runId}` }
  const measured = await measure<LoadResult>(context, [task], { label: `${kind} c=${concurrency} round ${round}` })
  const result = measured.results[0]!
  if (result.failed) context.log(`    ${result.failed} failed: ${result.failures.join('; ')}`)
  return { measured, result }
}

/** Pools a scenario's rounds: sums of counts and times, every latency. */
async function pool(context: BenchContext, kind: 'engine' | 'raw', concurrency: number, rounds: Round[]): Promise<{ result: ScenarioResult; latencies: number[] }> {
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
  const result: ScenarioResult = {
    name: `${kind === 'raw' ? 'raw floor' : 'engine'} c=${concurrency}`,
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
    },
    perSaga: {
      writeTransactions: sum((r) => r.measured.pg.xids) / n,
      ...(kind === 'engine' ? { writeTransactionsFromEvents: await writeTransactionsFromEvents(context, loadTask(context, kind, concurrency, 0).runId) } : {}),
      sqlStatements: sum((r) => r.result.statements.total) / n,
      sqlStatementsByKind: byKind,
      walBytes: sum((r) => r.measured.pg.walBytes) / n,
    },
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
    (kind === 'engine' ? `, ${round(result.perSaga.sqlStatements)} statements and ${round(result.perSaga.writeTransactions)} xids per saga` : ''))
  return { result, latencies }
}

/** Profiles a shorter engine run in a worker started with --cpu-prof. */
export async function profileEngine(context: BenchContext, concurrency: number, reason: string): Promise<void> {
  const count = Math.min(context.plan.sagas, concurrency === 1 ? 300 : 1_000)
  await profile(context, [loadTask(context, 'engine', concurrency, count, '-profile')], `engine-c${concurrency}`, reason)
}

export async function runEngineSection(context: BenchContext): Promise<EngineSection> {
  const scenarios: ScenarioResult[] = []
  const latencies: Record<string, number[]> = {}
  const tableBefore = await sagasTableWrites(context)
  // Raw and engine alternate in rounds, so that a burst of load from elsewhere on the machine
  // hits both sides of a ratio rather than one.
  const rounds = context.plan.rounds
  const perRound = Math.ceil(context.plan.sagas / rounds)
  for (const concurrency of context.plan.concurrencies) {
    context.log(`  c=${concurrency}: ${rounds} round(s) of ${perRound} sagas, raw floor then engine`)
    const done: Record<'raw' | 'engine', Round[]> = { raw: [], engine: [] }
    for (let r = 1; r <= rounds; r++) {
      for (const kind of ['raw', 'engine'] as const) done[kind].push(await runRound(context, kind, concurrency, r, perRound))
    }
    for (const kind of ['raw', 'engine'] as const) {
      const { result, latencies: samples } = await pool(context, kind, concurrency, done[kind])
      scenarios.push(result)
      latencies[result.name] = samples
    }
  }

  const find = (kind: string, c: number) => scenarios.find((s) => s.kind === kind && s.concurrency === c)
  const targets: Target[] = []
  const steps = benchSaga.steps.length
  const high = Math.max(...context.plan.concurrencies)
  const engineHigh = find('engine', high)
  const rawHigh = find('raw', high)
  if (engineHigh && rawHigh) {
    const ratio = engineHigh.sagasPerSecond / rawHigh.sagasPerSecond
    targets.push({
      section: 'engine', name: `throughput at c=${high} vs raw floor`, target: '≥ 0.35 × raw',
      measured: `${round(ratio)} × raw (${round(engineHigh.sagasPerSecond)} vs ${round(rawHigh.sagasPerSecond)} sagas/s)`, met: ratio >= 0.35,
      note: `by round: ${engineHigh.rounds.map((r, i) => `${round(r.sagasPerSecond / rawHigh.rounds[i]!.sagasPerSecond)}`).join(', ')}`,
    })
  }
  const engineOne = find('engine', 1)
  const rawOne = find('raw', 1)
  if (engineOne && rawOne) {
    const extra = engineOne.latencyMs.p50 - rawOne.latencyMs.p50
    targets.push({
      section: 'engine', name: 'p50 latency at c=1 vs raw floor', target: 'raw p50 + 5 ms',
      measured: `raw + ${round(extra)} ms (${round(engineOne.latencyMs.p50)} vs ${round(rawOne.latencyMs.p50)} ms)`, met: extra <= 5,
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

  // A missed latency or throughput target is profiled, never tuned away.
  const throughput = targets.find((t) => t.name.startsWith('throughput'))
  if (throughput && !throughput.met) await profileEngine(context, high, `missed: ${throughput.name}`)
  const p50 = targets.find((t) => t.name.startsWith('p50'))
  if (p50 && !p50.met) await profileEngine(context, 1, `missed: ${p50.name}`)
  // Workers flush their table statistics when they disconnect; give the last one a moment.
  await new Promise((resolve) => setTimeout(resolve, 1_500))
  const tableAfter = await sagasTableWrites(context)
  const sagasTable = { updates: tableAfter.updates - tableBefore.updates, hotUpdates: tableAfter.hotUpdates - tableBefore.hotUpdates, indexes: tableAfter.indexes }
  return { scenarios, targets, latencies, sagasTable }
}

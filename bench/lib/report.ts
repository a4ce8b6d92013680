import type { PeerName } from '../peers/setup.ts'
import type { EngineSection } from '../sections/engine.ts'
import type { ScenarioResult, Target } from './results.ts'
import { isMeasured, type PeerReport } from '../sections/peers.ts'
import type { ProductSection } from '../sections/product.ts'
import type { ScaleSection } from '../sections/scale.ts'
import type { Calibration } from './calibrate.ts'
import type { ProfileSummary } from './cpu-profile.ts'
import type { MachineInfo } from './machine.ts'
import { round } from './stats.ts'

export interface Report {
  startedAt: string
  finishedAt: string
  durationSeconds: number
  size: string
  command: string
  database: string
  redis: string
  machine: MachineInfo
  loadAverageAtEnd: number
  calibration?: Calibration
  setup: { removedRowsOfEarlierRuns: number; seconds: number }
  engine?: Omit<EngineSection, 'latencies' | 'peerScenarios'>
  /** --peers: the same saga on DBOS and Restate, measured in the engine section's rounds. */
  peers?: Record<PeerName, PeerReport>
  product?: Omit<ProductSection, 'latencies'>
  scale?: ScaleSection
  targets: Target[]
  profiles: (ProfileSummary & { reason: string })[]
  charts: string[]
}

const f = (value: number | undefined, digits?: number) => {
  if (value === undefined || !Number.isFinite(value)) return '–'
  return digits === undefined ? String(round(value)) : value.toFixed(digits)
}
const table = (head: string[], rows: (string | number)[][]) =>
  [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n')
const mib = (bytes: number) => `${f(bytes / 2 ** 20)} MiB`

/** What bounds the engine, in numbers the run measured (no guesswork in the generated text). */
function engineAnalysis(scenarios: ScenarioResult[], calibration: Calibration | undefined, cores: number): string[] {
  const lines: string[] = []
  const find = (kind: string, c: number) => scenarios.find((s) => s.kind === kind && s.concurrency === c)
  const e1 = find('engine', 1)
  const r1 = find('raw', 1)
  if (e1?.breakdownMs && r1) {
    const b = e1.breakdownMs
    lines.push(`- **c=1, where an engine saga's ${f(e1.latencyMs.mean)} ms (mean) go** (raw floor: ${f(r1.latencyMs.mean)} ms): ` +
      `participant calls ${f(b.participantCalls)} ms, createSaga ${f(b.createSaga)} ms, ` +
      `4 × recordTransition ${f(b.recordTransition)} ms (${f(b.recordTransition / 4)} ms each), Redis mirror ${f(b.redisMirror)} ms (5 MULTIs), ` +
      `the rest (engine, logging, event loop) ${f(b.rest)} ms. Of the store's ${f(b.createSaga + b.recordTransition)} ms, ${f(b.postgresWire)} ms are statements on the wire (Postgres and the network), the remainder Prisma's client work.` +
      (calibration ? ` On this machine a durable one-row commit takes ${f(calibration.postgresCommitMs.p50)} ms (p50) and a Redis MULTI ${f(calibration.redisMultiMs.p50)} ms: ` +
        `the 5 commits and 5 MULTIs a saga needs cost at least ${f(5 * calibration.postgresCommitMs.p50 + 5 * calibration.redisMultiMs.p50)} ms before any engine code runs.` : ''))
  }
  for (const e of scenarios.filter((s) => s.kind === 'engine')) {
    const r = find('raw', e.concurrency)
    if (!r) continue
    const engineCpu = e.cpuMsPerSaga.caller + e.cpuMsPerSaga.postgresBench + e.cpuMsPerSaga.stub
    const rawCpu = r.cpuMsPerSaga.caller + r.cpuMsPerSaga.stub
    lines.push(`- **c=${e.concurrency}, CPU per saga**: engine ${f(engineCpu)} ms (orchestrator ${f(e.cpuMsPerSaga.caller)}, Postgres ${f(e.cpuMsPerSaga.postgresBench)}, stub ${f(e.cpuMsPerSaga.stub)}) ` +
      `vs raw ${f(rawCpu)} ms (caller ${f(r.cpuMsPerSaga.caller)}, stub ${f(r.cpuMsPerSaga.stub)}). ` +
      `With ${cores} cores, CPU alone caps the engine at ${f((cores * 1000) / engineCpu)} sagas/s and the raw floor at ${f((cores * 1000) / rawCpu)}/s ` +
      `(ratio ${f(rawCpu / engineCpu)}); measured ${f(e.sagasPerSecond)} and ${f(r.sagasPerSecond)}, machine ${f(e.machine.busyPercent)}% / ${f(r.machine.busyPercent)}% busy.`)
  }
  return lines
}

/** CPU ms per saga of everything a runner needs: its process, its database or server, the stub, and (engine) Redis. */
export function totalCpuMs(s: ScenarioResult): number {
  const c = s.cpuMsPerSaga
  if (s.kind === 'raw') return c.caller + c.stub
  return c.caller + c.postgresBench + c.server + c.stub + (s.kind === 'engine' ? c.redisAll : 0)
}

function peersMarkdown(peers: Record<PeerName, PeerReport>, engine: ScenarioResult[], calibration: Calibration | undefined, cores: number): string[] {
  const out: string[] = []
  out.push('## 1b. Peers: the same saga on DBOS Transact and Restate')
  out.push('')
  out.push('The engine section\'s 4-step saga, run by each peer as its own saga examples write one: a durable function whose four commands are checkpointed steps, each undo pushed and run in reverse on a definitive failure (bench/peers/saga-steps.ts). ' +
    'Every command goes to the same stub through the same `HttpCommandClient` with the same idempotency keys, headers, timeouts and retry policy as the engine\'s. ' +
    'Each peer runs in its own worker process and is measured in the same alternating rounds as the engine and the raw floor (raw, engine, DBOS, Restate, and again), at the same concurrencies and saga counts, with its durability as its documentation describes it (nothing turned off).')
  out.push('')
  const measured = Object.values(peers).filter(isMeasured)
  for (const peer of Object.values(peers)) {
    if (!isMeasured(peer)) {
      out.push(`- **${peer.name}: not measured.** ${peer.skipped}`)
      continue
    }
    out.push(`- **${peer.name}** (${Object.entries(peer.packages).map(([k, v]) => `\`${k}@${v}\``).join(', ')}): ${peer.configuration.join('; ')}. Persists: ${peer.persists}.`)
  }
  out.push('')
  const rows = [...engine, ...measured.flatMap((p) => p.scenarios)].sort((a, b) => a.concurrency - b.concurrency || order(a.kind) - order(b.kind))
  out.push(table(
    ['scenario', 'sagas', 'sagas/s', 'p50 ms', 'p95 ms', 'p99 ms', 'CPU ms/saga, all', 'its process', 'Postgres (its db)', 'its server', 'stub', 'Redis (all users)', 'write tx/saga (own rows)', 'commits/saga (its db)', 'xids/saga (cluster)', 'SQL/saga', 'WAL bytes/saga', 'server disk bytes/saga', 'machine busy', 'others CPU ms'],
    rows.map((s) => [s.name, s.completed + (s.failed ? ` (${s.failed} failed)` : ''), f(s.sagasPerSecond), f(s.latencyMs.p50), f(s.latencyMs.p95), f(s.latencyMs.p99),
      f(totalCpuMs(s)), f(s.cpuMsPerSaga.caller), s.kind === 'raw' || s.kind === 'restate' ? '–' : f(s.cpuMsPerSaga.postgresBench), s.kind === 'restate' ? f(s.cpuMsPerSaga.server) : '–', f(s.cpuMsPerSaga.stub),
      s.kind === 'engine' ? f(s.cpuMsPerSaga.redisAll) : '–',
      s.kind === 'restate' ? 'none (no Postgres)' : s.kind === 'raw' ? '0' : f(s.perSaga.writeTransactionsFromEvents ?? s.perSaga.writeTransactionsFromRows),
      f(s.perSaga.committedTransactions), f(s.perSaga.writeTransactions), s.kind === 'restate' || s.kind === 'raw' ? '–' : f(s.perSaga.sqlStatements), f(s.perSaga.walBytes),
      s.kind === 'restate' ? `${f(s.perSaga.serverWriteBytes)} (${f(s.perSaga.serverWriteCalls)} writes)` : '–',
      `${f(s.machine.busyPercent)}%`, f(s.machine.othersCpuMs)]),
  ))
  out.push('')
  out.push('CPU "all" is what the saga costs the machine: its process (the worker: for a peer its SDK and the saga code, for the engine the orchestrator), its Postgres backends and Postgres\' background processes (DBOS: its own database), a peer\'s server (restate-server), the stub, and for the engine Redis (every redis-server process, so other users\' share counts against the engine). ' +
    '"write tx/saga (own rows)" counts exactly the transactions that wrote the run\'s rows (engine: its event log; DBOS: distinct xmin of its workflow status, input, output and step rows); "commits/saga" is DBOS\'s database\'s `xact_commit` delta, read-only transactions included, read after its backends had reported (10.5 s idle) and less what the idle worker commits (measured for 5 s before each round; meanwhile DBOS\'s pool lets idle connections go after pg\'s default 10 s and reopens them as the round starts, a few ms on its first sagas); xids are cluster-wide and include other databases\' writes.')
  out.push('')
  out.push('By round (sagas/s, p50, machine busy): ' + measured.flatMap((p) => p.scenarios).map((s) =>
    `${s.name}: ${s.rounds.map((r) => `${f(r.sagasPerSecond)}/s ${f(r.p50)} ms ${f(r.busyPercent)}%`).join(' · ')}`).join('; ') + '.')
  out.push('')
  for (const s of measured.flatMap((p) => p.scenarios)) {
    const e = engine.find((x) => x.kind === 'engine' && x.concurrency === s.concurrency)
    const cpu = totalCpuMs(s)
    const parts = [`- **${s.name}**: ${f(s.sagasPerSecond)} sagas/s${e ? ` (engine ${f(e.sagasPerSecond)}: ${f(e.sagasPerSecond / s.sagasPerSecond)} ×)` : ''}, p50 ${f(s.latencyMs.p50)} ms${e ? ` (engine ${f(e.latencyMs.p50)}: ${f(e.latencyMs.p50 / s.latencyMs.p50)} ×)` : ''}. ` +
      `CPU ${f(cpu)} ms a saga${e ? ` vs the engine's ${f(totalCpuMs(e))}` : ''}: with ${cores} cores CPU alone caps it at ${f((cores * 1000) / cpu)} sagas/s (machine ${f(s.machine.busyPercent)}% busy, others ${f(s.machine.othersCpuMs)} CPU ms).`]
    if (s.kind === 'dbos') {
      const writes = s.perSaga.writeTransactionsFromRows
      parts.push(` It commits ${f(writes)} writing transactions a saga (${f(s.perSaga.committedTransactions)} commits in all, ${f(s.perSaga.sqlStatements)} statements: ${Object.entries(s.perSaga.sqlStatementsByKind).map(([k, v]) => `${k} ${f(v)}`).join(', ')}); idle, its worker commits ${f(s.idleCommitsPerSecond)} transactions/s.` +
        (calibration && writes !== undefined && s.concurrency === 1 ? ` At ${f(calibration.postgresCommitMs.p50)} ms a durable commit on this machine, its commits alone take ≥ ${f(writes * calibration.postgresCommitMs.p50)} ms of a saga.` : ''))
    }
    if (s.kind === 'restate') parts.push(` Its server wrote ${f(s.perSaga.serverWriteBytes)} bytes a saga to storage in ${f(s.perSaga.serverWriteCalls)} write calls; Postgres is not involved.`)
    out.push(parts.join(''))
  }
  out.push('')
  return out
}

const order = (kind: string) => ['raw', 'engine', 'dbos', 'restate'].indexOf(kind)

function profileMarkdown(profile: ProfileSummary & { reason: string }): string {
  return [
    `### ${profile.file} — ${profile.reason}`,
    '',
    (profile.windowMs !== undefined
      ? `${f(profile.totalMs / 1000)} s of samples taken while the load ran (${f(profile.windowMs / 1000)} s of wall time${profile.file.includes(',') ? ' in each process' : ''}; start-up and warm-up left out). `
      : `${f(profile.totalMs / 1000)} s of samples (the worker's whole life: start-up, i.e. \`node:internal/modules\` and tsx, and warm-up included). `) +
      'CPU by component — self time charged to the nearest package or project file up the stack, so a socket write counts for whoever wrote:',
    '',
    table(['component', 'ms', '%'], profile.byComponent.map((a) => [a.component, f(a.selfMs), f(a.percent, 1)])),
    '',
    'Self time by where the code itself lives:',
    '',
    table(['area', 'self ms', '%'], profile.byArea.map((a) => [a.area, f(a.selfMs), f(a.percent, 1)])),
    '',
    'Top frames (self time):',
    '',
    table(['frame', 'self ms', '%'], profile.topFrames.map((t) => [`\`${t.frame.replace(/\|/g, '\\|')}\``, f(t.selfMs), f(t.percent, 1)])),
  ].join('\n')
}

export function renderMarkdown(report: Report): string {
  const m = report.machine
  const out: string[] = []
  out.push(`# Saga orchestrator benchmark — ${report.startedAt} (size ${report.size})`)
  out.push('')
  out.push(`\`${report.command}\` — ${f(report.durationSeconds / 60)} min. Database \`${report.database}\`, Redis \`${report.redis}\`.`)
  out.push('')
  out.push(table(['machine', ''], [
    ['CPU', `${m.cpus} × ${m.cpuModel}`],
    ['memory', `${m.memoryGiB} GiB`],
    ['OS', m.os],
    ['Node', m.node],
    ['Postgres', `${m.postgres} (${Object.entries(m.postgresSettings).map(([k, v]) => `${k}=${v}`).join(', ')})`],
    ['Redis', m.redis],
    ['load average (1 min)', `${m.loadAverageAtStart} at start, ${report.loadAverageAtEnd} at end`],
  ]))
  out.push('')
  out.push('Every table shows how busy the machine was while measuring and how much CPU went to processes that are not part of the benchmark ("others"): ' +
    'this machine is shared, and figures measured while others were busy are slower than the code is.')
  out.push('')

  out.push('## Targets')
  out.push('')
  out.push(table(['', 'target', 'required', 'measured', 'note'], report.targets.map((t) => [t.met ? '✅' : '❌', t.name, t.target, t.measured, t.note ?? ''])))
  out.push('')

  if (report.calibration) {
    const c = report.calibration
    out.push('Floor of this machine (one at a time, p50 / p99): ' +
      `Postgres round trip ${f(c.postgresRoundTripMs.p50)} / ${f(c.postgresRoundTripMs.p99)} ms, ` +
      `durable one-row commit ${f(c.postgresCommitMs.p50)} / ${f(c.postgresCommitMs.p99)} ms, ` +
      `Redis round trip ${f(c.redisRoundTripMs.p50)} / ${f(c.redisRoundTripMs.p99)} ms, Redis MULTI like the mirror's ${f(c.redisMultiMs.p50)} / ${f(c.redisMultiMs.p99)} ms.`)
    out.push('')
  }

  if (report.engine) {
    const e = report.engine
    out.push('## 1. Engine overhead')
    out.push('')
    out.push('A 4-step saga (2 compensatable steps, the pivot, 1 retriable step) against a stub participant (raw `node:http`, its own process, `200 {}` at once, keep-alive), ' +
      'driven by the `Orchestrator` class in a worker process (`start` + `waitForOutcome`, no HTTP API in front; Prisma store, Redis mirror, axios command client, pino at info into /dev/null, lease renewal on), ' +
      'versus the same 4 commands sent in a row through the same `HttpCommandClient` (same axios instance and keep-alive agent, same headers): the raw floor. ' +
      'Closed loop: each of the c clients starts its next saga when the previous one ends.')
    out.push('')
    out.push(table(
      ['scenario', 'sagas', 'sagas/s', 'p50 ms', 'p95 ms', 'p99 ms', 'CPU ms/saga: caller', 'Postgres (bench / all)', 'stub', 'xids/saga', 'write tx/saga (event log)', 'SQL/saga', 'WAL bytes/saga', 'machine busy', 'others CPU ms'],
      e.scenarios.map((s) => [s.name, s.completed + (s.failed ? ` (${s.failed} failed)` : ''), f(s.sagasPerSecond), f(s.latencyMs.p50), f(s.latencyMs.p95), f(s.latencyMs.p99),
        f(s.cpuMsPerSaga.caller), `${f(s.cpuMsPerSaga.postgresBench)} / ${f(s.cpuMsPerSaga.postgresAll)}`, f(s.cpuMsPerSaga.stub),
        f(s.perSaga.writeTransactions), f(s.perSaga.writeTransactionsFromEvents), f(s.perSaga.sqlStatements), f(s.perSaga.walBytes), `${f(s.machine.busyPercent)}%`, f(s.machine.othersCpuMs)]),
    ))
    out.push('')
    out.push('By round (raw and engine alternate; sagas/s, p50, machine busy): ' + e.scenarios.map((s) =>
      `${s.name}: ${s.rounds.map((r) => `${f(r.sagasPerSecond)}/s ${f(r.p50)} ms ${f(r.busyPercent)}%`).join(' · ')}`).join('; ') + '.')
    out.push('')
    if (e.withoutOutbox) {
      const w = e.withoutOutbox
      out.push(`**What the outbox costs**: the same rounds also ran ${w.name} (the bench saga without its completion event, the worker without the outbox relay): ` +
        `${f(w.sagasPerSecond)} sagas/s, p50 ${f(w.latencyMs.p50)} ms, ${f(w.perSaga.sqlStatements)} statements and ${f(w.perSaga.writeTransactions)} xids per saga, CPU ${f(w.cpuMsPerSaga.caller)} ms orchestrator + ${f(w.cpuMsPerSaga.postgresBench)} ms Postgres ` +
        `(by round: ${w.rounds.map((r) => `${f(r.sagasPerSecond)}/s`).join(' · ')}).`)
      out.push('')
    }
    out.push('SQL statements per saga by kind (counted on the pg pool under the orchestrator\'s Prisma client, every statement on the wire): ' +
      e.scenarios.filter((s) => s.kind === 'engine').map((s) => `${s.name}: ${Object.entries(s.perSaga.sqlStatementsByKind).map(([k, v]) => `${k} ${f(v)}`).join(', ')}`).join('; ') + '.')
    out.push('')
    out.push('Where the time goes (mean ms per saga awaiting each port; at c>1 this includes waiting for the event loop):')
    out.push('')
    out.push(table(['scenario', 'end to end', 'participant calls', 'createSaga', 'recordTransition ×4', 'Redis mirror ×5', 'rest', 'SQL on the wire (of createSaga + recordTransition)'],
      e.scenarios.filter((s) => s.breakdownMs).map((s) => [s.name, f(s.latencyMs.mean), f(s.breakdownMs!.participantCalls), f(s.breakdownMs!.createSaga), f(s.breakdownMs!.recordTransition), f(s.breakdownMs!.redisMirror), f(s.breakdownMs!.rest), f(s.breakdownMs!.postgresWire)])))
    out.push('')
    out.push(...engineAnalysis(e.scenarios, report.calibration, m.cpus))
    if (e.sagasTable) {
      const t = e.sagasTable
      out.push(`- **Postgres per transition**: of the ${t.updates.toLocaleString('en')} updates of \`orchestrator.sagas\` in this section (warm-ups included), ${t.hotUpdates.toLocaleString('en')} were HOT. ` +
        `An update that is not HOT writes a new entry into each of the table's ${t.indexes} indexes (and the WAL for them) besides the new row version; an update is HOT only when no indexed column changes and the row's page has room.`)
    }
    out.push('')
    if (report.charts.includes('engine-latency.svg')) out.push('![engine latency distributions](engine-latency.svg)', '')
  }

  if (report.peers) out.push(...peersMarkdown(report.peers, report.engine?.scenarios ?? [], report.calibration, m.cpus))

  if (report.product) {
    const p = report.product
    out.push('## 2. The product: tour booking saga')
    out.push('')
    out.push(`\`POST /api/orchestrator/bookings\` (6 steps: reserve tour, create booking, payment (simulator), confirm, loyalty points, notification) against the real participants: ${p.mode}. ` +
      'One tour per concurrent client. Participants\' time is the sum of the step attempts\' durations from the orchestrator\'s own `saga_step_duration_seconds` histogram (participant, network and HTTP client); ' +
      'the orchestrator\'s time is the rest of the end-to-end latency (API layer, its Postgres and Redis writes, the engine).')
    out.push('')
    out.push(table(['scenario', 'sagas', 'sagas/s', 'p50 ms', 'p95 ms', 'p99 ms', 'mean ms', 'participants ms', 'orchestrator ms', 'participants share', 'xids/saga (all services)', 'WAL bytes/saga', 'machine busy', 'others CPU ms'],
      p.scenarios.map((s) => [s.name, s.completed + (s.failed ? ` (${s.failed} failed)` : ''), f(s.sagasPerSecond), f(s.latencyMs.p50), f(s.latencyMs.p95), f(s.latencyMs.p99), f(s.split.endToEndMs), f(s.split.participantsMs), f(s.split.orchestratorMs),
        `${f(100 * s.split.participantsShare)}%`, f(s.writeTransactionsPerSaga), f(s.walBytesPerSaga), `${f(s.machine.busyPercent)}%`, f(s.machine.othersCpuMs)])))
    out.push('')
    const steps = [...new Set(p.scenarios.flatMap((s) => Object.keys(s.stepMs)))]
    out.push(table(['mean ms per step attempt', ...steps], p.scenarios.map((s) => [s.name, ...steps.map((step) => f(s.stepMs[step]))])))
    out.push('')
    const procs = [...new Set(p.scenarios.flatMap((s) => Object.keys(s.cpuMsPerSaga)))]
    out.push(table(['CPU ms per saga', ...procs, 'system (all but the load generator)', 'commands per saga', 'participant CPU ms per command'],
      p.scenarios.map((s) => [s.name, ...procs.map((name) => f(s.cpuMsPerSaga[name])), f(s.systemCpuMsPerSaga), f(s.commandsPerSaga), f(s.participantCpuMsPerCommand)])))
    out.push('')
    out.push('A participant\'s CPU per command is everything its process did while the sagas ran (the commands, its outbox relay, its event consumers: analytics and the waiting list) over the commands the orchestrator sent it.')
    out.push('')
    if (report.charts.includes('product-latency.svg')) out.push('![booking saga latency distributions](product-latency.svg)', '')
  }

  if (report.scale) {
    const s = report.scale
    out.push('## 3. Scale')
    out.push('')
    if (s.seed) {
      out.push(`**Stored sagas**: ${s.seed.sagas.toLocaleString('en')} bulk-inserted sagas (one SQL \`generate_series\` INSERT per 50,000 rows: 70% tour bookings, 15% cancellations, 15% hotel stays; 91.5% COMPLETED, 8% FAILED, 0.3% COMPENSATION_FAILED, 0.2% RUNNING; 50,000 users; a year of created_at; ~1.3 kB of JSON a row; no event rows), ` +
        `${s.seed.insertedNow ? `${s.seed.insertedNow.toLocaleString('en')} inserted by this run in ${f(s.seed.seconds)} s` : 'already present'}; table with indexes: ${s.seed.tableSize}.`)
      out.push('')
    }
    if (s.search) {
      out.push(`### Status and search (~${s.search.sagasStored.toLocaleString('en')} sagas)`)
      out.push('')
      out.push('The orchestrator\'s HTTP app (`buildOrchestratorApp`: auth, validation, serialisation, request logs) on a real port in a worker process; a keep-alive client in the same process sends one request at a time; every request varies its id, user, booking or cursor. ' +
        `"Awaiting Postgres" is the time its statements spent on the wire, from the app's pg pool. Machine ${f(s.search.machine.busyPercent)}% busy meanwhile, others ${f(s.search.machine.othersCpuMs)} CPU ms.`)
      out.push('')
      out.push(table(['query', 'n', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'mean ms', 'of which awaiting Postgres', 'items/page', 'request'], s.search.queries.map((q) => [q.name, q.latencyMs.count, f(q.latencyMs.p50), f(q.latencyMs.p95), f(q.latencyMs.p99), f(q.latencyMs.max), f(q.latencyMs.mean), f(q.postgresMsMean), f(q.itemsPerPage), `\`${q.description}\``])))
      out.push('')
      for (const q of s.search.queries.filter((x) => x.plan)) {
        out.push(`Plan of \`${q.name}\` (p99 ${f(q.latencyMs.p99)} ms):`, '', '```', q.plan!, '```', '')
      }
      if (report.charts.includes('search-latency.svg')) out.push('![status and search latency distributions](search-latency.svg)', '')
    }
    if (s.recovery) {
      const r = s.recovery
      out.push('### Recovery')
      out.push('')
      out.push(`${r.sagas.toLocaleString('en')} sagas of the 4-step type inserted RUNNING at step 0 with a lease that expired a minute ago, then \`orchestrator.recoverPendingSagas({ concurrency: ${r.concurrency} })\` ` +
        `(what \`npm run saga -- recover\` runs) in a worker against the stub: **${f(r.seconds)} s**, ${f(r.sagasPerSecond)} sagas/s` +
        `${r.sagas !== 10_000 ? ` (${f(r.projectedSecondsFor10k)} s projected for 10,000)` : ''}. Summary: ${JSON.stringify(r.summary)}; statuses afterwards: ${JSON.stringify(r.statusesAfter)}. ` +
        `Per saga: ${f(r.sqlStatementsPerSaga)} SQL statements, ${f(r.writeTransactionsPerSaga)} xids, CPU ${f(r.cpuMsPerSaga.orchestrator)} ms orchestrator + ${f(r.cpuMsPerSaga.postgres)} ms Postgres; ` +
        `machine ${f(r.machine.busyPercent)}% busy, others ${f(r.machine.othersCpuMs)} CPU ms.` +
        (r.breakdownMsPerSaga ? ` Mean ms per saga awaiting: participant calls ${f(r.breakdownMsPerSaga.participantCalls)}, recordTransition ${f(r.breakdownMsPerSaga.recordTransition)}, Redis ${f(r.breakdownMsPerSaga.redisMirror)}.` : ''))
      out.push('')
    }
    if (s.memory) {
      const mem = s.memory
      out.push('### Memory')
      out.push('')
      out.push(`${mem.sagas.toLocaleString('en')} sagas through the engine at c=${mem.concurrency} (${f(mem.sagasPerSecond)} sagas/s), process memory sampled after a forced GC (\`--expose-gc\`). ` +
        `Heap used: ${f(mem.heapUsedMiB.atStart)} MiB at start, ${f(mem.heapUsedMiB.atTenth)} at 10%, ${f(mem.heapUsedMiB.atHalf)} at 50%, ${f(mem.heapUsedMiB.atEnd)} at the end (max ${f(mem.heapUsedMiB.max)}); ` +
        `RSS ${f(mem.rssMiB.atStart)} → ${f(mem.rssMiB.atHalf)} → ${f(mem.rssMiB.atEnd)} MiB (max ${f(mem.rssMiB.max)}). ` +
        `Mean heap over the last quarter of the run minus over the second quarter: ${f(mem.heapGrowthMiBSecondToLastQuarter)} MiB (trend over the second half: ${f(mem.heapBytesPerSagaSecondHalf)} bytes per saga) → **${mem.levelsOff ? 'levels off' : 'keeps growing'}** ` +
        `(threshold 2 MiB, so this run would see a leak of ${f(mem.detectableBytesPerSaga)} bytes per saga or more).`)
      out.push('')
      const every = Math.max(1, Math.ceil(mem.samples.length / 20))
      out.push(table(['t (s)', 'sagas', 'heap used', 'heap total', 'RSS', 'external'],
        mem.samples.filter((_, i) => i % every === 0 || i === mem.samples.length - 1).map((x) => [f(x.tMs / 1000), x.sagas, mib(x.heapUsed), mib(x.heapTotal), mib(x.rss), mib(x.external)])))
      out.push('')
    }
    if (s.instances) {
      out.push('### 1 versus 2 orchestrator instances')
      out.push('')
      out.push(`Each instance is its own process (its own \`Orchestrator\`, instanceId, pool of 10 connections, Redis client), all on the same database, for ${s.instances.durationMs / 1000} s each run.`)
      out.push('')
      const base = s.instances.runs[0]?.sagasPerSecond ?? 1
      out.push(table(['run', 'sagas/s (all instances)', 'vs 1 instance', 'per instance', 'p50 ms', 'p99 ms', 'machine busy', 'others CPU ms'],
        s.instances.runs.map((r) => [r.name, f(r.sagasPerSecond), `${f(r.sagasPerSecond / base)} ×`, r.perInstance.map((x) => f(x)).join(' + '), f(r.latencyMs.p50), f(r.latencyMs.p99), `${f(r.machine.busyPercent)}%`, f(r.machine.othersCpuMs)])))
      out.push('')
    }
  }

  if (report.profiles.length) {
    out.push('## CPU profiles (`node --cpu-prof`) of missed targets')
    out.push('')
    out.push('Each is a shorter rerun of the scenario in a worker started with `--cpu-prof`; the .cpuprofile files are beside this report (open them in Chrome DevTools → Performance). Self time is where the CPU was when sampled; time spent waiting on Postgres or Redis shows as `(idle)` in the worker and as Postgres CPU above.')
    out.push('')
    for (const profile of report.profiles) out.push(profileMarkdown(profile), '')
  }

  out.push('## Method')
  out.push('')
  out.push([
    '- Every measured scenario runs in its own worker process (bench/workers/load-worker.ts) that sets up, warms up, then waits; the coordinator reads Postgres\' counters and the CPU times, starts it, and reads them again when it is done.',
    '- CPU ms per saga: the worker\'s `process.cpuUsage()` over the measured phase; Postgres: utime+stime from /proc/<pid>/stat of the bench database\'s backends and the background processes ("bench"), and of every postgres process including backends reaped meanwhile ("all", which includes other databases\' work on this shared server).',
    '- Write transactions: transaction ids assigned (`pg_snapshot_xmax(pg_current_snapshot())` before/after), cluster-wide, so it includes lease renewals and other databases\' writes (see "others"); "event log" counts the distinct `xmin` of the run\'s `saga_events` rows per saga, i.e. the transactions that recorded a transition, exactly.',
    '- SQL statements: counted on the pg Pool handed to the orchestrator\'s Prisma client (PrismaPg over our own pg.Pool, with each connection\'s `query` wrapped), so BEGIN/COMMIT would count too.',
    '- WAL bytes: `pg_wal_lsn_diff(pg_current_wal_lsn())` before/after, cluster-wide (full-page writes after a checkpoint inflate it).',
    '- Latency percentiles are nearest-rank over every saga/request measured (warm-up excluded). Charts: latency (log) by percentile (log of 1/(1−p)).',
  ].join('\n'))
  out.push('')
  return out.join('\n')
}

import { randomUUID } from 'node:crypto'
import { rm } from 'node:fs/promises'
import path from 'node:path'
import { PARTICIPANT_NAMES, SERVICE_NAMES, SERVICES, type ServiceName } from '../../platform/services.ts'
import { ensureBuild } from '../../scripts/lib/build.ts'
import { type RunningService, spawnService } from '../../test/support/processes.ts'
import type { BenchContext, MachineLoad } from '../lib/context.ts'
import { requestJson } from '../lib/http-json.ts'
import { runConcurrently } from '../lib/load-loop.ts'
import { pgDelta, pgSnapshot } from '../lib/postgres-counters.ts'
import { cpuMsOfTree, machineCpuMs } from '../lib/proc.ts'
import { type LoadOutcome, round, summarize } from '../lib/stats.ts'
import { keepMainThreadProfile, profileClockUs, type ProfileWindow, summarizeProfile } from '../lib/cpu-profile.ts'
import type { Target } from '../lib/results.ts'

const CLIENT_TOKEN = 'bench-client-token'
const SUPPORT_TOKEN = 'bench-support-token'
// Production refuses dev tokens; the orchestrator sends this one, and so does the bench itself
// when it creates its tours at the catalog.
const SERVICE_TOKEN = 'bench-service-token-0001'

export interface ProductScenario extends LoadOutcome {
  /** Where a saga's end-to-end time went, mean ms per saga. */
  split: {
    endToEndMs: number
    /** Sum of the step attempts' durations (saga_step_duration_seconds): the participants, network and HTTP client included. */
    participantsMs: number
    /** The rest: the API layer, the orchestrator's writes to Postgres and Redis, the engine. */
    orchestratorMs: number
    participantsShare: number
  }
  /** Mean duration of one attempt of each step, ms. */
  stepMs: Record<string, number>
  /** CPU ms per saga by process (each service's process tree; Postgres: all its processes). */
  cpuMsPerSaga: Record<string, number>
  /** The system's CPU per saga: every service and Postgres, not the load generator. */
  systemCpuMsPerSaga: number
  /** Commands the participants answered per saga (the orchestrator's step attempts). */
  commandsPerSaga: number
  /** The participants' CPU per saga over the commands they answered: all they do for a saga
   * (commands, their outbox relays, the event consumers) charged to its commands. */
  participantCpuMsPerCommand: number
  /** Transaction ids per saga, cluster-wide: the orchestrator's and every participant's writes. */
  writeTransactionsPerSaga: number
  walBytesPerSaga: number
  otherDatabasesXacts: number
  machine: MachineLoad
}

export interface ProductSection {
  mode: string
  scenarios: ProductScenario[]
  latencies: Record<string, number[]>
  targets: Target[]
  /**
   * The headline figures (report.json: product.sagasPerSecC20, product.cpuMsPerSaga,
   * product.p50MsC1, product.participantCpuMsPerCommand): CPU figures at the highest
   * concurrency, throughput and p50 at each.
   */
  cpuMsPerSaga?: number
  participantCpuMsPerCommand?: number
  writeTransactionsPerSaga?: number
  [figure: `${'sagasPerSec' | 'p50Ms'}C${number}`]: number
}

/** Issue 15's product targets. The write transactions' bar is the count before the issue (19). */
export const PRODUCT_GOALS = { cpuMsPerSagaAtMost: 12, p50MsAtC1AtMost: 15, participantCpuMsPerCommandAtMost: 1, writeTransactionsPerSagaBelow: 19 }

/** Sums of saga_step_duration_seconds for tour-booking, by step, from the Prometheus text. */
function stepTotals(metrics: string): Map<string, { sum: number; count: number }> {
  const totals = new Map<string, { sum: number; count: number }>()
  for (const line of metrics.split('\n')) {
    const match = /^saga_step_duration_seconds_(sum|count)\{([^}]*)\} (\S+)$/.exec(line)
    if (!match || !match[2]!.includes('saga_type="tour-booking"')) continue
    const step = /step="([^"]*)"/.exec(match[2]!)?.[1] ?? '?'
    const entry = totals.get(step) ?? { sum: 0, count: 0 }
    if (match[1] === 'sum') entry.sum += Number(match[3])
    else entry.count += Number(match[3])
    totals.set(step, entry)
  }
  return totals
}

/** The system as `npm start` runs it in production, each service a process, with one tour per client. */
interface Product {
  services: Map<ServiceName, RunningService>
  orchestrator: RunningService
  book(n: number, worker: number): Promise<void>
  stop(): Promise<void>
}

async function startProduct(context: BenchContext, env: NodeJS.ProcessEnv, nodeFlagsOf?: (name: ServiceName) => string[]): Promise<Product> {
  const services = new Map<ServiceName, RunningService>()
  const stop = async () => { await Promise.all([...services.values()].map((service) => service.stop('SIGTERM', 15_000))) }
  try {
    context.log(`  starting the ${PARTICIPANT_NAMES.length} participants and the orchestrator as processes`)
    await Promise.all(PARTICIPANT_NAMES.map(async (name) => {
      services.set(name, await spawnService(name, env, { readyTimeoutMs: 120_000, compiled: true, ...(nodeFlagsOf ? { nodeFlags: nodeFlagsOf(name) } : {}) }))
    }))
    const urls = Object.fromEntries(PARTICIPANT_NAMES.map((name) => [SERVICES[name].urlEnv, services.get(name)!.url]))
    const orchestrator = await spawnService('orchestrator', { ...env, ...urls }, { readyTimeoutMs: 120_000, compiled: true, ...(nodeFlagsOf ? { nodeFlags: nodeFlagsOf('orchestrator') } : {}) })
    services.set('orchestrator', orchestrator)

    // One tour per concurrent client: the hot-row contention of a single sold-out tour is the
    // tour catalog's business, not what this section measures.
    const tours: string[] = []
    for (let i = 0; i < Math.max(...context.plan.concurrencies); i++) {
      const created = await requestJson('POST', `${services.get('tour-catalog')!.url}/api/tours`, {
        headers: { authorization: `Bearer ${SERVICE_TOKEN}`, 'idempotency-key': randomUUID() },
        body: { name: `Bench tour ${i}`, date: '2027-06-01', capacity: 100_000, price: 120, currency: 'EUR', cancellationPolicy: { minDays: 7, feePercent: 20 } },
      })
      if (created.status !== 201) throw new Error(`creating a tour answered ${created.status}: ${created.text}`)
      tours.push(created.body.tourId)
    }

    const book = async (n: number, worker: number) => {
      const response = await requestJson('POST', `${orchestrator.url}/api/orchestrator/bookings`, {
        headers: { authorization: `Bearer ${CLIENT_TOKEN}`, 'idempotency-key': randomUUID() },
        body: { tourId: tours[worker % tours.length], userId: `bench-user-${n % 1000}`, numberOfSpots: 1, paymentMethod: 'pm_card_visa' },
      })
      if (response.status !== 201) throw new Error(`${response.status} ${response.text.slice(0, 300)}`)
    }
    let warm = 0
    await runConcurrently(5, () => warm++ < 25, (n) => book(n, n), () => {}, () => {})
    return { services, orchestrator, book, stop }
  } catch (error) {
    await stop()
    throw error
  }
}

/** `count` bookings by `concurrency` closed loops, each on its own tour. */
async function drive(product: Product, concurrency: number, count: number, onSample: (ms: number) => void, onError: (error: unknown) => void): Promise<void> {
  let issued = 0
  await Promise.all(Array.from({ length: concurrency }, (_, worker) =>
    runConcurrently(1, () => issued++ < count, (n) => product.book(n, worker), onSample, onError)))
}

/**
 * The tour booking saga through POST /api/orchestrator/bookings, against the real
 * participants, each a real process of the compiled build as `npm start` runs it in
 * production (spawned like the cross-process suites do), on the bench database and the bench Redis.
 */
export async function runProductSection(context: BenchContext): Promise<ProductSection> {
  const env: NodeJS.ProcessEnv = {
    DATABASE_URL: context.databaseUrl,
    REDIS_URL: context.redisUrl,
    NODE_ENV: 'production',
    API_TOKENS: `client:${CLIENT_TOKEN},support:${SUPPORT_TOKEN}`,
    SERVICE_TOKENS: `orchestrator:${SERVICE_TOKEN},tour-catalog:${SERVICE_TOKEN}-catalog`,
    RATE_LIMIT_MAX: '0',
    STRIPE_SECRET_KEY: '', // the payment simulator, never Stripe
    LOG_LEVEL: 'info',
  }
  const scenarios: ProductScenario[] = []
  const latencies: Record<string, number[]> = {}
  ensureBuild((line) => context.log(`  ${line}`))
  const product = await startProduct(context, env)
  const { services, orchestrator } = product
  try {
    for (const concurrency of context.plan.concurrencies) {
      const count = context.plan.productSagas[concurrency] ?? context.plan.productSagas[1]!
      const name = `booking saga c=${concurrency}`
      context.log(`  ${name}: ${count} bookings`)
      const metricsBefore = stepTotals((await requestJson('GET', `${orchestrator.url}/metrics`)).text)
      const cpuBefore = new Map([...services].map(([n, s]) => [n, cpuMsOfTree(s.child.pid!)]))
      const pgBefore = await pgSnapshot(context.pg, context.databaseName)
      const machineBefore = machineCpuMs()
      const loadGeneratorBefore = process.cpuUsage()
      const samples: number[] = []
      const failures: string[] = []
      let failed = 0
      const began = performance.now()
      await drive(product, concurrency, count, (ms) => samples.push(ms), (error) => {
        failed++
        if (failures.length < 5) failures.push(error instanceof Error ? error.message : String(error))
      })
      const elapsedMs = performance.now() - began
      const loadGenerator = process.cpuUsage(loadGeneratorBefore)
      const machineAfter = machineCpuMs()
      const pg = await pgDelta(context.pg, context.databaseName, pgBefore)
      const cpuMsPerSaga: Record<string, number> = {}
      const n = Math.max(1, samples.length)
      for (const [service, running] of services) cpuMsPerSaga[service] = (cpuMsOfTree(running.child.pid!) - cpuBefore.get(service)!) / n
      cpuMsPerSaga.postgres = pg.cpuAllMs / n
      // The bench's own HTTP client: part of the machine's load, not of the product.
      cpuMsPerSaga['load generator'] = (loadGenerator.user + loadGenerator.system) / 1000 / n
      const metricsAfter = stepTotals((await requestJson('GET', `${orchestrator.url}/metrics`)).text)
      const stepMs: Record<string, number> = {}
      let participantsSeconds = 0
      let attempts = 0
      for (const [step, after] of metricsAfter) {
        const before = metricsBefore.get(step) ?? { sum: 0, count: 0 }
        participantsSeconds += after.sum - before.sum
        attempts += after.count - before.count
        if (after.count > before.count) stepMs[step] = (1000 * (after.sum - before.sum)) / (after.count - before.count)
      }
      const latency = summarize(samples)
      const participantsMs = (1000 * participantsSeconds) / n
      const busyMs = machineAfter.busyMs - machineBefore.busyMs
      const ourMs = Object.values(cpuMsPerSaga).reduce((a, b) => a + b, 0) * n - pg.cpuAllMs + pg.cpuBenchMs
      const participantCpu = PARTICIPANT_NAMES.reduce((sum, participant) => sum + (cpuMsPerSaga[participant] ?? 0), 0)
      const commandsPerSaga = attempts / n
      scenarios.push({
        name,
        concurrency,
        completed: samples.length,
        failed,
        failures,
        elapsedMs,
        sagasPerSecond: samples.length / (elapsedMs / 1000),
        latencyMs: latency,
        split: { endToEndMs: latency.mean, participantsMs, orchestratorMs: latency.mean - participantsMs, participantsShare: participantsMs / latency.mean },
        stepMs,
        cpuMsPerSaga,
        systemCpuMsPerSaga: Object.entries(cpuMsPerSaga).reduce((sum, [process, ms]) => process === 'load generator' ? sum : sum + ms, 0),
        commandsPerSaga,
        participantCpuMsPerCommand: participantCpu / Math.max(1, commandsPerSaga),
        writeTransactionsPerSaga: pg.xids / n,
        walBytesPerSaga: pg.walBytes / n,
        otherDatabasesXacts: pg.otherDatabasesXacts,
        machine: {
          busyPercent: (100 * busyMs) / Math.max(1, machineAfter.totalMs - machineBefore.totalMs),
          othersCpuMs: Math.max(0, busyMs - ourMs),
        },
      })
      latencies[name] = samples
      context.log(`    ${round(samples.length / (elapsedMs / 1000))} sagas/s, p50 ${round(latency.p50)} ms, p99 ${round(latency.p99)} ms; participants ${round(participantsMs)} of ${round(latency.mean)} ms`)
      if (failed) context.log(`    ${failed} failed: ${failures.join('; ')}`)
    }
  } finally {
    await product.stop()
  }

  const targets = productTargets(scenarios)
  const high = scenarios.find((s) => s.concurrency === Math.max(...context.plan.concurrencies))
  const missedCpu = targets.filter((t) => !t.met && /CPU/.test(t.name)).map((t) => t.name)
  if (missedCpu.length && high) {
    await profileProduct(context, env, high.concurrency, Math.min(high.completed, 300), `missed: ${missedCpu.join('; ')}`)
  }
  const figures: Record<string, number> = {}
  for (const s of scenarios) {
    figures[`sagasPerSecC${s.concurrency}`] = s.sagasPerSecond
    figures[`p50MsC${s.concurrency}`] = s.latencyMs.p50
  }
  return {
    mode: 'spawned processes (the compiled build, as production runs it: node dist/<entry>.js), real HTTP on 127.0.0.1',
    scenarios, latencies, targets, ...figures,
    ...(high ? { cpuMsPerSaga: high.systemCpuMsPerSaga, participantCpuMsPerCommand: high.participantCpuMsPerCommand, writeTransactionsPerSaga: high.writeTransactionsPerSaga } : {}),
  }
}

function productTargets(scenarios: ProductScenario[]): Target[] {
  const targets: Target[] = []
  const high = scenarios.reduce<ProductScenario | undefined>((best, s) => (!best || s.concurrency > best.concurrency ? s : best), undefined)
  const one = scenarios.find((s) => s.concurrency === 1)
  const g = PRODUCT_GOALS
  if (high) {
    const cpu = Object.entries(high.cpuMsPerSaga).filter(([process]) => process !== 'load generator').sort((a, b) => b[1] - a[1])
    targets.push({
      section: 'product', name: `CPU per booking saga, all processes (c=${high.concurrency})`, target: `≤ ${g.cpuMsPerSagaAtMost} ms`,
      measured: `${round(high.systemCpuMsPerSaga)} ms (${round(high.sagasPerSecond)} sagas/s)`, met: high.systemCpuMsPerSaga <= g.cpuMsPerSagaAtMost,
      note: cpu.map(([process, ms]) => `${process} ${round(ms)}`).join(', '),
    })
    targets.push({
      section: 'product', name: `CPU per participant command (c=${high.concurrency})`, target: `≤ ${g.participantCpuMsPerCommandAtMost} ms`,
      measured: `${round(high.participantCpuMsPerCommand)} ms (${round(high.commandsPerSaga)} commands per saga)`, met: high.participantCpuMsPerCommand <= g.participantCpuMsPerCommandAtMost,
      note: 'everything the participants did for the sagas (commands, outbox relays, event consumers) over the commands they answered',
    })
    targets.push({
      section: 'product', name: `write transactions per booking saga (c=${high.concurrency})`, target: `< ${g.writeTransactionsPerSagaBelow}`,
      measured: `${round(high.writeTransactionsPerSaga)} xids/saga, all services`, met: high.writeTransactionsPerSaga < g.writeTransactionsPerSagaBelow,
      ...(high.otherDatabasesXacts > 0 ? { note: `other databases ran ${high.otherDatabasesXacts} transactions meanwhile: the cluster-wide figure includes some of theirs` } : {}),
    })
  }
  if (one) {
    targets.push({
      section: 'product', name: 'p50 latency of a booking saga at c=1', target: `≤ ${g.p50MsAtC1AtMost} ms`,
      measured: `${round(one.latencyMs.p50)} ms (participants ${round(one.split.participantsMs)} of ${round(one.split.endToEndMs)} ms mean)`, met: one.latencyMs.p50 <= g.p50MsAtC1AtMost,
    })
  }
  return targets
}

/**
 * A shorter rerun with every service under `--cpu-prof`: one summary for the participants
 * together (their profiles merged: the command kit is the same code in each) and one for the
 * orchestrator.
 */
async function profileProduct(context: BenchContext, env: NodeJS.ProcessEnv, concurrency: number, count: number, reason: string): Promise<void> {
  context.log(`  profiling the booking saga at c=${concurrency}, ${count} bookings (${reason})`)
  const dirOf = (name: ServiceName) => path.join(context.resultsDir, 'product-profiles', name)
  // Written when each process exits: the services stop on SIGTERM by returning from main.
  const product = await startProduct(context, env, (name) => ['--cpu-prof', `--cpu-prof-dir=${dirOf(name)}`])
  let window: ProfileWindow
  try {
    const fromUs = profileClockUs()
    await drive(product, concurrency, count, () => {}, () => {})
    window = { fromUs, toUs: profileClockUs() }
  } finally {
    await product.stop()
  }
  const fileOf = (name: ServiceName) => path.join(context.resultsDir, `product-${name}.cpuprofile`)
  for (const name of SERVICE_NAMES) await keepMainThreadProfile(dirOf(name), fileOf(name))
  context.profiles.push({ reason: `${reason} — the ${PARTICIPANT_NAMES.length} participants' profiles together`, ...(await summarizeProfile(PARTICIPANT_NAMES.map(fileOf), { window })) })
  context.profiles.push({ reason, ...(await summarizeProfile([fileOf('orchestrator')], { window })) })
  await rm(path.join(context.resultsDir, 'product-profiles'), { recursive: true, force: true })
}

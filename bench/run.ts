import { randomUUID } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { Command, InvalidArgumentError, Option } from 'commander'
import { Redis } from 'ioredis'
import pg from 'pg'
import { loadConfig } from '../platform/config.ts'
import { migrateDatabase } from '../scripts/lib/migrate.ts'
import { stopAll } from '../test/support/processes.ts'
import { calibrate } from './lib/calibrate.ts'
import type { BenchContext, Plan, Size } from './lib/context.ts'
import { closeAgent } from './lib/http-json.ts'
import { machineInfo } from './lib/machine.ts'
import { type Peers, startPeers, stopPeers } from './peers/setup.ts'
import type { Report } from './lib/report.ts'
import { renderMarkdown } from './lib/report.ts'
import { countSeeded, removeRunData } from './lib/seed.ts'
import { cdfPoints } from './lib/stats.ts'
import { latencyChart } from './lib/svg-chart.ts'
import { startStub, type Stub } from './lib/workers.ts'
import type { Target } from './lib/results.ts'
import { runEngineSection } from './sections/engine.ts'
import { peersReport } from './sections/peers.ts'
import { runProductSection } from './sections/product.ts'
import { runInstancesSection, runMemorySection, runRecoverySection, runSearchSection, type ScaleSection, seedSagas } from './sections/scale.ts'

// `npm run bench [-- options]`: measures the engine against the raw call chain, the booking
// saga end to end, and the orchestrator at scale; writes bench/results/<timestamp>/ and a copy
// of the Markdown report as bench/results/latest.md. Starts and stops everything it uses.

const SECTIONS = ['engine', 'product', 'search', 'recovery', 'memory', 'instances'] as const
type Section = typeof SECTIONS[number]
const ALIASES: Record<string, Section[]> = { scale: ['search', 'recovery', 'memory', 'instances'] }

const PLANS: Record<Size, Plan> = {
  small: {
    sagas: 300, rounds: 1, warmup: 100, concurrencies: [1, 20], productSagas: { 1: 30, 20: 150 },
    seedCount: 50_000, searchRequests: 100, searchShapeBudgetMs: 3_000,
    recoverySagas: 2_000, recoveryConcurrency: 16, memorySagas: 10_000, memorySampleMs: 1_000, instancesDurationMs: 4_000, outbox: true,
  },
  full: {
    sagas: 3_000, rounds: 3, warmup: 300, concurrencies: [1, 20], productSagas: { 1: 200, 20: 1_000 },
    seedCount: 1_000_000, searchRequests: 500, searchShapeBudgetMs: 20_000,
    recoverySagas: 10_000, recoveryConcurrency: 16, memorySagas: 100_000, memorySampleMs: 2_000, instancesDurationMs: 20_000, outbox: true,
  },
}

const positive = (value: string) => {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer')
  return n
}

const program = new Command('bench')
  .description('Benchmark the saga orchestrator; writes bench/results/<timestamp>/report.{json,md}')
  .addOption(new Option('--size <size>', 'small (a smoke run, ~3 min) or full (~20 min)').choices(['small', 'full']).default('full'))
  .option('--concurrency <list>', 'concurrencies of the engine and product sections, comma-separated (default: 1,20)')
  .option('--sagas <n>', 'sagas per engine scenario (default: small 300, full 3000)', positive)
  .option('--only <sections>', `run only these, comma-separated: ${SECTIONS.join(', ')}, or scale (= search,recovery,memory,instances)`)
  .option('--peers', 'also run the engine section\'s saga on DBOS Transact and Restate, in the same rounds, and compare')
  .option('--no-outbox', 'the bench saga without its domain event, and the workers without the outbox relay (what the outbox costs)')
  .parse()

const options = program.opts<{ size: Size; concurrency?: string; sagas?: number; only?: string; peers?: boolean; outbox: boolean }>()
const plan: Plan = { ...PLANS[options.size], outbox: options.outbox }
if (options.concurrency) {
  plan.concurrencies = options.concurrency.split(',').map((c) => positive(c.trim()))
  plan.productSagas = Object.fromEntries(plan.concurrencies.map((c) => [c, c === 1 ? PLANS[options.size].productSagas[1]! : PLANS[options.size].productSagas[20]!]))
}
if (options.sagas) plan.sagas = options.sagas
const selected = new Set<Section>(options.only
  ? options.only.split(',').flatMap((name) => {
    const trimmed = name.trim()
    if (ALIASES[trimmed]) return ALIASES[trimmed]
    if (!(SECTIONS as readonly string[]).includes(trimmed)) program.error(`unknown section "${trimmed}" (known: ${SECTIONS.join(', ')}, scale)`)
    return [trimmed as Section]
  })
  : SECTIONS)
// The peers are measured in the engine section's rounds, beside the engine and the raw floor.
if (options.peers && !selected.has('engine')) program.error('--peers runs within the engine section: add engine to --only')

/** `BENCH_DATABASE_URL`, else `DATABASE_URL` with the database renamed saga_bench: never the dev or test data. */
function benchDatabaseUrl(): string {
  if (process.env.BENCH_DATABASE_URL) return process.env.BENCH_DATABASE_URL
  const url = new URL(loadConfig().DATABASE_URL)
  url.pathname = '/saga_bench'
  return url.toString()
}

/** `BENCH_REDIS_URL`, else `REDIS_URL` on logical database 13, which the bench empties at the end. */
function benchRedisUrl(): string {
  if (process.env.BENCH_REDIS_URL) return process.env.BENCH_REDIS_URL
  const url = new URL(loadConfig().REDIS_URL)
  url.pathname = '/13'
  return url.toString()
}

const OWNER_KEY = 'saga-bench:owner'

/** The bench flushes its Redis database: refuse one that holds keys somebody else wrote. */
async function claimRedis(redis: Redis, url: string): Promise<void> {
  const keys = await redis.dbsize()
  if (keys > 0 && !(await redis.exists(OWNER_KEY))) {
    throw new Error(`Redis ${url} holds ${keys} keys the benchmark did not write; it empties its database at the end, so pick an empty one with BENCH_REDIS_URL`)
  }
  await redis.flushdb()
  await redis.set(OWNER_KEY, 'npm run bench')
}

const started = new Date()
const began = performance.now()
const log = (line: string) => process.stderr.write(`[${((performance.now() - began) / 1000).toFixed(0).padStart(4)} s] ${line}\n`)
const stamp = started.toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')
const resultsDir = path.resolve(import.meta.dirname, 'results', stamp)

// A signal must still run the exit hooks that stop every process this run started.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130))

async function main(): Promise<void> {
  const url = benchDatabaseUrl()
  const databaseName = decodeURIComponent(new URL(url).pathname.slice(1))
  if (!/bench/i.test(databaseName)) throw new Error(`The benchmark deletes rows of its database; "${databaseName}" does not look like one made for it (BENCH_DATABASE_URL)`)
  const rUrl = benchRedisUrl()
  await mkdir(resultsDir, { recursive: true })
  log(`results: ${path.relative(process.cwd(), resultsDir)}`)
  log(`database ${databaseName}: migrating`)
  await migrateDatabase(url)

  const client = new pg.Client({ connectionString: url })
  await client.connect()
  const redis = new Redis(rUrl, { maxRetriesPerRequest: 1 })
  let stub: Stub | undefined
  let peers: Peers | undefined
  let claimed = false
  try {
    await claimRedis(redis, rUrl)
    claimed = true
    const setupBegan = performance.now()
    log('removing what earlier runs drove (bulk-inserted sagas stay)')
    const removed = await removeRunData(client)
    const setup = { removedRowsOfEarlierRuns: removed, seconds: (performance.now() - setupBegan) / 1000 }

    const machine = await machineInfo(client, redis)
    log(`machine: ${machine.cpus} cores, ${machine.memoryGiB} GiB, Node ${machine.node}, Postgres ${machine.postgres}, Redis ${machine.redis}, load ${machine.loadAverageAtStart}`)
    const calibration = await calibrate(client, redis)
    stub = await startStub()
    if (options.peers) peers = await startPeers({ databaseUrl: url, pg: client, resultsDir, log })
    const context: BenchContext = {
      size: options.size, plan, databaseUrl: url, databaseName, redisUrl: rUrl, resultsDir,
      pg: client, redis, stub, runId: `bench-${stamp}-${randomUUID().slice(0, 8)}`, profiles: [], log,
      ...(peers ? { peers } : {}),
    }

    const targets: Target[] = []
    const charts: string[] = []
    const report: Partial<Report> = {}
    const scale: ScaleSection = { targets: [] }

    const needsSeed = selected.has('search')
    if (needsSeed) {
      log('3. scale: stored sagas')
      scale.seed = await seedSagas(context)
    }

    if (selected.has('engine')) {
      log(peers ? '1. engine overhead, and the peers' : '1. engine overhead')
      const { latencies, peerScenarios, ...engine } = await runEngineSection(context)
      report.engine = engine
      targets.push(...engine.targets)
      if (peers) report.peers = peersReport(peers, engine.scenarios, peerScenarios, machine.postgresSettings)
      const title = peers ? 'Engine vs raw floor and peers: 4-step saga against a stub participant' : 'Engine vs raw floor: 4-step saga against a stub participant'
      await writeFile(path.join(resultsDir, 'engine-latency.svg'), latencyChart(title, Object.entries(latencies).map(([label, values]) => ({ label, latenciesMs: values }))))
      charts.push('engine-latency.svg')
      const ours = new Set(engine.scenarios.map((s) => s.name))
      ;(report.engine as Record<string, unknown>).cdf = Object.fromEntries(Object.entries(latencies).filter(([k]) => ours.has(k)).map(([k, v]) => [k, cdfPoints(v, 100)]))
    }
    if (selected.has('product')) {
      log('2. the product: tour booking saga')
      const { latencies, ...product } = await runProductSection(context)
      report.product = product
      targets.push(...product.targets)
      await writeFile(path.join(resultsDir, 'product-latency.svg'), latencyChart('Tour booking saga through POST /api/orchestrator/bookings', Object.entries(latencies).map(([label, values]) => ({ label, latenciesMs: values }))))
      charts.push('product-latency.svg')
      ;(report.product as Record<string, unknown>).cdf = Object.fromEntries(Object.entries(latencies).map(([k, v]) => [k, cdfPoints(v, 100)]))
    }
    if (selected.has('search')) {
      log('3. scale: status and search')
      const { latencies, ...search } = await runSearchSection(context, scale.seed?.sagas ?? await countSeeded(client), scale.targets)
      scale.search = { ...search, latencies: {} }
      await writeFile(path.join(resultsDir, 'search-latency.svg'), latencyChart(`Status and search with ${search.sagasStored.toLocaleString('en')} sagas stored`, Object.entries(latencies).map(([label, values]) => ({ label, latenciesMs: values }))))
      charts.push('search-latency.svg')
    }
    if (selected.has('recovery')) {
      log('3. scale: recovery')
      scale.recovery = await runRecoverySection(context, scale.targets)
    }
    if (selected.has('memory')) {
      log('3. scale: memory')
      scale.memory = await runMemorySection(context, scale.targets)
    }
    if (selected.has('instances')) {
      log('3. scale: 1 versus 2 instances')
      scale.instances = await runInstancesSection(context)
    }
    targets.push(...scale.targets)
    if (scale.search) delete (scale.search as Partial<typeof scale.search>).latencies

    const finished = new Date()
    const full: Report = {
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      durationSeconds: (finished.getTime() - started.getTime()) / 1000,
      size: options.size,
      command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim().replace(/ --$/, ''),
      database: databaseName,
      redis: rUrl,
      machine,
      loadAverageAtEnd: Math.round(os.loadavg()[0]! * 100) / 100,
      calibration,
      setup,
      ...report,
      ...(scale.seed || scale.search || scale.recovery || scale.memory || scale.instances ? { scale } : {}),
      targets,
      profiles: context.profiles,
      charts,
    }
    const json = `${JSON.stringify(full, null, 2)}\n`
    await writeFile(path.join(resultsDir, 'report.json'), json)
    await writeFile(path.join(resultsDir, '..', 'latest.json'), json)
    const markdown = renderMarkdown(full)
    await writeFile(path.join(resultsDir, 'report.md'), markdown)
    // latest.md sits one level up: its chart links point into the run's folder.
    await writeFile(path.join(resultsDir, '..', 'latest.md'), markdown.replace(/\]\(([\w-]+\.svg)\)/g, `](${stamp}/$1)`))
    log(`done in ${(full.durationSeconds / 60).toFixed(1)} min: ${path.relative(process.cwd(), path.join(resultsDir, 'report.md'))}`)
    for (const t of targets) log(`  ${t.met ? 'met   ' : 'MISSED'} ${t.name}: ${t.measured} (target ${t.target})`)
  } finally {
    await stopPeers(peers)
    await stub?.stop()
    await stopAll()
    closeAgent()
    // Only a database this run claimed: never one that held somebody else's keys.
    if (claimed) await redis.flushdb().catch(() => {})
    redis.disconnect()
    await client.end()
  }
}

main().then(() => process.exit(0), (error: unknown) => {
  log(`failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`)
  process.exit(1)
})

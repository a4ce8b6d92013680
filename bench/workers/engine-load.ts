import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { createOrchestrator } from '../../orchestrator/src/application/create-orchestrator.ts'
import type { CommandTransport, LeaseOwner, NewSaga, Transition } from '../../orchestrator/src/engine/ports.ts'
import { SagaRegistry } from '../../orchestrator/src/engine/saga-registry.ts'
import { HttpCommandClient } from '../../orchestrator/src/transport/http-command-client.ts'
import { loadConfig } from '../../platform/config.ts'
import { createLogger } from '../../platform/logger.ts'
import { createRedis, type Redis } from '../../platform/redis.ts'
import { benchCommands, benchSaga, benchSagaWithoutEvents, STUB } from '../bench-saga.ts'
import { createCountingDatabase } from '../lib/counting-database.ts'
import { runConcurrently } from '../lib/load-loop.ts'
import type { Breakdown, LoadResult, LoadTask, MemorySample, RecoveryTask, SagaDriver } from '../lib/protocol.ts'

/** Called between warm-up and measurement: resolves when the coordinator says go. */
export type Gate = () => Promise<void>
export type Progress = (completed: number) => void

/** A result, and how to release what produced it (after the coordinator's last reading). */
export interface Finished<R> {
  result: R
  close(): Promise<void>
}

const WAIT_MS = 10_000 // what POST /api/orchestrator/... waits by default (?wait)

/**
 * One orchestrator as a process runs it, built by createOrchestrator: the Postgres store (on a
 * counting pool), the Redis mirror, the axios command client, a pino logger at `info` (the
 * worker's stdout is /dev/null, so log lines cost what they cost, serialisation and write
 * included), lease renewal on.
 */
async function openOrchestrator(task: { databaseUrl: string; redisUrl?: string; stubUrl: string; instanceId: string; outbox?: boolean }) {
  const counting = createCountingDatabase(task.databaseUrl)
  let redis: Redis | undefined
  if (task.redisUrl) {
    redis = createRedis({ url: task.redisUrl })
    if (redis.status !== 'ready') await once(redis, 'ready')
  }
  const breakdown: Breakdown = { sagas: 0, transportMs: 0, createMs: 0, storeWriteMs: 0, storeWrites: 0, mirrorMs: 0 }
  const http = new HttpCommandClient({ baseUrls: { [STUB]: task.stubUrl } })
  const timed = <T>(add: (ms: number) => void, work: () => Promise<T>) => {
    const began = performance.now()
    return work().finally(() => add(performance.now() - began))
  }
  const transport: CommandTransport = {
    send: (command, metadata) => timed((ms) => { breakdown.transportMs += ms }, () => http.send(command, metadata)),
    fence: (participant, metadata) => timed((ms) => { breakdown.transportMs += ms }, () => http.fence(participant, metadata)),
  }
  const committedAt = new Map<string, number>()
  const graph = createOrchestrator(loadConfig(), {
    db: counting.db,
    redis: redis ?? null,
    registry: new SagaRegistry().register(task.outbox === false ? benchSagaWithoutEvents : benchSaga),
    transport,
    logger: createLogger({ service: 'orchestrator', format: 'json', level: 'info' }),
    instanceId: task.instanceId,
    recoveryIntervalMs: 0,
    // The engine's ports are timed, not changed: the store's two per-saga calls are wrapped.
    wrapStore: (store) => {
      const wrapped: Partial<typeof store> = {
        recordTransition: (transition: Transition, owner: LeaseOwner) => timed((ms) => {
          breakdown.storeWriteMs += ms
          breakdown.storeWrites++
          committedAt.set(transition.saga.id, performance.now())
        }, () => store.recordTransition(transition, owner)),
        createSaga: (draft: NewSaga, owner: LeaseOwner) => timed((ms) => { breakdown.createMs += ms }, () => store.createSaga(draft, owner)),
      }
      return new Proxy(store, {
        get: (target, property) => {
          const value = (wrapped as Record<PropertyKey, unknown>)[property] ?? Reflect.get(target, property)
          return typeof value === 'function' ? value.bind(target) : value
        },
      })
    },
    observer: {
      // Runs after the store's write and the mirror's publish: the gap is the mirror.
      transition: ({ saga }) => {
        const at = committedAt.get(saga.id)
        if (at !== undefined) breakdown.mirrorMs += performance.now() - at
        committedAt.delete(saga.id)
      },
    },
  })
  const { orchestrator } = graph
  orchestrator.startLeaseRenewal()
  // As the server runs it: the relay publishes the completions' events as they commit.
  if (task.outbox !== false) graph.events.start()
  return {
    orchestrator,
    counting,
    http,
    breakdown,
    resetBreakdown() {
      Object.assign(breakdown, { sagas: 0, transportMs: 0, createMs: 0, storeWriteMs: 0, storeWrites: 0, mirrorMs: 0 })
    },
    async close() {
      await graph.close()
      await counting.db.$disconnect()
      redis?.disconnect()
    },
  }
}

/** A growable Float64Array: latencies of 100,000 sagas without 100,000 boxed numbers on the heap. */
class Samples {
  #data: Float64Array
  length = 0
  constructor(capacity: number) {
    this.#data = new Float64Array(Math.max(16, capacity))
  }
  push(value: number) {
    if (this.length === this.#data.length) {
      const bigger = new Float64Array(this.#data.length * 2)
      bigger.set(this.#data)
      this.#data = bigger
    }
    this.#data[this.length++] = value
  }
  toArray(): number[] {
    return Array.from(this.#data.subarray(0, this.length))
  }
}

/** Orchestrator.start + waitForOutcome. */
async function engineDriver(task: LoadTask): Promise<SagaDriver> {
  const opened = await openOrchestrator(task)
  return {
    async runOne(n) {
      const { saga } = await opened.orchestrator.start({ type: benchSaga.type, input: { run: task.runId, n }, idempotencyKey: randomUUID(), callerId: 'bench' })
      const final = await opened.orchestrator.waitForOutcome(saga.id, WAIT_MS)
      if (final?.status !== 'COMPLETED') throw new Error(`saga ${saga.id} ended ${final?.status ?? 'missing'}`)
    },
    startMeasuring() {
      opened.counting.take()
      opened.resetBreakdown()
    },
    statements: () => opened.counting.take(),
    breakdown: () => ({ ...opened.breakdown }),
    close: () => opened.close(),
  }
}

/** The raw floor: the four calls in a row, no database and no Redis, only the same command client. */
function rawDriver(task: LoadTask): SagaDriver {
  const http = new HttpCommandClient({ baseUrls: { [STUB]: task.stubUrl } })
  return {
    async runOne(n) {
      // The same commands, through the same client and keep-alive agent, with the same headers.
      const sagaId = randomUUID()
      for (const { step, command } of benchCommands({ run: task.runId, n })) {
        const outcome = await http.send(command, { idempotencyKey: `${sagaId}:${step}:forward`, sagaId, sagaType: benchSaga.type, step, timeoutMs: 5_000 })
        if (outcome.kind !== 'answer' || outcome.status >= 300) throw new Error(`${step}: ${outcome.kind} ${JSON.stringify(outcome)}`)
      }
    },
    close: async () => {},
  }
}

async function openDriver(task: LoadTask): Promise<SagaDriver> {
  switch (task.kind) {
    case 'engine':
      return engineDriver(task)
    case 'raw':
      return rawDriver(task)
    // Imported only here: an engine worker never loads a peer's SDK.
    case 'dbos':
      return (await import('../peers/dbos-driver.ts')).dbosDriver(task)
    case 'restate':
      return (await import('../peers/restate-driver.ts')).restateDriver(task)
  }
}

/** Sagas through one driver: warm-up, the coordinator's go, then the measured closed loop. */
export async function runLoad(task: LoadTask, gate: Gate, progress: Progress): Promise<Finished<LoadResult>> {
  const driver = await openDriver(task)
  const runOne = (n: number) => driver.runOne(n)

  const failures: string[] = []
  let failed = 0
  const fail = (error: unknown) => {
    failed++
    if (failures.length < 5) failures.push(error instanceof Error ? error.message : String(error))
  }

  let warmed = 0
  await runConcurrently(task.concurrency, () => warmed++ < task.warmup, runOne, () => {}, fail)
  await gate()

  const latencies = new Samples(task.count ?? 100_000)
  const memory: MemorySample[] = []
  driver.startMeasuring?.()
  failed = 0
  failures.length = 0
  const cpuBefore = process.cpuUsage()
  const began = performance.now()
  const sample = () => {
    ;(globalThis as { gc?: () => void }).gc?.()
    const m = process.memoryUsage()
    memory.push({ tMs: Math.round(performance.now() - began), sagas: latencies.length, rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external })
  }
  let sampler: NodeJS.Timeout | undefined
  if (task.memorySampleMs) {
    sample()
    sampler = setInterval(sample, task.memorySampleMs)
  }
  const reporter = setInterval(() => progress(latencies.length), 2_000)
  let issued = 0
  const deadline = task.durationMs ? began + task.durationMs : Infinity
  const more = () => (task.count === undefined || issued++ < task.count) && performance.now() < deadline
  try {
    await runConcurrently(task.concurrency, more, runOne, (ms) => latencies.push(ms), fail)
  } finally {
    clearInterval(reporter)
    clearInterval(sampler)
  }
  const elapsedMs = performance.now() - began
  if (task.memorySampleMs) sample()
  const cpu = process.cpuUsage(cpuBefore)
  const statements = driver.statements?.() ?? { total: 0, byKind: {}, waitMs: 0 }
  const spent = driver.breakdown?.()
  const breakdown = spent ? { ...spent, sagas: latencies.length } : undefined
  const result: LoadResult = {
    kind: task.kind,
    completed: latencies.length,
    failed,
    failures,
    elapsedMs,
    latenciesMs: latencies.toArray(),
    cpuUserMs: cpu.user / 1000,
    cpuSystemMs: cpu.system / 1000,
    statements,
    ...(breakdown ? { breakdown } : {}),
    ...(task.memorySampleMs ? { memory } : {}),
  }
  return { result, close: () => driver.close() }
}

/**
 * Times orchestrator.recoverPendingSagas over the orphans the coordinator inserted, with the
 * CLI's own call (`npm run saga -- recover --concurrency N`). Warms up on a few fresh sagas first.
 */
export async function runRecovery(task: RecoveryTask, gate: Gate, progress: Progress): Promise<Finished<LoadResult>> {
  const opened = await openOrchestrator(task)
  const { orchestrator, counting } = opened
  for (let i = 0; i < task.warmup; i += 10) {
    await Promise.all(Array.from({ length: 10 }, async (_, j) => {
      const { saga } = await orchestrator.start({ type: benchSaga.type, input: { run: `${task.runId}-warmup`, n: i + j }, idempotencyKey: randomUUID(), callerId: 'bench' })
      await orchestrator.waitForOutcome(saga.id, WAIT_MS)
    }))
  }
  await gate()
  counting.take()
  opened.resetBreakdown()
  const cpuBefore = process.cpuUsage()
  let settled = 0
  const reporter = setInterval(() => progress(settled), 2_000)
  const began = performance.now()
  const summary = await orchestrator.recoverPendingSagas({
    concurrency: task.concurrency,
    onProgress: (event) => { if (event.type === 'settled') settled++ },
  }).finally(() => clearInterval(reporter))
  const elapsedMs = performance.now() - began
  const cpu = process.cpuUsage(cpuBefore)
  const statements = counting.take()
  const breakdown = { ...opened.breakdown, sagas: summary.completed }
  const { sagaIds: _ids, ...counts } = summary
  const result: LoadResult = {
    kind: 'recovery',
    completed: summary.completed,
    failed: summary.found - summary.completed,
    failures: [],
    elapsedMs,
    latenciesMs: [],
    cpuUserMs: cpu.user / 1000,
    cpuSystemMs: cpu.system / 1000,
    statements,
    breakdown,
    recovery: counts,
  }
  return { result, close: () => opened.close() }
}

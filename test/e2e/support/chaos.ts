import { TERMINAL_STATUSES, WAITING_STATUSES } from '../../../orchestrator/src/engine/saga-instance.ts'
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { loadConfig } from '../../../platform/config.ts'
import { EmbeddedPostgresUnavailable, startEmbeddedPostgres } from '../../../scripts/lib/embedded-postgres.ts'
import { startEmbeddedRedis } from '../../../scripts/lib/embedded-redis.ts'
import { migrateDatabase } from '../../../scripts/lib/migrate.ts'
import { testDatabaseUrl } from '../../../scripts/lib/test-database.ts'
import { startFaultProxy } from '../../support/fault-proxy.ts'
import { participantGet } from '../../support/participant-reads.ts'
import { freePort, type RunningService, stopAll } from '../../support/processes.ts'
import { startTcpProxy, targetOf, throughProxy } from '../../support/tcp-proxy.ts'
import {
  type Answer, bookUntilAnswered, type BookingRequest, createTours, inPool, newRun, spawnOrchestrator, startParticipants, TOKENS,
} from './booking-fleet.ts'

// The chaos suite: tour bookings at concurrency 20 through the orchestrator's HTTP API while
// everything it depends on misbehaves, all on servers this run owns (never the machine's own):
// - the orchestrator is killed with SIGKILL and restarted on its port, again and again;
// - PostgreSQL is restarted for real (an embedded instance: every session gets 57P01, then
//   nothing answers for the outage), or, without the embedded package, every connection
//   through a TCP proxy in front of the test database is cut for as long;
// - Redis (an embedded server) is down for 30 s and comes back empty;
// - the payment link answers 10 % of requests 503 and drops 5 % of replies after the charge
//   happened (a fault proxy in front of the payment service).
// Then, from the orchestrator's and the participants' HTTP read APIs only: every saga ends
// terminal or parked with an incident, nobody is charged twice, no seat is lost, every failed
// saga is refunded, and no participant process exited by itself.
// Used by test/e2e/chaos.test.ts (CI size) and scripts/chaos.ts (`npm run chaos`, full size).

/** Statuses that end the story (the engine's), and those that wait for an operator with an incident. */
const TERMINAL: readonly string[] = TERMINAL_STATUSES
const PARKED_STATUSES: readonly string[] = WAITING_STATUSES

export interface ChaosPlan {
  sagas: number
  concurrency: number
  orchestratorKills: number
  postgresOutageMs: number
  redisOutageMs: number
  /** Share of payment requests answered 503 / whose reply is dropped. */
  paymentUnavailable: number
  paymentDropReply: number
  /** How long the sagas have to settle once every booking was answered. */
  settleTimeoutMs: number
  /** `embedded`: restart an embedded PostgreSQL for real; `proxy`: cut a TCP proxy. Default: embedded when installed. */
  postgres?: 'embedded' | 'proxy'
  log?: (line: string) => void
}

/** Bookings sent once every fault is over (beyond `sagas`). */
const AFTER_FAULTS = 10
/** ioredis retries at most every 2 s (platform/redis.ts): a margin past that. */
const REDIS_RECONNECT_MS = 3_000

export const CI_PLAN: ChaosPlan = {
  sagas: 160, concurrency: 20, orchestratorKills: 2, postgresOutageMs: 10_000, redisOutageMs: 30_000,
  paymentUnavailable: 0.1, paymentDropReply: 0.05, settleTimeoutMs: 90_000,
}

export const FULL_PLAN: ChaosPlan = {
  ...CI_PLAN, sagas: 1_000, orchestratorKills: 5, settleTimeoutMs: 240_000,
}

export interface ChaosReport {
  plan: Omit<ChaosPlan, 'log'>
  postgresMode: 'embedded restart' | 'proxy cut'
  durationMs: number
  answeredAfterMs: number
  statuses: Record<string, number>
  failures: Record<string, number>
  kills: { afterAnswers: number; inFlight: number; downMs: number }[]
  outages: { what: string; afterAnswers: number; ms: number; readyDuring?: unknown }[]
  client: { resentAfterLostAnswer: number; retriedAfter5xx: number; unexpectedStatuses: Record<string, number> }
  paymentLink: { forwarded: number; unavailable: number; dropped: number; upstreamErrors: number }
  doubleCharges: number
  lostSeats: number
  unrefundedFailed: number
  unsettled: number
  /** Sagas settled well after Redis came back (expected in the mirror) and those found there. */
  mirror: { expected: number; present: number }
  participantCrashes: string[]
  violations: string[]
}

interface SagaView {
  sagaId: string
  status: string
  state: string
  input: { tourId: string; numberOfSpots: number; userId: string }
  resources: Record<string, string>
  error?: { code?: string }
  incident?: unknown
  compensationError?: unknown
  updatedAt: string
}

interface BookingView { bookingId: string; status: string; tourId: string; numberOfSpots: number; totalPrice: number }
interface PaymentView { paymentId: string; status: string; amount: number; refundedAmount: number }
interface TourView { tourId: string; capacity: number; availableSpots: number }

/** A Postgres the run may restart or cut off. */
interface OwnedPostgres {
  mode: ChaosReport['postgresMode']
  url: string
  outage(ms: number): Promise<void>
  close(): Promise<void>
}

async function ownPostgres(preferred: ChaosPlan['postgres'], log: (line: string) => void): Promise<OwnedPostgres> {
  if (preferred !== 'proxy') {
    try {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'saga-chaos-'))
      // mkdtemp makes it 0700; the server may run as `nobody`, who must be able to enter it.
      await chmod(dir, 0o755)
      const server = await startEmbeddedPostgres({ dataDir: path.join(dir, 'postgres'), port: 0, fast: true })
      const url = server.url('saga_chaos')
      await migrateDatabase(url)
      log(`PostgreSQL: an embedded instance of this run on 127.0.0.1:${server.port}, restarted for real`)
      return {
        mode: 'embedded restart',
        url,
        async outage(ms) {
          await server.stop()
          await sleep(ms)
          await server.start()
        },
        async close() {
          await server.stop()
          await rm(dir, { recursive: true, force: true })
        },
      }
    } catch (error) {
      if (!(error instanceof EmbeddedPostgresUnavailable) || preferred === 'embedded') throw error
    }
  }
  const base = testDatabaseUrl(loadConfig())
  await migrateDatabase(base)
  const proxy = await startTcpProxy({ target: targetOf(base) })
  log(`PostgreSQL: the test database through a TCP proxy on 127.0.0.1:${proxy.port}, cut for each outage`)
  return { mode: 'proxy cut', url: throughProxy(base, proxy), outage: (ms) => proxy.outage(ms), close: () => proxy.close() }
}

/** Waits until `condition()` holds (checked every 20 ms); false when `timeoutMs` passed first. */
async function until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) return false
    await sleep(20)
  }
  return true
}

async function readyOf(url: string): Promise<unknown> {
  try {
    const response = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(5_000) })
    return { ...((await response.json()) as object), statusCode: response.status }
  } catch (error) {
    return { error: (error as Error).message }
  }
}

const count = (map: Record<string, number>, key: string) => { map[key] = (map[key] ?? 0) + 1 }

export async function runChaos(plan: ChaosPlan): Promise<ChaosReport> {
  const log = plan.log ?? (() => {})
  const began = Date.now()
  const violations: string[] = []
  const postgres = await ownPostgres(plan.postgres, log)
  const redis = await startEmbeddedRedis()
  let payment: Awaited<ReturnType<typeof startFaultProxy>> | undefined
  try {
    const env = { DATABASE_URL: postgres.url, REDIS_URL: redis.url }
    const fleet = await startParticipants(env)
    payment = await startFaultProxy({ target: fleet.urls.payment, unavailable: plan.paymentUnavailable, dropReply: plan.paymentDropReply })
    const orchestratorEnv = { ...env, PAYMENT_URL: payment.url }
    const port = await freePort()
    let orchestrator: RunningService = await spawnOrchestrator(fleet, { port, env: orchestratorEnv })
    const killedByUs = new Set<RunningService>()
    let checking = true
    const watchOrchestrator = (service: RunningService) => {
      void service.exited.then((code) => {
        if (checking && !killedByUs.has(service)) violations.push(`the orchestrator exited by itself (code ${code}): ${service.output().slice(-2_000)}`)
      })
    }
    watchOrchestrator(orchestrator)

    // About one spot in eight is left unsold, one card in twelve is declined.
    const run = newRun('chaos')
    const tourCount = Math.max(4, Math.ceil(plan.sagas / 100))
    const capacity = Math.ceil((plan.sagas * 2 * 0.9) / tourCount)
    const tours = await createTours(fleet, Array.from({ length: tourCount }, () => ({ capacity, price: 37.5 })))
    // The last AFTER_FAULTS bookings are sent once every fault is over: the system must be
    // whole again (their sagas must reach the new Redis, for one).
    const requests: BookingRequest[] = Array.from({ length: plan.sagas + AFTER_FAULTS }, (_, i) => ({
      key: run.key(i),
      body: {
        tourId: tours[i % tours.length]!.tourId,
        userId: run.userId(i),
        numberOfSpots: 1 + (i % 3),
        paymentMethod: i % 12 === 5 ? 'pm_card_chargeDeclined' : 'pm_card_visa',
      },
    }))

    let answered = 0
    let inFlight = 0
    let redisBackAt = Infinity
    const kills: ChaosReport['kills'] = []
    const outages: ChaosReport['outages'] = []
    const threshold = (share: number) => Math.floor(plan.sagas * share)

    // Faults fire at points of progress, so that they hit the run however fast this machine is.
    const redisOutage = (async () => {
      await until(() => answered >= threshold(0.05), 600_000)
      const outage = { what: 'redis', afterAnswers: answered, ms: plan.redisOutageMs, readyDuring: undefined as unknown }
      log(`Redis down for ${plan.redisOutageMs / 1000} s (after ${answered} answers)`)
      await redis.stop()
      await sleep(Math.min(2_000, plan.redisOutageMs / 2))
      outage.readyDuring = await readyOf(fleet.urls.booking)
      await sleep(plan.redisOutageMs - Math.min(2_000, plan.redisOutageMs / 2))
      await redis.start()
      redisBackAt = Date.now()
      log('Redis back (empty)')
      outages.push(outage)
    })()
    const postgresOutage = (async () => {
      await until(() => answered >= threshold(0.35), 600_000)
      const outage = { what: `postgres (${postgres.mode})`, afterAnswers: answered, ms: plan.postgresOutageMs, readyDuring: undefined as unknown }
      log(`PostgreSQL down for ${plan.postgresOutageMs / 1000} s (after ${answered} answers)`)
      const down = postgres.outage(plan.postgresOutageMs)
      await sleep(Math.min(3_000, plan.postgresOutageMs / 2))
      outage.readyDuring = await readyOf(fleet.urls.payment)
      await down
      log('PostgreSQL back')
      outages.push(outage)
    })()
    const killer = (async () => {
      for (let k = 1; k <= plan.orchestratorKills; k++) {
        await until(() => answered >= threshold(0.1 + (0.8 * k) / (plan.orchestratorKills + 1)), 600_000)
        await sleep(Math.random() * 200)
        const kill = { afterAnswers: answered, inFlight, downMs: 0 }
        const killedAt = Date.now()
        killedByUs.add(orchestrator)
        await orchestrator.stop('SIGKILL')
        orchestrator = await spawnOrchestrator(fleet, { port, env: orchestratorEnv })
        watchOrchestrator(orchestrator)
        kills.push({ ...kill, downMs: Date.now() - killedAt })
        log(`orchestrator killed (-9) after ${kill.afterAnswers} answers with ${kill.inFlight} requests open; back after ${Date.now() - killedAt} ms`)
      }
    })()

    // The client: a lost request goes again with the same key (bookUntilAnswered), and so
    // does one answered 5xx (a dependency down), as the contract expects of a client.
    const client = { resentAfterLostAnswer: 0, retriedAfter5xx: 0, unexpectedStatuses: {} as Record<string, number> }
    const deadline = Date.now() + 600_000
    const book = async (request: BookingRequest) => {
      inFlight++
      try {
        for (;;) {
          const answer: Answer = await bookUntilAnswered(() => orchestrator.url, request, { deadline, waitMs: 5_000 })
          if (answer.lostRequests) client.resentAfterLostAnswer++
          if (answer.status >= 500) {
            client.retriedAfter5xx++
            if (answer.status !== 503) count(client.unexpectedStatuses, String(answer.status))
            await sleep(250 + Math.random() * 250)
            continue
          }
          if (![201, 202, 422].includes(answer.status)) count(client.unexpectedStatuses, String(answer.status))
          return answer
        }
      } finally {
        inFlight--
        answered++
      }
    }
    const duringFaults = await inPool(requests.slice(0, plan.sagas), plan.concurrency, book)
    const answeredAfterMs = Date.now() - began
    log(`every booking answered after ${answeredAfterMs} ms; waiting for the faults to end`)
    await Promise.all([killer, postgresOutage, redisOutage])
    // ioredis retries every 2 s at most: by then every service is connected to the new Redis.
    await sleep(REDIS_RECONNECT_MS)
    const afterFaults = await inPool(requests.slice(plan.sagas), plan.concurrency, book)
    const answers = [...duringFaults, ...afterFaults]
    log(`${AFTER_FAULTS} more bookings answered after the faults; waiting for the sagas to settle`)

    // Settling: every saga terminal, or parked with an incident for an operator.
    const sagaIds = new Map<string, string>()
    for (const [index, answer] of answers.entries()) {
      if (answer.body.sagaId) sagaIds.set(requests[index]!.key, answer.body.sagaId)
      else violations.push(`booking ${requests[index]!.key}: answered ${answer.status} without a sagaId`)
    }
    const views = new Map<string, SagaView>()
    const readSaga = async (sagaId: string): Promise<SagaView | undefined> => {
      const response = await fetch(`${orchestrator.url}/api/orchestrator/sagas/${sagaId}`, { headers: { authorization: `Bearer ${TOKENS.support}` }, signal: AbortSignal.timeout(10_000) })
        .catch(() => undefined)
      return response?.ok ? ((await response.json()) as SagaView) : undefined
    }
    const settled = (view: SagaView | undefined) => !!view && (TERMINAL.includes(view.status) || PARKED_STATUSES.includes(view.status))
    const settleBy = Date.now() + plan.settleTimeoutMs
    let pending = [...new Set(sagaIds.values())]
    while (pending.length && Date.now() < settleBy) {
      const read = await inPool(pending, 20, readSaga)
      pending = pending.filter((sagaId, index) => {
        if (read[index]) views.set(sagaId, read[index]!)
        return !settled(read[index])
      })
      if (pending.length) await sleep(1_000)
    }
    for (const sagaId of pending) violations.push(`saga ${sagaId} did not settle: ${views.get(sagaId)?.status ?? 'unreadable'} (${views.get(sagaId)?.state ?? '?'})`)

    // Exactly one saga per key: each user made exactly one booking request.
    const perUser = await inPool(requests, 20, async (request) => {
      const response = await fetch(`${orchestrator.url}/api/orchestrator/sagas?userId=${encodeURIComponent(request.body.userId)}&limit=10`, { headers: { authorization: `Bearer ${TOKENS.support}` } })
      return response.ok ? ((await response.json()) as { items: unknown[] }).items.length : -1
    })
    perUser.forEach((sagas, index) => { if (sagas !== 1) violations.push(`user ${requests[index]!.body.userId}: ${sagas} sagas for one request`) })

    // What the participants hold, through their read APIs.
    let doubleCharges = 0
    let unrefundedFailed = 0
    const confirmedSpots = new Map<string, number>()
    const heldByParked = new Map<string, number>()
    const statuses: Record<string, number> = {}
    const failures: Record<string, number> = {}
    await inPool(requests, 20, async (request) => {
      const view = views.get(sagaIds.get(request.key) ?? '')
      if (!view) return
      count(statuses, view.status)
      if (view.status === 'FAILED') count(failures, view.error?.code ?? 'unknown')
      if (PARKED_STATUSES.includes(view.status) && !view.incident && !view.compensationError) violations.push(`saga ${view.sagaId} is ${view.status} without an incident`)
      const bookings = (await participantGet<BookingView[]>(fleet.urls.booking, `/api/bookings?userId=${encodeURIComponent(request.body.userId)}`)) ?? []
      let netCharges = 0
      for (const booking of bookings) {
        const payments = (await participantGet<PaymentView[]>(fleet.urls.payment, `/api/payments?bookingId=${booking.bookingId}`)) ?? []
        const charged = payments.filter((p) => p.amount - p.refundedAmount > 0)
        if (payments.filter((p) => p.status !== 'FAILED' && p.status !== 'DECLINED').length > 1) {
          doubleCharges++
          violations.push(`booking ${booking.bookingId} (saga ${view.sagaId}): charged ${payments.length} times`)
        }
        netCharges += charged.length
        if (booking.status === 'CONFIRMED') confirmedSpots.set(booking.tourId, (confirmedSpots.get(booking.tourId) ?? 0) + booking.numberOfSpots)
      }
      const confirmed = bookings.filter((b) => b.status === 'CONFIRMED')
      if (view.status === 'COMPLETED') {
        if (confirmed.length !== 1 || netCharges !== 1) violations.push(`COMPLETED saga ${view.sagaId}: ${confirmed.length} confirmed booking(s), ${netCharges} charge(s)`)
      } else if (view.status === 'FAILED') {
        if (netCharges > 0) {
          unrefundedFailed++
          violations.push(`FAILED saga ${view.sagaId} (${view.error?.code}): ${netCharges} charge(s) not refunded`)
        }
        if (bookings.some((b) => b.status !== 'CANCELLED')) violations.push(`FAILED saga ${view.sagaId}: booking left ${bookings.map((b) => b.status).join(', ')}`)
      } else if (view.resources.reservationId) {
        // Parked with its spots still reserved: an operator decides; not counted as lost.
        heldByParked.set(view.input.tourId, (heldByParked.get(view.input.tourId) ?? 0) + view.input.numberOfSpots)
      }
    })

    // Seats: every spot a tour no longer offers belongs to a confirmed booking (or a parked saga).
    let lostSeats = 0
    for (const tour of tours) {
      const state = await participantGet<TourView>(fleet.urls['tour-catalog'], `/api/tours/${tour.tourId}`)
      if (!state) {
        violations.push(`tour ${tour.tourId} not found`)
        continue
      }
      const taken = state.capacity - state.availableSpots
      const accounted = confirmedSpots.get(tour.tourId) ?? 0
      const parked = heldByParked.get(tour.tourId) ?? 0
      if (taken < accounted || taken > accounted + parked) {
        lostSeats += Math.abs(taken - accounted)
        violations.push(`tour ${tour.tourId}: ${taken} spots taken, ${accounted} confirmed, ${parked} held by parked sagas`)
      }
    }

    // The mirror resumed: a saga whose last transition came after every client reconnected to
    // the new Redis is there (the mirror write of a saga's last transition is awaited).
    const mirrorClient = new Redis(redis.url, { maxRetriesPerRequest: 1 })
    let mirrored = 0
    let mirrorExpected = 0
    try {
      for (const view of views.values()) {
        if (!TERMINAL.includes(view.status) || Date.parse(view.updatedAt) < redisBackAt + REDIS_RECONNECT_MS) continue
        mirrorExpected++
        const entry = await mirrorClient.get(`saga:${view.sagaId}`)
        if (entry && (JSON.parse(entry) as { status?: string }).status === view.status) mirrored++
        else violations.push(`saga ${view.sagaId} settled ${view.status} after Redis was back, but its mirror entry is ${entry ? 'stale' : 'missing'}`)
      }
    } finally {
      mirrorClient.disconnect()
    }

    const participantCrashes = fleet.unexpectedExits().map((exit) => `${exit.name} exited (code ${exit.code}): ${exit.output.slice(-1_500)}`)
    violations.push(...participantCrashes)
    if (kills.length !== plan.orchestratorKills) violations.push(`${kills.length} of ${plan.orchestratorKills} kills happened`)

    checking = false
    const { log: _log, ...planShown } = plan
    return {
      mirror: { expected: mirrorExpected, present: mirrored },
      plan: planShown,
      postgresMode: postgres.mode,
      durationMs: Date.now() - began,
      answeredAfterMs,
      statuses,
      failures,
      kills,
      outages,
      client,
      paymentLink: { ...payment.counts },
      doubleCharges,
      lostSeats,
      unrefundedFailed,
      unsettled: pending.length,
      participantCrashes,
      violations,
    }
  } finally {
    await stopAll()
    await payment?.close()
    await redis.stop()
    await postgres.close()
  }
}

/** The report as a few lines of figures. */
export function describeChaos(report: ChaosReport): string[] {
  const fmt = (record: Record<string, number>) => Object.entries(record).map(([key, value]) => `${key} ${value}`).join(', ') || 'none'
  return [
    `[chaos] ${report.plan.sagas} bookings at concurrency ${report.plan.concurrency} (and ${AFTER_FAULTS} after the faults): answered after ${(report.answeredAfterMs / 1000).toFixed(1)} s, all checked after ${(report.durationMs / 1000).toFixed(1)} s`,
    `[chaos] outcomes: ${fmt(report.statuses)}; failures: ${fmt(report.failures)}; unsettled ${report.unsettled}`,
    `[chaos] orchestrator kill -9 ×${report.kills.length}: ${report.kills.map((k) => `after ${k.afterAnswers} answers with ${k.inFlight} open, back in ${k.downMs} ms`).join('; ')}`,
    ...report.outages.map((o) => `[chaos] ${o.what} down ${o.ms / 1000} s after ${o.afterAnswers} answers; /ready meanwhile: ${JSON.stringify(o.readyDuring)}`),
    `[chaos] payment link: ${report.paymentLink.forwarded} forwarded, ${report.paymentLink.unavailable} answered 503, ${report.paymentLink.dropped} replies dropped after the effect`,
    `[chaos] client: ${report.client.resentAfterLostAnswer} bookings re-sent after a lost answer, ${report.client.retriedAfter5xx} retried after a 5xx; unexpected statuses: ${fmt(report.client.unexpectedStatuses)}`,
    `[chaos] Redis mirror after the outage: ${report.mirror.present} of ${report.mirror.expected} sagas settled since are there`,
    `[chaos] double charges ${report.doubleCharges}, lost seats ${report.lostSeats}, unrefunded failed sagas ${report.unrefundedFailed}, participant crashes ${report.participantCrashes.length}, violations ${report.violations.length}`,
  ]
}

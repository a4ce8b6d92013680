import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll } from 'vitest'
import { createDatabase, type PrismaClient } from '../../../platform/database.ts'
import { PARTICIPANT_NAMES, SERVICES, type ParticipantName } from '../../../platform/services.ts'
import { freePorts } from '../../support/free-ports.ts'
import { PARTICIPANT_HEADERS } from '../../support/participant-reads.ts'
import { freePort, type RunningService, spawnService, stopAll } from '../../support/processes.ts'

/**
 * The pieces the crash-recovery suites share: the six participants as real processes on fixed
 * ports (so a stopped one can come back where the orchestrators expect it), orchestrators
 * spawned against them with short leases, a client that behaves as the contract asks
 * (retry a lost request with the same Idempotency-Key), and the money-and-spots invariants.
 */

export const TOKENS = {
  client: 'e2e-client-token',
  support: 'e2e-support-token',
  operator: 'e2e-operator-token',
} as const
const API_TOKENS = `client:${TOKENS.client},support:${TOKENS.support},operator:${TOKENS.operator}`

/** Lease length of every orchestrator these suites start: a takeover within ~2 s of a crash. */
export const LEASE_TTL_MS = 1_500
export const RECOVERY_INTERVAL_MS = 500

export interface ParticipantFleet {
  /** Base URL of each participant, as the orchestrators are configured. */
  urls: Record<ParticipantName, string>
  /** Stops a participant (SIGTERM): its URL refuses connections until `start` brings it back. */
  stop(name: ParticipantName): Promise<void>
  /** (Re)starts a participant on its port; nothing to do when it runs. */
  start(name: ParticipantName): Promise<void>
  /** Participants that exited without being stopped (a crash), with the end of their output. */
  unexpectedExits(): { name: ParticipantName; code: number | null; output: string }[]
}

/** Starts the six participants; `env` is added to each one's environment (e.g. its DATABASE_URL or a REDIS_URL of the test's own). */
export async function startParticipants(env: NodeJS.ProcessEnv = {}): Promise<ParticipantFleet> {
  // Picked together, so no two participants are handed the same port.
  const picked = await freePorts(PARTICIPANT_NAMES.length)
  const ports = Object.fromEntries(PARTICIPANT_NAMES.map((name, i) => [name, picked[i]!])) as Record<ParticipantName, number>
  const urls = Object.fromEntries(PARTICIPANT_NAMES.map((name) => [name, `http://127.0.0.1:${ports[name]}`])) as Record<ParticipantName, string>
  // Each participant also knows where the others are (the tour catalog tells waiting customers through notification).
  const peers = Object.fromEntries(PARTICIPANT_NAMES.map((name) => [SERVICES[name].urlEnv, urls[name]]))
  const services = new Map<ParticipantName, RunningService>()
  const stopped = new Set<RunningService>()
  const crashes: { name: ParticipantName; code: number | null; output: string }[] = []
  const start = async (name: ParticipantName) => {
    if (services.has(name)) return
    const service = await spawnService(name, { ...peers, LOG_LEVEL: 'warn', ...env, [SERVICES[name].portEnv]: String(ports[name]) })
    void service.exited.then((code) => {
      if (!stopped.has(service)) crashes.push({ name, code, output: service.output().slice(-4_000) })
    })
    services.set(name, service)
  }
  await Promise.all(PARTICIPANT_NAMES.map(start))
  return {
    urls,
    start,
    async stop(name) {
      const service = services.get(name)
      if (service) stopped.add(service)
      await service?.stop('SIGTERM')
      services.delete(name)
    },
    unexpectedExits: () => [...crashes],
  }
}

/**
 * The set-up every fleet suite shares: the six participants started once for the file, a
 * Prisma client on the test database, and both torn down (with every process) after it.
 */
export function useParticipantFleet(): { db: PrismaClient; fleet: () => ParticipantFleet } {
  const db = createDatabase()
  let fleet: ParticipantFleet | undefined
  beforeAll(async () => {
    fleet = await startParticipants()
  }, 60_000)
  afterAll(async () => {
    await stopAll()
    await db.$disconnect()
  })
  return { db, fleet: () => fleet! }
}

export interface OrchestratorOptions {
  /** Default: a free port. Give the old one to restart "the same" orchestrator. */
  port?: number
  /** Extra environment, e.g. SAGA_RECOVERY_INTERVAL_MS=0. */
  env?: NodeJS.ProcessEnv
}

/** Environment of an orchestrator or CLI process working with `fleet`. */
export function orchestratorEnv(fleet: ParticipantFleet, env: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const urls = Object.fromEntries(PARTICIPANT_NAMES.map((name) => [SERVICES[name].urlEnv, fleet.urls[name]]))
  return {
    ...urls,
    API_TOKENS,
    RATE_LIMIT_MAX: '0',
    SAGA_LEASE_TTL_MS: String(LEASE_TTL_MS),
    SAGA_RECOVERY_INTERVAL_MS: String(RECOVERY_INTERVAL_MS),
    ...env,
  }
}

export async function spawnOrchestrator(fleet: ParticipantFleet, options: OrchestratorOptions = {}): Promise<RunningService> {
  const port = options.port ?? await freePort()
  return spawnService('orchestrator', orchestratorEnv(fleet, { ORCHESTRATOR_PORT: String(port), ...options.env }))
}

/** One test's data: user ids and keys with a prefix no other run uses. */
export function newRun(label: string) {
  const prefix = `${label}-${randomUUID().slice(0, 8)}-`
  return { prefix, userId: (i: number | string) => `${prefix}user-${i}`, key: (i: number | string) => `${prefix}key-${i}` }
}

export interface TourSpec {
  capacity: number
  price: number
}

/** Creates tours through the tour-catalog process, as an operator of the catalog would. */
export async function createTours(fleet: ParticipantFleet, specs: TourSpec[]): Promise<{ tourId: string; capacity: number; price: number }[]> {
  return Promise.all(specs.map(async (spec, index) => {
    const response = await fetch(`${fleet.urls['tour-catalog']}/api/tours`, {
      method: 'POST',
      headers: { ...PARTICIPANT_HEADERS, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
      body: JSON.stringify({
        name: `Crash-test tour ${index + 1}`, date: '2031-09-01', capacity: spec.capacity, price: spec.price,
        currency: 'EUR', cancellationPolicy: { minDays: 7, feePercent: 10 },
      }),
      signal: AbortSignal.timeout(10_000),
    })
    if (response.status !== 201) throw new Error(`POST /api/tours answered ${response.status}: ${await response.text()}`)
    const tour = (await response.json()) as { tourId: string }
    return { tourId: tour.tourId, ...spec }
  }))
}

export interface BookingRequest {
  key: string
  body: { tourId: string; userId: string; numberOfSpots: number; paymentMethod: string }
}

export interface Answer {
  status: number
  body: { sagaId?: string; status?: string; error?: { code: string } } & Record<string, unknown>
  /** Requests that failed at the network level before this answer (each retried with the same key). */
  lostRequests: number
  /** Orchestrator that answered. */
  url: string
}

/**
 * POSTs a booking; a request that fails at the network level (connection refused or reset,
 * no answer in time) is sent again with the SAME Idempotency-Key and body, to `target()`
 * (which may name another orchestrator by then), until one answers or `deadline` passes.
 */
export async function bookUntilAnswered(target: (attempt: number) => string, request: BookingRequest, options: { waitMs?: number; deadline: number }): Promise<Answer> {
  for (let attempt = 0; ; attempt++) {
    const url = target(attempt)
    try {
      const response = await fetch(`${url}/api/orchestrator/bookings?wait=${options.waitMs ?? 5_000}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKENS.client}`, 'idempotency-key': request.key },
        body: JSON.stringify(request.body),
        signal: AbortSignal.timeout((options.waitMs ?? 5_000) + 15_000),
      })
      return { status: response.status, body: (await response.json()) as Answer['body'], lostRequests: attempt, url }
    } catch (error) {
      if (Date.now() > options.deadline) throw new Error(`no answer for ${request.key} after ${attempt + 1} attempts: ${(error as Error).message}`)
      await sleep(100 + Math.random() * 150)
    }
  }
}

/** Runs `work` over `items` with at most `concurrency` at a time; results in item order. */
export async function inPool<T, R>(items: T[], concurrency: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const index = next++
      results[index] = await work(items[index]!, index)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return results
}

/** Sagas of a run, by the prefix of their users' ids. */
export function sagasOfRun(db: PrismaClient, prefix: string) {
  return db.saga.findMany({ where: { userId: { startsWith: prefix } }, orderBy: { createdAt: 'asc' } })
}

/** How many sagas of a run still move (RUNNING or COMPENSATING). */
export async function unsettledCount(db: PrismaClient, prefix: string): Promise<number> {
  return db.saga.count({ where: { userId: { startsWith: prefix }, status: { in: ['RUNNING', 'COMPENSATING'] } } })
}

export interface InvariantReport {
  violations: string[]
  completed: number
  failed: number
  /** Sagas taken over at least once (lease epoch > 1). */
  takenOver: number
  /** FAILED sagas by error code, e.g. { PAYMENT_DECLINED: 19, INSUFFICIENT_SPOTS: 40 }. */
  failures: Record<string, number>
}

/**
 * Checks what must hold once every saga of a run settled, from the participants' own tables:
 * - every saga is COMPLETED or FAILED, and there is exactly one per Idempotency-Key;
 * - a COMPLETED saga has a CONFIRMED booking, a RESERVED reservation and exactly one payment, not refunded;
 * - a FAILED saga left no RESERVED reservation, no PENDING booking and no unrefunded charge;
 * - no effect exists without a completed saga behind it (no stray reservation, booking or charge);
 * - each booking has at most one charge net of refunds;
 * - every tour's available spots plus the spots of its CONFIRMED bookings equal its capacity.
 */
export async function checkInvariants(db: PrismaClient, run: { prefix: string; keys: string[]; tours: { tourId: string; capacity: number }[] }): Promise<InvariantReport> {
  const violations: string[] = []
  const tourIds = run.tours.map((t) => t.tourId)
  const [sagas, bookings, reservations, payments, tours] = await Promise.all([
    sagasOfRun(db, run.prefix),
    db.booking.findMany({ where: { userId: { startsWith: run.prefix } } }),
    db.tourReservation.findMany({ where: { tourId: { in: tourIds } } }),
    db.payment.findMany({ where: { userId: { startsWith: run.prefix } } }),
    db.tour.findMany({ where: { id: { in: tourIds } } }),
  ])

  // Exactly one saga per Idempotency-Key (the start key is "<caller>:<key>").
  const perKey = new Map<string, number>()
  for (const saga of sagas) {
    const key = saga.startKey?.split(':').slice(2).join(':') ?? '(none)'
    perKey.set(key, (perKey.get(key) ?? 0) + 1)
  }
  for (const key of run.keys) if (perKey.get(key) !== 1) violations.push(`key ${key}: ${perKey.get(key) ?? 0} sagas`)
  if (sagas.length !== run.keys.length) violations.push(`${sagas.length} sagas for ${run.keys.length} keys`)

  const bookingByReservation = new Map(bookings.map((b) => [b.reservationId, b]))
  const reservationById = new Map(reservations.map((r) => [r.id, r]))
  const paymentsByBooking = new Map<string, typeof payments>()
  for (const payment of payments) {
    const list = paymentsByBooking.get(payment.bookingId ?? '(none)') ?? []
    list.push(payment)
    paymentsByBooking.set(payment.bookingId ?? '(none)', list)
  }
  const net = (list: typeof payments = []) => list.filter((p) => p.amountMinor - p.refundedMinor > 0)

  const completedReservations = new Set<string>()
  const completedBookings = new Set<string>()
  for (const saga of sagas) {
    const reservation = saga.reservationId ? reservationById.get(saga.reservationId) : undefined
    const booking = saga.reservationId ? bookingByReservation.get(saga.reservationId) : undefined
    const charges = booking ? paymentsByBooking.get(booking.id) ?? [] : []
    if (saga.status === 'COMPLETED') {
      if (reservation?.status !== 'RESERVED') violations.push(`COMPLETED saga ${saga.id}: reservation is ${reservation?.status ?? 'missing'}`)
      if (booking?.status !== 'CONFIRMED') violations.push(`COMPLETED saga ${saga.id}: booking is ${booking?.status ?? 'missing'}`)
      if (charges.length !== 1 || net(charges).length !== 1) violations.push(`COMPLETED saga ${saga.id}: ${charges.length} payments, ${net(charges).length} not refunded`)
      if (saga.reservationId) completedReservations.add(saga.reservationId)
      if (booking) completedBookings.add(booking.id)
    } else if (saga.status === 'FAILED') {
      if (reservation?.status === 'RESERVED') violations.push(`FAILED saga ${saga.id}: reservation ${reservation.id} still RESERVED`)
      if (booking?.status === 'PENDING') violations.push(`FAILED saga ${saga.id}: booking ${booking.id} still PENDING`)
      if (net(charges).length) violations.push(`FAILED saga ${saga.id}: ${net(charges).length} unrefunded charge(s)`)
    } else {
      violations.push(`saga ${saga.id} is ${saga.status} (${saga.state})`)
    }
  }

  // Nothing done behind the sagas' backs: every live effect belongs to a completed saga.
  for (const reservation of reservations) {
    if (reservation.status === 'RESERVED' && !completedReservations.has(reservation.id)) violations.push(`reservation ${reservation.id} RESERVED without a completed saga`)
  }
  for (const booking of bookings) {
    if (booking.status === 'PENDING') violations.push(`booking ${booking.id} left PENDING`)
    if (booking.status === 'CONFIRMED' && !completedBookings.has(booking.id)) violations.push(`booking ${booking.id} CONFIRMED without a completed saga`)
  }
  for (const [bookingId, list] of paymentsByBooking) {
    if (net(list).length > 1) violations.push(`booking ${bookingId}: ${net(list).length} charges net of refunds`)
    if (net(list).length && !completedBookings.has(bookingId)) violations.push(`booking ${bookingId}: charged without a completed saga`)
  }

  for (const tour of tours) {
    const confirmedSpots = bookings.filter((b) => b.tourId === tour.id && b.status === 'CONFIRMED').reduce((sum, b) => sum + b.numberOfSpots, 0)
    if (tour.availableSpots + confirmedSpots !== tour.capacity) {
      violations.push(`tour ${tour.id}: ${tour.availableSpots} available + ${confirmedSpots} confirmed != capacity ${tour.capacity}`)
    }
  }
  if (tours.length !== run.tours.length) violations.push(`${tours.length} of ${run.tours.length} tours found`)

  return {
    violations,
    completed: sagas.filter((s) => s.status === 'COMPLETED').length,
    failed: sagas.filter((s) => s.status === 'FAILED').length,
    takenOver: sagas.filter((s) => s.leaseEpoch > 1).length,
    failures: sagas.filter((s) => s.status === 'FAILED').reduce<Record<string, number>>((counts, s) => {
      const code = (s.error as { code?: string } | null)?.code ?? 'unknown'
      counts[code] = (counts[code] ?? 0) + 1
      return counts
    }, {}),
  }
}

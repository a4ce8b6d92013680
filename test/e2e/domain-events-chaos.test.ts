import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDatabase } from '../../platform/database.ts'
import { DOMAIN_EVENTS_STREAM, fieldsOf, parseDomainEvent } from '../../platform/events/domain-event.ts'
import { createRedis, type Redis } from '../../platform/redis.ts'
import { SERVICE_AUTHORIZATION } from '../support/participant-harness.ts'
import { freePort, type RunningService, spawnService, stopAll } from '../support/processes.ts'
import { type RedisServer, startRedisServer } from '../support/redis-server.ts'
import { bookUntilAnswered, createTours, newRun, orchestratorEnv, type ParticipantFleet, spawnOrchestrator, startParticipants, TOKENS } from './support/booking-fleet.ts'

// Domain events under the two failures the outbox is for, with every service a real process
// on a Redis of this file's own (durable: an outage is the server gone, not its data): the
// orchestrator killed -9 between a saga's commit and the publication of its facts (and again
// between XADD and the commit that marks them published), and Redis down for 30 s while
// bookings and cancellations go on. No event may be lost; the duplicates a crash re-publishes
// are dropped by eventId (the analytics figures count each booking once).

const db = createDatabase()
let redisServer: RedisServer
let redis: Redis
let fleet: ParticipantFleet

beforeAll(async () => {
  redisServer = await startRedisServer({ durable: true })
  redis = createRedis({ url: redisServer.url })
  redis.on('error', () => {})
  if (redis.status !== 'ready') await once(redis, 'ready')
  fleet = await startParticipants({ REDIS_URL: redisServer.url, EVENT_CLAIM_IDLE_MS: '1000', EVENT_RELAY_POLL_MS: '200' })
}, 90_000)
afterAll(async () => {
  await stopAll()
  redis?.disconnect()
  await redisServer?.close()
  await db.$disconnect()
})

const env = (extra: NodeJS.ProcessEnv = {}) => ({ REDIS_URL: redisServer.url, EVENT_RELAY_POLL_MS: '200', LOG_LEVEL: 'warn', ...extra })

/** How many times each eventId is in events:domain. */
async function streamCounts(): Promise<Map<string, number>> {
  const counts = new Map<string, number>()
  for (const [, flat] of await redis.xrange(DOMAIN_EVENTS_STREAM, '-', '+')) {
    const event = parseDomainEvent(fieldsOf(flat).get('event'))
    if (event) counts.set(event.eventId, (counts.get(event.eventId) ?? 0) + 1)
  }
  return counts
}

/** The run's facts still waiting in any outbox (a relay deletes what it published): eventId and type. */
async function outboxOf(sagaIds: string[]) {
  const schemas = ['orchestrator', 'tour_catalog', 'booking', 'payment', 'notification', 'hotel', 'loyalty', 'analytics']
  const rows = await Promise.all(schemas.map((schema) => db.$queryRawUnsafe<{ event_id: string; event_type: string }[]>(
    `SELECT event_id::text, event_type FROM "${schema}"."outbox" WHERE correlation_id = ANY($1::text[])`, sagaIds)))
  return rows.flat()
}

/** The types of the run's facts in events:domain, once each, sorted. */
async function publishedTypes(sagaIds: string[]): Promise<string[]> {
  const wanted = new Set(sagaIds)
  const byId = new Map<string, string>()
  for (const [, flat] of await redis.xrange(DOMAIN_EVENTS_STREAM, '-', '+')) {
    const event = parseDomainEvent(fieldsOf(flat).get('event'))
    if (event && wanted.has(event.correlationId)) byId.set(event.eventId, event.eventType)
  }
  return [...byId.values()].sort()
}

async function analytics(tourId: string) {
  const response = await fetch(`${fleet.urls.analytics}/api/analytics/tours/${tourId}`, { headers: { authorization: SERVICE_AUTHORIZATION }, signal: AbortSignal.timeout(5_000) })
  return response.json() as Promise<{ bookings: number; cancellations: number }>
}

async function book(orchestrator: () => string, run: ReturnType<typeof newRun>, tourId: string, i: number) {
  const answer = await bookUntilAnswered(orchestrator, { key: run.key(i), body: { tourId, userId: run.userId(i), numberOfSpots: 1, paymentMethod: 'pm_card_visa' } }, { deadline: Date.now() + 60_000 })
  expect(answer.status, JSON.stringify(answer.body)).toBe(201)
  return { sagaId: answer.body.sagaId!, bookingId: answer.body.bookingId as string, userId: run.userId(i) }
}

async function cancel(orchestrator: string, booking: { bookingId: string; userId: string }) {
  const response = await fetch(`${orchestrator}/api/orchestrator/bookings/${booking.bookingId}/cancellation?wait=10000`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKENS.client}`, 'idempotency-key': randomUUID() },
    body: JSON.stringify({ userId: booking.userId, reason: 'chaos' }),
    signal: AbortSignal.timeout(30_000),
  })
  const body = await response.json() as { sagaId: string }
  expect(response.status, JSON.stringify(body)).toBe(201)
  return body.sagaId
}

describe('domain events through crashes and a Redis outage', () => {
  it('loses no event when the orchestrator is killed -9 between commit and publish, and drops the re-published duplicates by eventId', async () => {
    const run = newRun('outbox-kill')
    const [tour] = await createTours(fleet, [{ capacity: 20, price: 30 }])
    const port = await freePort()

    // 1. The sagas commit, with their facts in the outbox, while this orchestrator cannot reach
    //    Redis (a closed port); then it is killed -9: nothing was published.
    const unreachable = `redis://127.0.0.1:${await freePort()}`
    let orchestrator: RunningService = await spawnOrchestrator(fleet, { port, env: env({ REDIS_URL: unreachable }) })
    const bookings = []
    for (let i = 0; i < 3; i++) bookings.push(await book(() => orchestrator.url, run, tour!.tourId, i))
    const sagaIds = bookings.map((b) => b.sagaId)
    const confirmed = (await outboxOf(sagaIds)).filter((row) => row.event_type === 'booking.confirmed')
    expect(confirmed).toHaveLength(3)
    await orchestrator.stop('SIGKILL')
    expect([...(await streamCounts()).keys()].filter((id) => confirmed.some((row) => row.event_id === id))).toEqual([])

    // 2. The next one publishes them and dies (exit 75) after XADD, before marking them published.
    const faulty = await spawnService('orchestrator', orchestratorEnv(fleet, { ORCHESTRATOR_PORT: String(port), ...env({ EVENT_RELAY_FAULT: 'exit-after-publish' }) }))
      .then((service) => service.exited, (error: Error) => error.message)
    // It died either way: before /health answered (its relay runs from ready) or after.
    expect(faulty === 75 || /exited before answering/.test(String(faulty)), String(faulty)).toBe(true)
    const afterCrash = await streamCounts()
    expect(confirmed.map((row) => afterCrash.get(row.event_id))).toEqual([1, 1, 1])
    // Its delete rolled back with the transaction: the rows wait to go out again.
    expect((await outboxOf(sagaIds)).filter((row) => row.event_type === 'booking.confirmed')).toHaveLength(3)

    // 3. A healthy orchestrator publishes them again: each is in the stream twice now, and
    //    counted once.
    orchestrator = await spawnOrchestrator(fleet, { port, env: env() })
    await expect.poll(async () => (await outboxOf(sagaIds)).filter((row) => row.event_type === 'booking.confirmed').length, { timeout: 20_000, interval: 200 }).toBe(0)
    const final = await streamCounts()
    expect(confirmed.map((row) => final.get(row.event_id))).toEqual([2, 2, 2])
    await expect.poll(() => analytics(tour!.tourId), { timeout: 20_000, interval: 250 }).toMatchObject({ bookings: 3, cancellations: 0 })
    await sleep(1_500)
    expect(await analytics(tour!.tourId)).toMatchObject({ bookings: 3 })
    // Every fact of these sagas, the participants' too, is out, and none waits any more.
    await expect.poll(() => outboxOf(sagaIds), { timeout: 10_000, interval: 200 }).toEqual([])
    expect(await publishedTypes(sagaIds)).toEqual([...Array(3).fill('booking.confirmed'), ...Array(3).fill('loyalty.points.earned')])
    await orchestrator.stop()
  })

  it('loses no event while Redis is down for 30 s, and catches up once it is back', async () => {
    const run = newRun('redis-outage')
    const [tour] = await createTours(fleet, [{ capacity: 40, price: 25 }])
    const orchestrator = await spawnOrchestrator(fleet, { env: env() })
    const before = [await book(() => orchestrator.url, run, tour!.tourId, 0), await book(() => orchestrator.url, run, tour!.tourId, 1)]
    await expect.poll(() => analytics(tour!.tourId), { timeout: 20_000, interval: 250 }).toMatchObject({ bookings: 2 })

    await redisServer.stop()
    const downAt = Date.now()
    // Business goes on without Redis: bookings and cancellations complete, their facts wait.
    const during = []
    for (let i = 2; i < 6; i++) during.push(await book(() => orchestrator.url, run, tour!.tourId, i))
    const cancellations = [await cancel(orchestrator.url, before[0]!), await cancel(orchestrator.url, during[0]!)]
    const sagaIds = [...before, ...during].map((b) => b.sagaId).concat(cancellations)
    const waiting = await outboxOf(sagaIds)
    // Per booking booking.confirmed and loyalty.points.earned; per cancellation booking.canceled,
    // refund.processed and tour.availability.restored.
    expect(waiting.length).toBe(4 * 2 + 2 * 3)
    await sleep(Math.max(0, 30_000 - (Date.now() - downAt)))
    await redisServer.start()

    await expect.poll(async () => (await outboxOf(sagaIds)).length, { timeout: 30_000, interval: 250 }).toBe(0)
    await expect.poll(() => analytics(tour!.tourId), { timeout: 30_000, interval: 250 }).toMatchObject({ bookings: 6, cancellations: 2 })
    const counts = await streamCounts()
    expect(waiting.filter((row) => !counts.has(row.event_id)).map((row) => row.event_type)).toEqual([])
    expect(waiting.filter((row) => row.event_type === 'booking.canceled')).toHaveLength(2)
    await sleep(1_500)
    expect(await analytics(tour!.tourId)).toMatchObject({ bookings: 6, cancellations: 2 })
    await orchestrator.stop()
  })
})

import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DOMAIN_EVENTS_STREAM, type DomainEvent, fieldsOf, parseDomainEvent } from '../platform/events/domain-event.ts'
import { EventConsumers } from '../platform/events/event-consumer.ts'
import { createLogger } from '../platform/logger.ts'
import { command, isoDateInDays, read } from './support/participant-harness.ts'
import { startSystem, TOKENS, type TestSystem } from './support/system.ts'

// The domain events of the whole system, in this process over real HTTP, Postgres and Redis:
// what a booking and its cancellation publish, what the analytics service makes of it, the
// waiting list told once when spots come back, and a consumer added afterwards that gets
// every event from the start of the stream without any producer changing.

let system: TestSystem

beforeAll(async () => {
  system = await startSystem()
})
afterAll(async () => {
  await system?.close()
})

const CANCELED_FIELDS = ['bookingId', 'tourId', 'userId', 'originalBookingDate', 'participants', 'totalPrice', 'currency', 'canceledAt',
  'cancellationReason', 'refundAmount', 'refundStatus', 'daysBeforeTour', 'cancellationFee'].sort()

async function createTour(options: { capacity?: number; price?: number } = {}) {
  const response = await command(system.participant('tour-catalog'), 'POST', '/api/tours', {
    name: 'Glacier walk', date: isoDateInDays(40), capacity: options.capacity ?? 10, price: options.price ?? 80, currency: 'EUR',
    cancellationPolicy: { minDays: 7, feePercent: 10 },
  })
  expect(response.statusCode).toBe(201)
  return (response.json() as { tourId: string }).tourId
}

async function book(tourId: string, spots: number, userId = `user-${randomUUID().slice(0, 8)}`) {
  const response = await system.orchestrator.inject({
    method: 'POST', url: '/api/orchestrator/bookings', headers: { authorization: TOKENS.client, 'idempotency-key': randomUUID() },
    payload: { tourId, userId, numberOfSpots: spots, paymentMethod: 'pm_card_visa' },
  })
  expect(response.statusCode, response.body).toBe(201)
  return { userId, ...(response.json() as { sagaId: string; bookingId: string }) }
}

async function cancel(booking: { bookingId: string; userId: string }, reason?: string) {
  const response = await system.orchestrator.inject({
    method: 'POST', url: `/api/orchestrator/bookings/${booking.bookingId}/cancellation`,
    headers: { authorization: TOKENS.client, 'idempotency-key': randomUUID() },
    payload: { userId: booking.userId, ...(reason ? { reason } : {}) },
  })
  expect(response.statusCode, response.body).toBe(201)
  return response.json() as { sagaId: string; refundAmount: number }
}

/** Every event in events:domain (the newest 20,000 entries), in stream order. */
async function streamEvents(): Promise<DomainEvent[]> {
  const entries = await system.redis.xrevrange(DOMAIN_EVENTS_STREAM, '+', '-', 'COUNT', 20_000)
  return entries.reverse().flatMap(([, flat]) => parseDomainEvent(fieldsOf(flat).get('event')) ?? [])
}

async function figures(tourId: string) {
  return (await read(system.participant('analytics'), `/api/analytics/tours/${tourId}`)).json() as Record<string, unknown>
}

describe('domain events', () => {
  it('publishes one booking.canceled per cancellation with the contract\'s fields, and the analytics figures follow', async () => {
    const tourId = await createTour({ price: 80 })
    const first = await book(tourId, 2)
    const second = await book(tourId, 2)
    const reason = `plans changed ${randomUUID().slice(0, 8)}`
    const cancellation = await cancel(first, reason)
    expect(cancellation.refundAmount).toBe(144)

    await expect.poll(() => figures(tourId), { timeout: 20_000, interval: 200 }).toEqual({
      tourId, bookings: 2, cancellations: 1, cancellationRate: 0.5, revenue: 320, refunded: 144, currency: 'EUR',
    })

    // The analytics warning is published by the analytics service's relay just after the
    // consumer's commit that changed the figures: wait for the cancellation's facts to be out.
    const ofCancellation = async () => (await streamEvents()).filter((e) => e.correlationId === cancellation.sagaId).map((e) => e.eventType).sort()
    await expect.poll(ofCancellation, { timeout: 10_000, interval: 100 })
      .toEqual(['analytics.high.cancellation.rate', 'booking.canceled', 'refund.processed', 'tour.availability.restored'])
    const events = await streamEvents()
    const canceled = events.filter((e) => e.eventType === 'booking.canceled' && e.correlationId === cancellation.sagaId)
    expect(canceled).toHaveLength(1)
    const [event] = canceled
    expect(event).toMatchObject({ eventVersion: 1, correlationId: cancellation.sagaId })
    expect(event!.eventId).toMatch(/^[0-9a-f-]{36}$/)
    expect(Date.parse(event!.timestamp)).not.toBeNaN()
    expect(Object.keys(event!.data).sort()).toEqual(CANCELED_FIELDS)
    expect(event!.data).toMatchObject({
      bookingId: first.bookingId, tourId, userId: first.userId, participants: 2, totalPrice: 160, currency: 'EUR',
      cancellationReason: reason, refundAmount: 144, refundStatus: 'PARTIALLY_REFUNDED', daysBeforeTour: 40, cancellationFee: 16,
    })
    // The booking sagas' facts, and the facts the cancellation made true elsewhere, correlated
    // with their sagas (one cancellation in two passes 30 %: analytics flags the tour).
    for (const booking of [first, second]) {
      expect(events.filter((e) => e.eventType === 'booking.confirmed' && e.correlationId === booking.sagaId), booking.sagaId).toHaveLength(1)
      expect(events.filter((e) => e.eventType === 'loyalty.points.earned' && e.correlationId === booking.sagaId)).toHaveLength(1)
    }
    expect(events.find((e) => e.eventType === 'tour.availability.restored' && e.correlationId === cancellation.sagaId)!.data)
      .toMatchObject({ tourId, freedSpots: 2, availableSpots: 8 })

    const byReason = await read(system.participant('analytics'), `/api/analytics/cancellations?reason=${encodeURIComponent(reason)}`)
    expect(byReason.json()).toEqual({ reason, count: 1 })

    // Support staff read the same figures through the orchestrator; clients may not.
    const staff = await system.orchestrator.inject({ method: 'GET', url: `/api/orchestrator/analytics/tours/${tourId}`, headers: { authorization: TOKENS.support } })
    expect(staff.statusCode).toBe(200)
    expect(staff.json()).toMatchObject({ tourId, bookings: 2, cancellations: 1, cancellationRate: 0.5 })
    const client = await system.orchestrator.inject({ method: 'GET', url: `/api/orchestrator/analytics/tours/${tourId}`, headers: { authorization: TOKENS.client } })
    expect(client.statusCode).toBe(403)
  })

  it('flags a tour once when its cancellation rate passes 30 %', async () => {
    const tourId = await createTour()
    const bookings = [await book(tourId, 1), await book(tourId, 1)]
    await cancel(bookings[0]!)
    await cancel(bookings[1]!)
    await expect.poll(() => figures(tourId), { timeout: 20_000, interval: 200 }).toMatchObject({ bookings: 2, cancellations: 2, cancellationRate: 1 })
    await expect.poll(async () => (await streamEvents()).filter((e) => e.eventType === 'analytics.high.cancellation.rate' && e.data.tourId === tourId), { timeout: 10_000, interval: 200 })
      .toHaveLength(1)
    const [flag] = (await streamEvents()).filter((e) => e.eventType === 'analytics.high.cancellation.rate' && e.data.tourId === tourId)
    expect(flag!.data).toEqual({ tourId, bookings: 2, cancellations: 1, cancellationRate: 0.5, threshold: 0.3 })
  })

  it('tells each waiting customer once when freed spots fit what they asked for', async () => {
    const tourId = await createTour({ capacity: 3 })
    const full = await book(tourId, 3)
    const waiting = (userId: string, spots: number) => command(system.participant('tour-catalog'), 'POST', `/api/tours/${tourId}/waiting-list`, { userId, spots })
    const [few, many, more] = [`wait-${randomUUID().slice(0, 8)}`, `wait-${randomUUID().slice(0, 8)}`, `wait-${randomUUID().slice(0, 8)}`]
    const joined = await waiting(few, 1)
    expect(joined.statusCode).toBe(201)
    expect(joined.json()).toMatchObject({ tourId, userId: few, spots: 1, status: 'WAITING' })
    // Joining again is the same entry; more spots than the tour has is refused.
    expect((await waiting(few, 1)).json()).toMatchObject({ entryId: joined.json().entryId })
    expect((await waiting(many, 3)).statusCode).toBe(201)
    expect((await waiting(more, 4)).statusCode).toBe(400)

    const notifications = async (userId: string) => ((await read(system.participant('notification'), `/api/notifications?userId=${userId}`)).json() as { type: string }[])
      .filter((n) => n.type === 'waiting-list-spots-available')
    expect(await notifications(few)).toEqual([])

    const cancellation = await cancel(full)
    await expect.poll(async () => [(await notifications(few)).length, (await notifications(many)).length], { timeout: 20_000, interval: 200 }).toEqual([1, 1])
    // Marked in the consumer's transaction, which commits just after the notification service answered.
    const statuses = async () => ((await read(system.participant('tour-catalog'), `/api/tours/${tourId}/waiting-list`)).json() as { status: string }[]).map((entry) => entry.status)
    await expect.poll(statuses, { timeout: 5_000, interval: 50 }).toEqual(['NOTIFIED', 'NOTIFIED'])

    // The same event delivered again, and another release of the tour: nobody is told twice.
    const restored = (await streamEvents()).find((e) => e.eventType === 'tour.availability.restored' && e.correlationId === cancellation.sagaId)!
    await system.redis.xadd(DOMAIN_EVENTS_STREAM, '*', 'event', JSON.stringify(restored))
    await system.redis.xadd(DOMAIN_EVENTS_STREAM, '*', 'event', JSON.stringify({ ...restored, eventId: randomUUID() }))
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    expect([(await notifications(few)).length, (await notifications(many)).length]).toEqual([1, 1])
  })

  it('shows the relay\'s lag and the consumers\' progress on each service\'s /metrics', async () => {
    const orchestrator = await system.orchestrator.inject({ method: 'GET', url: '/metrics' })
    expect(orchestrator.body).toMatch(/^domain_events_relay_lag_seconds \d/m)
    expect(orchestrator.body).toMatch(/^domain_events_unpublished \d+$/m)
    const payment = await read(system.participant('payment'), '/metrics')
    expect(payment.body).toMatch(/^domain_events_relay_lag_seconds\{service="payment"\} \d/m)
    const analytics = (await read(system.participant('analytics'), '/metrics')).body
    expect(analytics).toMatch(/^domain_event_consumer_lag\{consumer="analytics\.booking-figures",service="analytics"\} \d+$/m)
    expect(analytics).toMatch(/^domain_events_consumed_total\{consumer="analytics\.booking-figures",service="analytics"\} \d+$/m)
  })

  it('gives a consumer added now, with no producer changed, every booking.canceled there ever was', async () => {
    // At least one of our own, so the stream is not empty of them.
    const tourId = await createTour()
    const mine = await cancel(await book(tourId, 1))
    await expect.poll(async () => (await streamEvents()).some((e) => e.eventType === 'booking.canceled' && e.correlationId === mine.sagaId), { timeout: 20_000, interval: 200 }).toBe(true)
    const everyCancellation = new Set((await streamEvents()).filter((e) => e.eventType === 'booking.canceled').map((e) => e.eventId))

    const counted = new Set<string>()
    const lesson = new EventConsumers({
      consumers: [{ name: `lesson.cancellations-${randomUUID().slice(0, 8)}`, eventTypes: ['booking.canceled'], async handle(event) { counted.add(event.eventId) } }],
      db: system.db,
      schema: 'analytics',
      redis: system.redis,
      logger: createLogger({ service: 'test', level: 'silent', format: 'json' }),
    })
    lesson.start()
    try {
      await expect.poll(() => [...everyCancellation].filter((id) => !counted.has(id)).length, { timeout: 30_000, interval: 200 }).toBe(0)
    } finally {
      await lesson.stop()
    }
  })
})

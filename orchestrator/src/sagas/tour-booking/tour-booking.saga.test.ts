import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRedis } from '../../../../platform/redis.ts'
import { command, isoDateInDays } from '../../../../test/support/participant-harness.ts'
import { startSystem, TOKENS, type TestSystem } from '../../../../test/support/system.ts'
import { defineSaga } from '../../engine/saga-definition.ts'
import { SagaRegistry } from '../../engine/saga-registry.ts'
import { tourBookingSaga } from './tour-booking.saga.ts'

// A tour booking saga whose undo gives up quickly, so COMPENSATION_FAILED is reached in a test.
const FAST = { maxAttempts: 4, initialDelayMs: 20, multiplier: 2, maxDelayMs: 100 }
const fastRegistry = () => new SagaRegistry().register(defineSaga({
  ...tourBookingSaga,
  steps: tourBookingSaga.steps.map((step) => ({ ...step, compensationRetry: FAST, ...(step.kind === 'compensatable' ? { retry: FAST } : {}) })),
}))

let system: TestSystem

beforeAll(async () => {
  system = await startSystem({ registry: fastRegistry() })
})
afterAll(async () => {
  await system?.close()
})

async function createTour(system: TestSystem, overrides: Record<string, unknown> = {}) {
  const response = await command(system.participant('tour-catalog'), 'POST', '/api/tours', {
    name: 'Glacier walk', date: isoDateInDays(40), capacity: 10, price: 80, currency: 'EUR',
    cancellationPolicy: { minDays: 7, feePercent: 10 }, ...overrides,
  })
  expect(response.statusCode).toBe(201)
  return response.json() as { tourId: string; availableSpots: number }
}

function book(system: TestSystem, body: Record<string, unknown>, options: { key?: string; wait?: number; token?: string } = {}) {
  return system.orchestrator.inject({
    method: 'POST',
    url: `/api/orchestrator/bookings${options.wait !== undefined ? `?wait=${options.wait}` : ''}`,
    headers: { authorization: options.token ?? TOKENS.client, 'idempotency-key': options.key ?? randomUUID() },
    payload: body,
  })
}

async function sagaOf(system: TestSystem, sagaId: string) {
  const response = await system.orchestrator.inject({ method: 'GET', url: `/api/orchestrator/sagas/${sagaId}`, headers: { authorization: TOKENS.support } })
  expect(response.statusCode).toBe(200)
  return response.json()
}

async function spotsLeft(system: TestSystem, tourId: string): Promise<number> {
  return (await system.participant('tour-catalog').inject({ method: 'GET', url: `/api/tours/${tourId}` })).json().availableSpots
}

async function paymentsFor(system: TestSystem, bookingId: string) {
  return (await system.participant('payment').inject({ method: 'GET', url: `/api/payments?bookingId=${bookingId}` })).json() as { amount: number; status: string }[]
}

async function bookingsOfTour(system: TestSystem, tourId: string) {
  return system.db.booking.findMany({ where: { tourId } })
}

const visa = (tourId: string, overrides: Record<string, unknown> = {}) => ({ tourId, userId: `user-${randomUUID().slice(0, 8)}`, numberOfSpots: 2, paymentMethod: 'pm_card_visa', ...overrides })

describe('tour booking saga', () => {
  it('books a tour: reserves, creates, charges the quote, confirms and notifies', async () => {
    const tour = await createTour(system, { price: 80.25 })
    const body = visa(tour.tourId)
    const response = await book(system, body)
    expect(response.statusCode).toBe(201)
    const result = response.json()
    expect(result).toMatchObject({ status: 'COMPLETED', totalPrice: 160.5, currency: 'EUR', loyaltyPointsAdded: 160 })
    expect(result.bookingId).toBeTypeOf('string')
    expect(result.reservationId).toBeTypeOf('string')
    expect(result.paymentId).toBeTypeOf('string')

    const saga = await sagaOf(system, result.sagaId)
    expect(saga).toMatchObject({ type: 'tour-booking', status: 'COMPLETED', resources: { bookingId: result.bookingId, paymentId: result.paymentId } })
    expect(saga.steps.map((s: { name: string; status: string }) => `${s.name}:${s.status}`)).toEqual([
      'reserveTour:SUCCEEDED', 'createBooking:SUCCEEDED', 'processPayment:SUCCEEDED', 'confirmBooking:SUCCEEDED', 'awardLoyaltyPoints:SUCCEEDED', 'sendNotification:SUCCEEDED',
    ])
    expect(saga.input.paymentMethod).toBe('[Redacted]')

    const bookingView = (await system.participant('booking').inject({ method: 'GET', url: `/api/bookings/${result.bookingId}` })).json()
    expect(bookingView).toMatchObject({ status: 'CONFIRMED', userId: body.userId, numberOfSpots: 2, totalPrice: 160.5 })
    expect(await paymentsFor(system, result.bookingId)).toMatchObject([{ amount: 160.5, status: 'SUCCEEDED' }])
    expect(await spotsLeft(system, tour.tourId)).toBe(8)
    const notifications = (await system.participant('notification').inject({ method: 'GET', url: `/api/notifications?userId=${body.userId}` })).json()
    expect(notifications).toHaveLength(1)
  })

  it('records every transition in the event log and mirrors it to Redis', async () => {
    const tour = await createTour(system)
    const { sagaId } = (await book(system, visa(tour.tourId))).json()
    const events = await system.db.sagaEvent.findMany({ where: { sagaId }, orderBy: { id: 'asc' } })
    expect(events.map((e) => e.type)).toEqual(['SAGA_STARTED', ...Array(6).fill('STEP_SUCCEEDED')])
    expect(events.map((e) => e.version)).toEqual([0, 1, 2, 3, 4, 5, 6])
    const mirrored = JSON.parse((await system.redis.get(`saga:${sagaId}`))!)
    expect(mirrored).toMatchObject({ sagaId, type: 'tour-booking', status: 'COMPLETED', state: 'BOOKING_COMPLETED' })
    expect(await system.redis.ttl(`saga:${sagaId}`)).toBeGreaterThan(86_400)
    const stream = await system.redis.xrevrange('saga:events', '+', '-', 'COUNT', 200)
    const ours = stream.filter(([, fields]) => fields[1] === sagaId)
    expect(ours).toHaveLength(6)
  })

  it('reads an unfinished-looking mirror entry from Postgres, the truth', async () => {
    const tour = await createTour(system)
    const { sagaId } = (await book(system, visa(tour.tourId))).json()
    // As if Redis had missed the last transitions (it was down): the mirror still says RUNNING.
    const stale = { ...JSON.parse((await system.redis.get(`saga:${sagaId}`))!), status: 'RUNNING', state: 'TOUR_RESERVED' }
    await system.redis.set(`saga:${sagaId}`, JSON.stringify(stale), 'EX', 60)
    expect(await sagaOf(system, sagaId)).toMatchObject({ status: 'COMPLETED', state: 'BOOKING_COMPLETED' })
  })

  it('fails with INSUFFICIENT_SPOTS when sold out, and charges nothing', async () => {
    const tour = await createTour(system, { capacity: 1 })
    const response = await book(system, visa(tour.tourId, { numberOfSpots: 2 }))
    expect(response.statusCode).toBe(422)
    expect(response.json()).toMatchObject({ status: 'FAILED', error: { code: 'INSUFFICIENT_SPOTS', step: 'reserveTour' } })
    expect(await bookingsOfTour(system, tour.tourId)).toHaveLength(0)
    expect(await spotsLeft(system, tour.tourId)).toBe(1)
  })

  it('releases the spots and cancels the booking when the card is declined', async () => {
    const tour = await createTour(system)
    const response = await book(system, visa(tour.tourId, { paymentMethod: 'pm_card_chargeDeclined' }))
    expect(response.statusCode).toBe(422)
    const { sagaId, error } = response.json()
    expect(error).toMatchObject({ code: 'PAYMENT_DECLINED', step: 'processPayment' })
    const saga = await sagaOf(system, sagaId)
    expect(saga.status).toBe('FAILED')
    // Undone in reverse order: the booking first, then the spots.
    expect(saga.steps.filter((s: { phase: string }) => s.phase === 'compensation').map((s: { name: string }) => s.name)).toEqual(['createBooking', 'reserveTour'])
    const [booking] = await bookingsOfTour(system, tour.tourId)
    expect(booking!.status).toBe('CANCELLED')
    expect(await paymentsFor(system, booking!.id)).toEqual([])
    expect(await spotsLeft(system, tour.tourId)).toBe(10)
  })

  it('completes when the notification service is down, recording the failure', async () => {
    const downSystem = await startSystem({ down: ['notification'] })
    try {
      const tour = await createTour(downSystem)
      const response = await book(downSystem, visa(tour.tourId))
      expect(response.statusCode).toBe(201)
      const saga = await sagaOf(downSystem, response.json().sagaId)
      expect(saga.status).toBe('COMPLETED')
      expect(saga.steps.at(-1)).toMatchObject({ name: 'sendNotification', status: 'FAILED', attempts: 3, lastError: { code: 'NETWORK_ERROR' } })
    } finally {
      await downSystem.close()
    }
  })

  it('charges once when the payment service answers 500 twice and then succeeds', async () => {
    const tour = await createTour(system)
    const fault = system.inject({ participant: 'payment', method: 'POST', route: '/api/payments', status: 500, times: 2 })
    try {
      const response = await book(system, visa(tour.tourId))
      expect(response.statusCode).toBe(201)
      expect(fault.hits).toBe(2)
      const { bookingId, sagaId } = response.json()
      expect(await paymentsFor(system, bookingId)).toHaveLength(1)
      const saga = await sagaOf(system, sagaId)
      expect(saga.steps.find((s: { name: string }) => s.name === 'processPayment')).toMatchObject({ status: 'SUCCEEDED', attempts: 3 })
    } finally {
      system.clearFaults()
    }
  })

  it('ends FAILED with the spots back when the release fails three times and then succeeds', async () => {
    const tour = await createTour(system)
    const fault = system.inject({ participant: 'tour-catalog', route: '/api/reservations/:reservationId/release', status: 503, times: 3 })
    try {
      const response = await book(system, visa(tour.tourId, { paymentMethod: 'pm_card_chargeDeclined' }))
      expect(response.statusCode).toBe(422)
      expect(response.json().status).toBe('FAILED')
      expect(fault.hits).toBe(3)
      const saga = await sagaOf(system, response.json().sagaId)
      expect(saga.steps.find((s: { name: string; phase: string }) => s.name === 'reserveTour' && s.phase === 'compensation')).toMatchObject({ status: 'SUCCEEDED', attempts: 4 })
      expect(await spotsLeft(system, tour.tourId)).toBe(10)
    } finally {
      system.clearFaults()
    }
  })

  it('parks in COMPENSATION_FAILED, keeping the first error, when the release always fails', async () => {
    const tour = await createTour(system)
    system.inject({ participant: 'tour-catalog', route: '/api/reservations/:reservationId/release', status: 500 })
    try {
      const response = await book(system, visa(tour.tourId, { paymentMethod: 'pm_card_chargeDeclinedInsufficientFunds' }))
      expect(response.statusCode).toBe(422)
      const body = response.json()
      expect(body).toMatchObject({ status: 'COMPENSATION_FAILED', error: { code: 'PAYMENT_DECLINED', step: 'processPayment' } })
      const saga = await sagaOf(system, body.sagaId)
      expect(saga.compensationError).toMatchObject({ step: 'reserveTour', code: 'INJECTED_FAULT' })
      expect(await spotsLeft(system, tour.tourId)).toBe(8)
      const metrics = (await system.orchestrator.inject({ method: 'GET', url: '/metrics' })).body
      expect(metrics).toMatch(/sagas_compensation_failed_total\{saga_type="tour-booking"\} [1-9]/)

      // The operator resumes it once the catalog works again: the spots come back.
      system.clearFaults()
      const retry = await system.orchestrator.inject({ method: 'POST', url: `/api/orchestrator/sagas/${body.sagaId}/retry`, headers: { authorization: TOKENS.operator } })
      expect(retry.statusCode).toBe(202)
      await expect.poll(async () => (await sagaOf(system, body.sagaId)).status, { timeout: 10_000 }).toBe('FAILED')
      expect(await spotsLeft(system, tour.tourId)).toBe(10)
    } finally {
      system.clearFaults()
    }
  })

  it('sells exactly 10 of 50 concurrent one-spot bookings on a 10-spot tour', async () => {
    const tour = await createTour(system, { capacity: 10 })
    const responses = await Promise.all(Array.from({ length: 50 }, () => book(system, visa(tour.tourId, { numberOfSpots: 1 }), { wait: 30_000 })))
    const bodies = responses.map((r) => r.json())
    expect(bodies.filter((b) => b.status === 'COMPLETED')).toHaveLength(10)
    const failed = bodies.filter((b) => b.status === 'FAILED')
    expect(failed).toHaveLength(40)
    expect(failed.every((b) => b.error.code === 'INSUFFICIENT_SPOTS')).toBe(true)
    expect(await spotsLeft(system, tour.tourId)).toBe(0)
    const bookings = await bookingsOfTour(system, tour.tourId)
    const charges = await system.db.payment.count({ where: { bookingId: { in: bookings.map((b) => b.id) } } })
    expect(charges).toBe(10)
  }, 60_000)

  it('creates one saga for the same request sent 5 times at once with one key', async () => {
    const tour = await createTour(system)
    const body = visa(tour.tourId)
    const key = randomUUID()
    const responses = await Promise.all(Array.from({ length: 5 }, () => book(system, body, { key })))
    const ids = new Set(responses.map((r) => r.json().sagaId))
    expect(ids.size).toBe(1)
    expect(responses.map((r) => r.statusCode)).toEqual([201, 201, 201, 201, 201])
    expect(await system.db.saga.count({ where: { userId: body.userId } })).toBe(1)
    expect(await spotsLeft(system, tour.tourId)).toBe(8)
  })

  it('refuses the same key with a different body with 422 IDEMPOTENCY_KEY_REUSED', async () => {
    const tour = await createTour(system)
    const key = randomUUID()
    const body = visa(tour.tourId)
    expect((await book(system, body, { key })).statusCode).toBe(201)
    const reused = await book(system, { ...body, numberOfSpots: 3 }, { key })
    expect(reused.statusCode).toBe(422)
    expect(reused.json().error.code).toBe('IDEMPOTENCY_KEY_REUSED')
  })

  it('answers 202 with a Location at once with ?wait=0, and the saga completes', async () => {
    const tour = await createTour(system)
    const response = await book(system, visa(tour.tourId), { wait: 0 })
    expect(response.statusCode).toBe(202)
    const { sagaId } = response.json()
    expect(response.headers.location).toBe(`/api/orchestrator/sagas/${sagaId}`)
    await expect.poll(async () => (await sagaOf(system, sagaId)).status, { timeout: 10_000 }).toBe('COMPLETED')
  })

  it('checks auth, the key and the body before creating any saga', async () => {
    const tour = await createTour(system)
    const userId = `user-${randomUUID()}`
    const body = visa(tour.tourId, { userId })
    const noToken = await system.orchestrator.inject({ method: 'POST', url: '/api/orchestrator/bookings', payload: body, headers: { 'idempotency-key': 'k' } })
    expect(noToken.statusCode).toBe(401)
    expect(noToken.json().error.code).toBe('UNAUTHORIZED')
    const wrongRole = await book(system, body, { token: TOKENS.support })
    expect(wrongRole.statusCode).toBe(403)
    const noKey = await system.orchestrator.inject({ method: 'POST', url: '/api/orchestrator/bookings', payload: body, headers: { authorization: TOKENS.client } })
    expect(noKey.statusCode).toBe(400)
    expect(noKey.json().error.code).toBe('IDEMPOTENCY_KEY_REQUIRED')
    const invalid = await book(system, { ...body, numberOfSpots: 51, amount: 1 })
    expect(invalid.statusCode).toBe(400)
    expect(invalid.json().error).toMatchObject({ code: 'VALIDATION_FAILED' })
    expect(invalid.json().error.details.length).toBeGreaterThanOrEqual(2)
    expect(await system.db.saga.count({ where: { userId } })).toBe(0)
    const unknownSaga = await system.orchestrator.inject({ method: 'GET', url: `/api/orchestrator/sagas/${randomUUID()}`, headers: { authorization: TOKENS.support } })
    expect(unknownSaga.statusCode).toBe(404)
    expect(unknownSaga.json().error.code).toBe('SAGA_NOT_FOUND')
  })

  it('completes and serves status from Postgres while Redis is down', async () => {
    const deadRedis = createRedis({ url: 'redis://127.0.0.1:1' })
    const noRedis = await startSystem({ orchestrator: { redis: deadRedis } })
    try {
      const tour = await createTour(noRedis)
      const response = await book(noRedis, visa(tour.tourId))
      expect(response.statusCode).toBe(201)
      expect((await sagaOf(noRedis, response.json().sagaId)).status).toBe('COMPLETED')
    } finally {
      await noRedis.close()
      deadRedis.disconnect()
    }
  })
})

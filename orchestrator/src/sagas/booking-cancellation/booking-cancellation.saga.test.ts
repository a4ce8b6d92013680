import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { command, isoDateInDays } from '../../../../test/support/participant-harness.ts'
import { startSystem, TOKENS, type TestSystem } from '../../../../test/support/system.ts'
import type { RetryPolicy } from '../../engine/retry-policy.ts'
import { defineSaga, type SagaDefinition } from '../../engine/saga-definition.ts'
import { SagaRegistry } from '../../engine/saga-registry.ts'
import { hotelReservationSaga } from '../hotel-reservation/hotel-reservation.saga.ts'
import { tourBookingSaga } from '../tour-booking/tour-booking.saga.ts'
import { bookingCancellationSaga } from './booking-cancellation.saga.ts'

// The standard sagas with the same steps and kinds, only retried faster, so that a step
// failing a few times (or until a fault is lifted) costs milliseconds, not seconds. Steps
// after the pivot keep retrying until they succeed, as in production.
const FAST: RetryPolicy = { maxAttempts: 4, initialDelayMs: 20, multiplier: 2, maxDelayMs: 100 }
function withFastRetries(saga: SagaDefinition<any>): SagaDefinition<any> {
  return defineSaga({
    ...saga,
    steps: saga.steps.map((step) => ({ ...step, retry: { ...FAST, maxAttempts: step.retry.maxAttempts }, compensationRetry: FAST })),
  })
}
const fastRegistry = () => new SagaRegistry()
  .register(withFastRetries(tourBookingSaga))
  .register(withFastRetries(bookingCancellationSaga))
  .register(withFastRetries(hotelReservationSaga))

let system: TestSystem

beforeAll(async () => {
  system = await startSystem({ registry: fastRegistry() })
})
afterAll(async () => {
  await system?.close()
})

interface Step { name: string; phase: string; status: string; attempts: number; lastError?: { code: string } }

const freshUser = () => `user-${randomUUID().slice(0, 8)}`

async function createTour(system: TestSystem, options: { daysAhead?: number; price?: number; capacity?: number; minDays?: number; feePercent?: number } = {}) {
  const response = await command(system.participant('tour-catalog'), 'POST', '/api/tours', {
    name: 'Fjord kayak day',
    date: isoDateInDays(options.daysAhead ?? 30),
    capacity: options.capacity ?? 10,
    price: options.price ?? 80,
    currency: 'EUR',
    cancellationPolicy: { minDays: options.minDays ?? 7, feePercent: options.feePercent ?? 10 },
  })
  expect(response.statusCode).toBe(201)
  return response.json() as { tourId: string }
}

function book(system: TestSystem, body: Record<string, unknown>, options: { wait?: number } = {}) {
  return system.orchestrator.inject({
    method: 'POST',
    url: `/api/orchestrator/bookings${options.wait !== undefined ? `?wait=${options.wait}` : ''}`,
    headers: { authorization: TOKENS.client, 'idempotency-key': randomUUID() },
    payload: body,
  })
}

/** A CONFIRMED booking of `spots` spots, made through the tour booking saga. */
async function confirmedBooking(system: TestSystem, tourId: string, spots = 2) {
  const userId = freshUser()
  const response = await book(system, { tourId, userId, numberOfSpots: spots, paymentMethod: 'pm_card_visa' })
  expect(response.statusCode).toBe(201)
  const result = response.json() as { bookingId: string; paymentId: string; totalPrice: number; loyaltyPointsAdded: number }
  return { userId, ...result }
}

function cancel(system: TestSystem, bookingId: string, body: Record<string, unknown>, options: { key?: string; wait?: number } = {}) {
  return system.orchestrator.inject({
    method: 'POST',
    url: `/api/orchestrator/bookings/${bookingId}/cancellation${options.wait !== undefined ? `?wait=${options.wait}` : ''}`,
    headers: { authorization: TOKENS.client, 'idempotency-key': options.key ?? randomUUID() },
    payload: body,
  })
}

async function sagaOf(system: TestSystem, sagaId: string) {
  const response = await system.orchestrator.inject({ method: 'GET', url: `/api/orchestrator/sagas/${sagaId}`, headers: { authorization: TOKENS.support } })
  expect(response.statusCode).toBe(200)
  return response.json() as { type: string; status: string; state: string; steps: Step[]; resources: Record<string, string>; error?: { code: string; step: string } }
}

function stepOf(saga: { steps: Step[] }, name: string, phase = 'forward'): Step | undefined {
  return saga.steps.find((s) => s.name === name && s.phase === phase)
}

async function bookingOf(system: TestSystem, bookingId: string) {
  const response = await system.participant('booking').inject({ method: 'GET', url: `/api/bookings/${bookingId}` })
  expect(response.statusCode).toBe(200)
  return response.json() as { status: string; refundAmount: number | null }
}

async function paymentOf(system: TestSystem, bookingId: string) {
  const payments = (await system.participant('payment').inject({ method: 'GET', url: `/api/payments?bookingId=${bookingId}` })).json() as
    { paymentId: string; status: string; amount: number; refundedAmount: number }[]
  expect(payments).toHaveLength(1)
  return payments[0]!
}

async function refundsOf(system: TestSystem, paymentId: string) {
  return system.db.refund.findMany({ where: { paymentId } })
}

async function spotsLeft(system: TestSystem, tourId: string): Promise<number> {
  return (await system.participant('tour-catalog').inject({ method: 'GET', url: `/api/tours/${tourId}` })).json().availableSpots
}

async function pointsOf(system: TestSystem, userId: string): Promise<number> {
  const response = await system.participant('loyalty').inject({ method: 'GET', url: `/api/loyalty/accounts/${userId}` })
  expect(response.statusCode).toBe(200)
  return response.json().totalPoints
}

async function notificationTypes(system: TestSystem, userId: string): Promise<string[]> {
  const notifications = (await system.participant('notification').inject({ method: 'GET', url: `/api/notifications?userId=${userId}` })).json()
  return notifications.map((n: { type: string }) => n.type).sort()
}

/** Everything a cancellation may change, to show that a refused one changed none of it. */
async function snapshot(system: TestSystem, booking: { bookingId: string; userId: string }, tourId: string) {
  const payment = await paymentOf(system, booking.bookingId)
  return {
    booking: (await bookingOf(system, booking.bookingId)).status,
    refunded: payment.refundedAmount,
    refunds: (await refundsOf(system, payment.paymentId)).length,
    spots: await spotsLeft(system, tourId),
    points: await pointsOf(system, booking.userId),
    notifications: await notificationTypes(system, booking.userId),
  }
}

describe('booking cancellation saga', () => {
  it('cancels a confirmed booking: refunds by the policy, frees the spots, takes the points back and notifies', async () => {
    const tour = await createTour(system, { daysAhead: 30, price: 80, minDays: 7, feePercent: 10 })
    const booking = await confirmedBooking(system, tour.tourId, 2)
    expect(booking.totalPrice).toBe(160)
    expect(await spotsLeft(system, tour.tourId)).toBe(8)
    expect(await pointsOf(system, booking.userId)).toBe(booking.loyaltyPointsAdded)
    expect(booking.loyaltyPointsAdded).toBeGreaterThan(0)

    const response = await cancel(system, booking.bookingId, { userId: booking.userId, reason: 'change of plans' })
    expect(response.statusCode).toBe(201)
    const result = response.json()
    // 160 minus the 10 % fee.
    expect(result).toMatchObject({ status: 'COMPLETED', state: 'CANCELLATION_COMPLETED', bookingId: booking.bookingId, refundAmount: 144, currency: 'EUR', loyaltyPointsDeducted: booking.loyaltyPointsAdded })

    const saga = await sagaOf(system, result.sagaId)
    expect(saga.type).toBe('booking-cancellation')
    expect(saga.steps.map((s) => `${s.name}:${s.phase}:${s.status}`)).toEqual([
      'cancelBooking:forward:SUCCEEDED', 'refundPayment:forward:SUCCEEDED', 'releaseSpots:forward:SUCCEEDED',
      'deductLoyaltyPoints:forward:SUCCEEDED', 'sendNotification:forward:SUCCEEDED',
    ])
    expect(await bookingOf(system, booking.bookingId)).toMatchObject({ status: 'CANCELLED', refundAmount: 144 })
    const payment = await paymentOf(system, booking.bookingId)
    expect(payment).toMatchObject({ amount: 160, refundedAmount: result.refundAmount, status: 'PARTIALLY_REFUNDED' })
    expect((await refundsOf(system, payment.paymentId)).map((r) => r.amountMinor)).toEqual([14_400])
    expect(await spotsLeft(system, tour.tourId)).toBe(10)
    expect(await pointsOf(system, booking.userId)).toBe(0)
    expect(await notificationTypes(system, booking.userId)).toEqual(['booking-confirmed', 'cancellation-confirmed'])
  })

  describe('refunds by the cancellation policy, at its boundaries', () => {
    it('allows cancelling exactly minDays before the tour, keeping the fee', async () => {
      const tour = await createTour(system, { daysAhead: 7, price: 50, minDays: 7, feePercent: 25 })
      const booking = await confirmedBooking(system, tour.tourId, 3)
      const response = await cancel(system, booking.bookingId, { userId: booking.userId })
      expect(response.statusCode).toBe(201)
      // 150 × (100 − 25) / 100
      expect(response.json().refundAmount).toBe(112.5)
      expect(await paymentOf(system, booking.bookingId)).toMatchObject({ amount: 150, refundedAmount: 112.5 })
      expect(await spotsLeft(system, tour.tourId)).toBe(10)
    })

    it('refuses with CANCELLATION_NOT_ALLOWED one day later (minDays − 1 before), changing nothing', async () => {
      const tour = await createTour(system, { daysAhead: 6, price: 50, minDays: 7, feePercent: 25 })
      const booking = await confirmedBooking(system, tour.tourId, 3)
      const before = await snapshot(system, booking, tour.tourId)
      expect(before).toMatchObject({ booking: 'CONFIRMED', refunded: 0, refunds: 0, spots: 7 })

      const response = await cancel(system, booking.bookingId, { userId: booking.userId })
      expect(response.statusCode).toBe(422)
      expect(response.json()).toMatchObject({ status: 'FAILED', error: { code: 'CANCELLATION_NOT_ALLOWED', step: 'cancelBooking' } })
      expect(await snapshot(system, booking, tour.tourId)).toEqual(before)
      const saga = await sagaOf(system, response.json().sagaId)
      expect(saga.steps.map((s) => `${s.name}:${s.status}`)).toEqual(['cancelBooking:REJECTED'])
    })

    it('refunds everything under a policy without a fee, even on the day of the tour', async () => {
      // Booked before the day (a tour departing today can no longer be booked), cancelled on it.
      const tour = await createTour(system, { daysAhead: 1, price: 45.5, minDays: 0, feePercent: 0 })
      const booking = await confirmedBooking(system, tour.tourId, 2)
      await system.db.booking.update({ where: { id: booking.bookingId }, data: { tourDate: new Date(`${isoDateInDays(0)}T00:00:00Z`) } })
      const response = await cancel(system, booking.bookingId, { userId: booking.userId })
      expect(response.statusCode).toBe(201)
      expect(response.json().refundAmount).toBe(91)
      expect(await paymentOf(system, booking.bookingId)).toMatchObject({ amount: 91, refundedAmount: 91, status: 'REFUNDED' })
    })

    it('refunds nothing under a 100 % fee, yet still frees the spots and takes the points back', async () => {
      const tour = await createTour(system, { price: 30, minDays: 2, feePercent: 100 })
      const booking = await confirmedBooking(system, tour.tourId, 2)
      const response = await cancel(system, booking.bookingId, { userId: booking.userId })
      expect(response.statusCode).toBe(201)
      expect(response.json()).toMatchObject({ refundAmount: 0, loyaltyPointsDeducted: 60 })
      const payment = await paymentOf(system, booking.bookingId)
      expect(payment).toMatchObject({ refundedAmount: 0, status: 'SUCCEEDED' })
      expect(await refundsOf(system, payment.paymentId)).toEqual([])
      expect(await bookingOf(system, booking.bookingId)).toMatchObject({ status: 'CANCELLED', refundAmount: 0 })
      expect(await spotsLeft(system, tour.tourId)).toBe(10)
      expect(await pointsOf(system, booking.userId)).toBe(0)
    })

    it('rounds a refund that falls between cents to the nearest cent', async () => {
      const tour = await createTour(system, { price: 12.35, minDays: 7, feePercent: 10 })
      const booking = await confirmedBooking(system, tour.tourId, 1)
      const response = await cancel(system, booking.bookingId, { userId: booking.userId })
      expect(response.statusCode).toBe(201)
      // 12.35 × 90 % = 11.115 → 11.12, and the payment is refunded by exactly that.
      expect(response.json().refundAmount).toBe(11.12)
      const payment = await paymentOf(system, booking.bookingId)
      expect(payment.refundedAmount).toBe(11.12)
      expect((await refundsOf(system, payment.paymentId)).map((r) => r.amountMinor)).toEqual([1112])
    })
  })

  it('refuses another user with BOOKING_OWNER_MISMATCH, changing nothing; the owner can still cancel', async () => {
    const tour = await createTour(system)
    const booking = await confirmedBooking(system, tour.tourId)
    const before = await snapshot(system, booking, tour.tourId)

    const intruder = await cancel(system, booking.bookingId, { userId: freshUser() })
    expect(intruder.statusCode).toBe(422)
    expect(intruder.json()).toMatchObject({ status: 'FAILED', error: { code: 'BOOKING_OWNER_MISMATCH', step: 'cancelBooking' } })
    expect(await snapshot(system, booking, tour.tourId)).toEqual(before)

    const owner = await cancel(system, booking.bookingId, { userId: booking.userId })
    expect(owner.statusCode).toBe(201)
    expect(owner.json().sagaId).not.toBe(intruder.json().sagaId)
    expect(await bookingOf(system, booking.bookingId)).toMatchObject({ status: 'CANCELLED' })
  })

  it('fails with BOOKING_NOT_FOUND for a booking that does not exist', async () => {
    const response = await cancel(system, randomUUID(), { userId: freshUser() })
    expect(response.statusCode).toBe(422)
    expect(response.json()).toMatchObject({ status: 'FAILED', error: { code: 'BOOKING_NOT_FOUND', step: 'cancelBooking' } })
  })

  it('validates the request before any saga exists', async () => {
    const userId = freshUser()
    const notUuid = await cancel(system, 'not-a-booking', { userId })
    expect(notUuid.statusCode).toBe(400)
    expect(notUuid.json().error.code).toBe('VALIDATION_FAILED')
    const bookingId = randomUUID()
    const noUser = await cancel(system, bookingId, { reason: 'x', refundAmount: 1000 })
    expect(noUser.statusCode).toBe(400)
    expect(noUser.json().error).toMatchObject({ code: 'VALIDATION_FAILED' })
    expect(await system.db.saga.count({ where: { type: 'booking-cancellation', bookingId } })).toBe(0)
  })

  describe('cancelling twice', () => {
    it('answers the same request again (new Idempotency-Key) with the first outcome, never a second refund', async () => {
      const tour = await createTour(system)
      const booking = await confirmedBooking(system, tour.tourId)
      const first = await cancel(system, booking.bookingId, { userId: booking.userId })
      expect(first.statusCode).toBe(201)

      const again = await cancel(system, booking.bookingId, { userId: booking.userId })
      expect(again.statusCode).toBe(201)
      expect(again.json()).toEqual(first.json())
      const payment = await paymentOf(system, booking.bookingId)
      expect(await refundsOf(system, payment.paymentId)).toHaveLength(1)
      expect(payment.refundedAmount).toBe(first.json().refundAmount)
      expect(await system.db.saga.count({ where: { type: 'booking-cancellation', bookingId: booking.bookingId } })).toBe(1)
      expect(await spotsLeft(system, tour.tourId)).toBe(10)
    })

    it('refunds once when 5 cancellations of one booking arrive at once', async () => {
      const tour = await createTour(system)
      const booking = await confirmedBooking(system, tour.tourId)
      const responses = await Promise.all(Array.from({ length: 5 }, () => cancel(system, booking.bookingId, { userId: booking.userId })))
      expect(responses.map((r) => r.statusCode)).toEqual([201, 201, 201, 201, 201])
      expect(new Set(responses.map((r) => r.json().sagaId)).size).toBe(1)
      const payment = await paymentOf(system, booking.bookingId)
      expect(await refundsOf(system, payment.paymentId)).toHaveLength(1)
      expect(payment.refundedAmount).toBe(responses[0]!.json().refundAmount)
      expect(await spotsLeft(system, tour.tourId)).toBe(10)
      expect(await pointsOf(system, booking.userId)).toBe(0)
    })
  })

  it('refuses with 409 BOOKING_SAGA_IN_PROGRESS while the booking saga still runs, and starts nothing', async () => {
    const tour = await createTour(system)
    const userId = freshUser()
    const confirmFault = system.inject({ participant: 'booking', route: '/api/bookings/:bookingId/confirm', status: 503 })
    try {
      const started = await book(system, { tourId: tour.tourId, userId, numberOfSpots: 2, paymentMethod: 'pm_card_visa' }, { wait: 0 })
      expect(started.statusCode).toBe(202)
      const bookingSagaId = started.json().sagaId
      // Paid, but the booking is not confirmed yet: the booking saga keeps retrying the confirm.
      await expect.poll(async () => stepOf(await sagaOf(system, bookingSagaId), 'confirmBooking')?.attempts ?? 0, { timeout: 10_000 }).toBeGreaterThanOrEqual(2)
      const bookingSaga = await sagaOf(system, bookingSagaId)
      expect(bookingSaga.status).toBe('RUNNING')
      const bookingId = bookingSaga.resources.bookingId!

      const refused = await cancel(system, bookingId, { userId })
      expect(refused.statusCode).toBe(409)
      expect(refused.json().error).toMatchObject({ code: 'BOOKING_SAGA_IN_PROGRESS', sagaId: bookingSagaId })
      expect(await system.db.saga.count({ where: { type: 'booking-cancellation', bookingId } })).toBe(0)
      expect(await bookingOf(system, bookingId)).toMatchObject({ status: 'PENDING' })
      expect(await paymentOf(system, bookingId)).toMatchObject({ refundedAmount: 0 })
      expect(await spotsLeft(system, tour.tourId)).toBe(8)

      // Once the booking saga has finished, the same customer can cancel.
      system.clearFaults()
      await expect.poll(async () => (await sagaOf(system, bookingSagaId)).status, { timeout: 10_000 }).toBe('COMPLETED')
      expect(confirmFault.hits).toBeGreaterThanOrEqual(2)
      const accepted = await cancel(system, bookingId, { userId })
      expect(accepted.statusCode).toBe(201)
      expect(await spotsLeft(system, tour.tourId)).toBe(10)
    } finally {
      system.clearFaults()
    }
  })

  describe('after the refund (the pivot), nothing is undone', () => {
    it('keeps retrying a release that fails, showing RUNNING with the step RETRYING, and then completes', async () => {
      const tour = await createTour(system)
      const booking = await confirmedBooking(system, tour.tourId)
      const releaseFault = system.inject({ participant: 'tour-catalog', route: '/api/reservations/:reservationId/release', status: 503 })
      try {
        const started = await cancel(system, booking.bookingId, { userId: booking.userId }, { wait: 0 })
        expect(started.statusCode).toBe(202)
        const { sagaId } = started.json()
        expect(started.headers.location).toBe(`/api/orchestrator/sagas/${sagaId}`)
        await expect.poll(async () => stepOf(await sagaOf(system, sagaId), 'releaseSpots')?.attempts ?? 0, { timeout: 10_000 }).toBeGreaterThanOrEqual(4)

        const working = await sagaOf(system, sagaId)
        expect(working).toMatchObject({ status: 'RUNNING', state: 'PAYMENT_REFUNDED' })
        expect(stepOf(working, 'releaseSpots')).toMatchObject({ status: 'RETRYING', lastError: { code: 'INJECTED_FAULT' } })
        expect(working.steps.filter((s) => s.phase === 'compensation')).toEqual([])
        expect(await bookingOf(system, booking.bookingId)).toMatchObject({ status: 'CANCELLED' })
        expect((await paymentOf(system, booking.bookingId)).refundedAmount).toBe(144)
        expect(await spotsLeft(system, tour.tourId)).toBe(8)

        system.clearFaults()
        await expect.poll(async () => (await sagaOf(system, sagaId)).status, { timeout: 10_000 }).toBe('COMPLETED')
        const done = await sagaOf(system, sagaId)
        expect(stepOf(done, 'releaseSpots')).toMatchObject({ status: 'SUCCEEDED', attempts: releaseFault.hits + 1 })
        expect(await spotsLeft(system, tour.tourId)).toBe(10)
        expect(await bookingOf(system, booking.bookingId)).toMatchObject({ status: 'CANCELLED' })
        expect(await refundsOf(system, (await paymentOf(system, booking.bookingId)).paymentId)).toHaveLength(1)
      } finally {
        system.clearFaults()
      }
    })

    it('retries the loyalty deduction until it succeeds, taking the points back once', async () => {
      const tour = await createTour(system)
      const booking = await confirmedBooking(system, tour.tourId)
      const fault = system.inject({ participant: 'loyalty', route: '/api/loyalty/accounts/:userId/deductions', status: 503, times: 4 })
      try {
        const response = await cancel(system, booking.bookingId, { userId: booking.userId })
        expect(response.statusCode).toBe(201)
        expect(response.json().loyaltyPointsDeducted).toBe(booking.loyaltyPointsAdded)
        expect(fault.hits).toBe(4)
        expect(stepOf(await sagaOf(system, response.json().sagaId), 'deductLoyaltyPoints')).toMatchObject({ status: 'SUCCEEDED', attempts: 5 })
        expect(await pointsOf(system, booking.userId)).toBe(0)
        expect(await system.db.loyaltyTransaction.count({ where: { userId: booking.userId, kind: 'DEDUCT' } })).toBe(1)
      } finally {
        system.clearFaults()
      }
    })

    it('refunds once when the payment service answers 503 twice before refunding', async () => {
      const tour = await createTour(system)
      const booking = await confirmedBooking(system, tour.tourId)
      const fault = system.inject({ participant: 'payment', route: '/api/payments/:paymentId/refunds', status: 503, times: 2 })
      try {
        const response = await cancel(system, booking.bookingId, { userId: booking.userId })
        expect(response.statusCode).toBe(201)
        expect(fault.hits).toBe(2)
        const payment = await paymentOf(system, booking.bookingId)
        expect(await refundsOf(system, payment.paymentId)).toHaveLength(1)
        expect(payment.refundedAmount).toBe(144)
      } finally {
        system.clearFaults()
      }
    })

    it('completes when the notification service is down, recording the failure', async () => {
      const downSystem = await startSystem({ registry: fastRegistry(), down: ['notification'] })
      try {
        const tour = await createTour(downSystem)
        const booking = await confirmedBooking(downSystem, tour.tourId)
        const response = await cancel(downSystem, booking.bookingId, { userId: booking.userId })
        expect(response.statusCode).toBe(201)
        const saga = await sagaOf(downSystem, response.json().sagaId)
        expect(saga.status).toBe('COMPLETED')
        expect(stepOf(saga, 'sendNotification')).toMatchObject({ status: 'FAILED', attempts: 3, lastError: { code: 'NETWORK_ERROR' } })
        expect((await paymentOf(downSystem, booking.bookingId)).refundedAmount).toBe(144)
        expect(await spotsLeft(downSystem, tour.tourId)).toBe(10)
      } finally {
        await downSystem.close()
      }
    })
  })

  it('reinstates the booking when the refund is refused, and the customer can cancel again later', async () => {
    const tour = await createTour(system)
    const booking = await confirmedBooking(system, tour.tourId)
    const before = await snapshot(system, booking, tour.tourId)
    system.inject({
      participant: 'payment', route: '/api/payments/:paymentId/refunds', status: 422, times: 1,
      body: { error: { code: 'REFUND_REFUSED', message: 'the provider refused the refund' } },
    })
    try {
      const response = await cancel(system, booking.bookingId, { userId: booking.userId })
      expect(response.statusCode).toBe(422)
      expect(response.json()).toMatchObject({ status: 'FAILED', error: { code: 'REFUND_REFUSED', step: 'refundPayment' } })
      const saga = await sagaOf(system, response.json().sagaId)
      expect(saga.state).toBe('CANCELLATION_ROLLED_BACK')
      expect(stepOf(saga, 'cancelBooking', 'compensation')).toMatchObject({ status: 'SUCCEEDED' })
      expect(await bookingOf(system, booking.bookingId)).toMatchObject({ status: 'CONFIRMED', refundAmount: null })
      expect(await snapshot(system, booking, tour.tourId)).toEqual(before)
    } finally {
      system.clearFaults()
    }

    // A failed cancellation does not hold the booking: asking again starts a new one.
    const retried = await cancel(system, booking.bookingId, { userId: booking.userId })
    expect(retried.statusCode).toBe(201)
    expect(retried.json().refundAmount).toBe(144)
    const payment = await paymentOf(system, booking.bookingId)
    expect(await refundsOf(system, payment.paymentId)).toHaveLength(1)
    expect(await spotsLeft(system, tour.tourId)).toBe(10)
  })
})

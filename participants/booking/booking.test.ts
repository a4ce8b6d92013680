import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { command, expectRefusedWithoutToken, isoDateInDays, participantHarness, read } from '../../test/support/participant-harness.ts'
import { buildBooking } from './booking.app.ts'

const harness = participantHarness()
// A fixed clock, so that "exactly minDays ahead" cannot slide past midnight mid-test.
const today = new Date()
let app: FastifyInstance

beforeAll(async () => {
  app = await buildBooking({ db: harness.db, redis: harness.redis, now: () => today })
})
afterAll(async () => {
  await app.close()
  await harness.close()
})

function bookingRequest(overrides: Record<string, unknown> = {}) {
  return {
    reservationId: randomUUID(), tourId: randomUUID(), userId: `user-${randomUUID()}`, numberOfSpots: 2,
    totalPrice: 241, currency: 'EUR', tourDate: isoDateInDays(30, today),
    cancellationPolicy: { minDays: 7, feePercent: 10 }, ...overrides,
  }
}

async function createBooking(overrides: Record<string, unknown> = {}) {
  const response = await command(app, 'POST', '/api/bookings', bookingRequest(overrides))
  expect(response.statusCode).toBe(201)
  return response.json()
}

async function confirmedBooking(overrides: Record<string, unknown> = {}) {
  const booking = await createBooking(overrides)
  const response = await command(app, 'POST', `/api/bookings/${booking.bookingId}/confirm`, { paymentId: randomUUID() })
  expect(response.statusCode).toBe(200)
  return response.json()
}

const bookingOf = async (bookingId: string) => (await read(app, `/api/bookings/${bookingId}`)).json()
const cancel = (bookingId: string, body: Record<string, unknown>, key?: string) =>
  command(app, 'POST', `/api/bookings/${bookingId}/cancel`, body, key)

describe('booking', () => {
  it('creates a PENDING booking and reads it back with its agreed terms', async () => {
    const request = bookingRequest({ totalPrice: 120.5, numberOfSpots: 1 })
    const created = await command(app, 'POST', '/api/bookings', request)
    expect(created.statusCode).toBe(201)
    const booking = created.json()
    expect(booking).toEqual({
      bookingId: expect.any(String), status: 'PENDING', userId: request.userId, tourId: request.tourId,
      reservationId: request.reservationId, numberOfSpots: 1, totalPrice: 120.5, currency: 'EUR', paymentId: null,
      tourDate: request.tourDate, cancellationPolicy: { minDays: 7, feePercent: 10 }, refundAmount: null,
      cancellationReason: null, cancelledAt: null, createdAt: expect.any(String), updatedAt: expect.any(String),
    })
    expect(await bookingOf(booking.bookingId)).toEqual(booking)
  })

  it('lists a user\'s bookings', async () => {
    const userId = `user-${randomUUID()}`
    const first = await createBooking({ userId })
    const second = await createBooking({ userId })
    await createBooking()
    const list = await read(app, `/api/bookings?userId=${userId}`)
    expect(list.json().map((b: { bookingId: string }) => b.bookingId).sort()).toEqual([first.bookingId, second.bookingId].sort())
  })

  it('refuses a second booking for the same reservation with BOOKING_ALREADY_EXISTS', async () => {
    const request = bookingRequest()
    expect((await command(app, 'POST', '/api/bookings', request)).statusCode).toBe(201)
    const again = await command(app, 'POST', '/api/bookings', { ...request, userId: 'someone-else' })
    expect(again.statusCode).toBe(409)
    expect(again.json().error.code).toBe('BOOKING_ALREADY_EXISTS')
  })

  it('makes exactly one booking when two creates for the same reservation race under different keys', async () => {
    const request = bookingRequest()
    const responses = await Promise.all([1, 2, 3].map(() => command(app, 'POST', '/api/bookings', request)))
    expect(responses.map((r) => r.statusCode).sort()).toEqual([201, 409, 409])
  })

  it('rejects an invalid booking with VALIDATION_FAILED', async () => {
    const response = await command(app, 'POST', '/api/bookings', bookingRequest({ numberOfSpots: 0, currency: 'eur', tourDate: 'soon' }))
    expect(response.statusCode).toBe(400)
    expect(response.json().error.code).toBe('VALIDATION_FAILED')
    expect(response.json().error.details.length).toBeGreaterThanOrEqual(3)
  })

  it('answers BOOKING_NOT_FOUND for an unknown booking, on reads and on every command', async () => {
    const bookingId = randomUUID()
    const answers = await Promise.all([
      read(app, `/api/bookings/${bookingId}`),
      command(app, 'POST', `/api/bookings/${bookingId}/confirm`, { paymentId: 'pay-1' }),
      cancel(bookingId, { userId: 'anyone' }),
      command(app, 'POST', `/api/bookings/${bookingId}/reinstate`),
    ])
    for (const answer of answers) {
      expect(answer.statusCode).toBe(404)
      expect(answer.json().error.code).toBe('BOOKING_NOT_FOUND')
    }
  })

  describe('confirm', () => {
    it('confirms a pending booking with its payment', async () => {
      const booking = await createBooking()
      const paymentId = randomUUID()
      const response = await command(app, 'POST', `/api/bookings/${booking.bookingId}/confirm`, { paymentId })
      expect(response.statusCode).toBe(200)
      expect(response.json()).toMatchObject({ bookingId: booking.bookingId, status: 'CONFIRMED', paymentId })
      expect(await bookingOf(booking.bookingId)).toMatchObject({ status: 'CONFIRMED', paymentId })
    })

    it('treats confirming again with the same payment as done, and with another payment as a conflict', async () => {
      const booking = await createBooking()
      const paymentId = randomUUID()
      const first = await command(app, 'POST', `/api/bookings/${booking.bookingId}/confirm`, { paymentId })
      const again = await command(app, 'POST', `/api/bookings/${booking.bookingId}/confirm`, { paymentId })
      expect(again.statusCode).toBe(200)
      expect(again.json()).toEqual(first.json())
      const other = await command(app, 'POST', `/api/bookings/${booking.bookingId}/confirm`, { paymentId: randomUUID() })
      expect(other.statusCode).toBe(409)
      expect(other.json().error.code).toBe('BOOKING_NOT_PENDING')
    })

    it('refuses to confirm a cancelled booking with BOOKING_NOT_PENDING', async () => {
      const booking = await createBooking()
      await cancel(booking.bookingId, { userId: booking.userId })
      const response = await command(app, 'POST', `/api/bookings/${booking.bookingId}/confirm`, { paymentId: randomUUID() })
      expect(response.statusCode).toBe(409)
      expect(response.json().error.code).toBe('BOOKING_NOT_PENDING')
      expect((await bookingOf(booking.bookingId)).status).toBe('CANCELLED')
    })
  })

  describe('cancel', () => {
    it('cancels a confirmed booking and refunds the price minus the fee', async () => {
      const booking = await confirmedBooking({ totalPrice: 241, cancellationPolicy: { minDays: 7, feePercent: 10 } })
      const response = await cancel(booking.bookingId, { userId: booking.userId, reason: 'change of plans' })
      expect(response.statusCode).toBe(200)
      expect(response.json()).toMatchObject({
        bookingId: booking.bookingId, status: 'CANCELLED', refundAmount: 216.9, currency: 'EUR', cancellationReason: 'change of plans',
      })
      const stored = await harness.db.booking.findUniqueOrThrow({ where: { id: booking.bookingId } })
      expect(stored).toMatchObject({ status: 'CANCELLED', cancelledFrom: 'CONFIRMED', refundMinor: 21690, cancellationReason: 'change of plans' })
      expect(stored.cancelledAt).toBeInstanceOf(Date)
    })

    it('refuses a user who does not own the booking and changes nothing', async () => {
      const booking = await confirmedBooking()
      const response = await cancel(booking.bookingId, { userId: 'not-the-owner' })
      expect(response.statusCode).toBe(422)
      expect(response.json().error.code).toBe('BOOKING_OWNER_MISMATCH')
      expect(await bookingOf(booking.bookingId)).toEqual(booking)
    })

    it('allows cancelling exactly minDays before the tour, with the fee', async () => {
      const booking = await confirmedBooking({ tourDate: isoDateInDays(7, today), totalPrice: 100, cancellationPolicy: { minDays: 7, feePercent: 25 } })
      const response = await cancel(booking.bookingId, { userId: booking.userId })
      expect(response.statusCode).toBe(200)
      expect(response.json().refundAmount).toBe(75)
    })

    it('refuses cancelling minDays − 1 days before the tour with CANCELLATION_NOT_ALLOWED and keeps the booking', async () => {
      const booking = await confirmedBooking({ tourDate: isoDateInDays(6, today), cancellationPolicy: { minDays: 7, feePercent: 25 } })
      const response = await cancel(booking.bookingId, { userId: booking.userId })
      expect(response.statusCode).toBe(422)
      expect(response.json().error).toMatchObject({ code: 'CANCELLATION_NOT_ALLOWED', daysBefore: 6, minDays: 7 })
      expect(await bookingOf(booking.bookingId)).toEqual(booking)
    })

    it('rounds the refund to the nearest minor unit', async () => {
      // 99.99 × 85% = 84.9915 → 84.99; 0.05 × 50% = 0.025 → 0.03; ¥1001 × 90% = ¥900.9 → ¥901
      const cases = [
        { totalPrice: 99.99, currency: 'EUR', feePercent: 15, refund: 84.99 },
        { totalPrice: 0.05, currency: 'EUR', feePercent: 50, refund: 0.03 },
        { totalPrice: 1001, currency: 'JPY', feePercent: 10, refund: 901 },
      ]
      for (const { totalPrice, currency, feePercent, refund } of cases) {
        const booking = await confirmedBooking({ totalPrice, currency, cancellationPolicy: { minDays: 0, feePercent } })
        const response = await cancel(booking.bookingId, { userId: booking.userId })
        expect(response.json()).toMatchObject({ refundAmount: refund, currency })
      }
    })

    it('cancels a PENDING booking with no refund and without asking the policy', async () => {
      // The tour is tomorrow and the policy wants 7 days: a paid booking could not be cancelled.
      const booking = await createBooking({ tourDate: isoDateInDays(1, today), cancellationPolicy: { minDays: 7, feePercent: 10 } })
      const response = await cancel(booking.bookingId, { userId: booking.userId })
      expect(response.statusCode).toBe(200)
      expect(response.json()).toMatchObject({ status: 'CANCELLED', refundAmount: 0, currency: 'EUR' })
      expect((await harness.db.booking.findUniqueOrThrow({ where: { id: booking.bookingId } })).cancelledFrom).toBe('PENDING')
    })

    it('answers the undo of create on a booking cancelled already with 409 BOOKING_ALREADY_CANCELLED and changes nothing', async () => {
      // The orchestrator reads this code as "already in the state asked for".
      const booking = await createBooking()
      const undo = { userId: booking.userId, reason: 'booking saga rolled back' }
      expect((await cancel(booking.bookingId, undo)).statusCode).toBe(200)
      const stored = await harness.db.booking.findUniqueOrThrow({ where: { id: booking.bookingId } })
      const again = await cancel(booking.bookingId, undo)
      expect(again.statusCode).toBe(409)
      expect(again.json().error.code).toBe('BOOKING_ALREADY_CANCELLED')
      expect(await harness.db.booking.findUniqueOrThrow({ where: { id: booking.bookingId } })).toEqual(stored)
    })

    it('refuses to cancel twice with BOOKING_ALREADY_CANCELLED', async () => {
      const booking = await confirmedBooking()
      expect((await cancel(booking.bookingId, { userId: booking.userId })).statusCode).toBe(200)
      const again = await cancel(booking.bookingId, { userId: booking.userId })
      expect(again.statusCode).toBe(409)
      expect(again.json().error.code).toBe('BOOKING_ALREADY_CANCELLED')
    })

    it('answers a replayed cancel with the identical answer and cancels once', async () => {
      const booking = await confirmedBooking()
      const key = randomUUID()
      const first = await cancel(booking.bookingId, { userId: booking.userId }, key)
      const stored = await harness.db.booking.findUniqueOrThrow({ where: { id: booking.bookingId } })
      const replay = await cancel(booking.bookingId, { userId: booking.userId }, key)
      expect(replay.statusCode).toBe(200)
      expect(replay.headers['idempotent-replayed']).toBe('true')
      expect(replay.body).toBe(first.body)
      expect(await harness.db.booking.findUniqueOrThrow({ where: { id: booking.bookingId } })).toEqual(stored)
    })
  })

  describe('reinstate', () => {
    it('undoes a cancellation: the booking is CONFIRMED again with no refund recorded', async () => {
      const booking = await confirmedBooking()
      await cancel(booking.bookingId, { userId: booking.userId, reason: 'oops' })
      const response = await command(app, 'POST', `/api/bookings/${booking.bookingId}/reinstate`, {})
      expect(response.statusCode).toBe(200)
      expect(response.json()).toMatchObject({
        status: 'CONFIRMED', paymentId: booking.paymentId, refundAmount: null, cancellationReason: null, cancelledAt: null,
      })
      const stored = await harness.db.booking.findUniqueOrThrow({ where: { id: booking.bookingId } })
      expect(stored).toMatchObject({ status: 'CONFIRMED', cancelledFrom: null, refundMinor: null, cancelledAt: null })
    })

    it('returns a cancelled PENDING booking to PENDING', async () => {
      const booking = await createBooking()
      await cancel(booking.bookingId, { userId: booking.userId })
      const response = await command(app, 'POST', `/api/bookings/${booking.bookingId}/reinstate`)
      expect(response.json().status).toBe('PENDING')
    })

    it('answers 200 with the reinstated booking when reinstated again under another key', async () => {
      const booking = await confirmedBooking()
      await cancel(booking.bookingId, { userId: booking.userId })
      const first = await command(app, 'POST', `/api/bookings/${booking.bookingId}/reinstate`)
      const again = await command(app, 'POST', `/api/bookings/${booking.bookingId}/reinstate`)
      expect([first.statusCode, again.statusCode]).toEqual([200, 200])
      expect(again.headers['idempotent-replayed']).toBeUndefined()
      expect(again.json()).toEqual(first.json())
      expect(again.json().status).toBe('CONFIRMED')
    })

    it('answers with the current booking when there is nothing to undo', async () => {
      const booking = await confirmedBooking()
      const response = await command(app, 'POST', `/api/bookings/${booking.bookingId}/reinstate`)
      expect(response.statusCode).toBe(200)
      expect(response.json()).toEqual(booking)
    })
  })
})

describe('booking without a service token', () => {
  it('refuses every command with 401 and applies none of them', async () => {
    const request = bookingRequest()
    const pending = await createBooking()
    const confirmed = await confirmedBooking()
    const cancelled = await createBooking()
    await cancel(cancelled.bookingId, { userId: cancelled.userId })

    const create = await expectRefusedWithoutToken(app, harness.db, 'booking', '/api/bookings', request)
    const confirm = await expectRefusedWithoutToken(app, harness.db, 'booking', `/api/bookings/${pending.bookingId}/confirm`, { paymentId: randomUUID() })
    const cancelIt = await expectRefusedWithoutToken(app, harness.db, 'booking', `/api/bookings/${confirmed.bookingId}/cancel`, { userId: confirmed.userId })
    const reinstate = await expectRefusedWithoutToken(app, harness.db, 'booking', `/api/bookings/${cancelled.bookingId}/reinstate`)
    expect(await harness.db.booking.count({ where: { reservationId: request.reservationId } })).toBe(0)
    expect((await bookingOf(pending.bookingId)).status).toBe('PENDING')
    expect((await bookingOf(confirmed.bookingId)).status).toBe('CONFIRMED')
    expect((await bookingOf(cancelled.bookingId)).status).toBe('CANCELLED')

    expect((await create.withToken()).statusCode).toBe(201)
    expect((await confirm.withToken()).json().status).toBe('CONFIRMED')
    expect((await cancelIt.withToken()).json().status).toBe('CANCELLED')
    expect((await reinstate.withToken()).json().status).toBe('PENDING')
  })

  it('refuses reads too', async () => {
    const booking = await createBooking()
    for (const url of [`/api/bookings/${booking.bookingId}`, `/api/bookings?userId=${booking.userId}`]) {
      expect((await app.inject({ method: 'GET', url })).statusCode, url).toBe(401)
    }
  })
})

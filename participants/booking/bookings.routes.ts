import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { type Booking, Prisma } from '../../generated/prisma/client.ts'
import { AppError } from '../../platform/errors.ts'
import { toMajor, toMinor } from '../../platform/money.ts'
import {
  amount, cancellationPolicy, currency, isoDate, reason, reference, spots, userId, uuid, uuidParams,
} from '../../platform/vocabulary.ts'
import { dateOf, isoDateOf } from '../shared/calendar.ts'
import { created, defineCommand, ok } from '../shared/define-command.ts'
import { findRow, type KeyedTable, lockRow } from '../shared/rows.ts'
import { object } from '../shared/schema.ts'
import { quoteCancellation } from './cancellation-policy.ts'

export type BookingStatus = 'PENDING' | 'CONFIRMED' | 'CANCELLED'

export interface BookingRoutesOptions {
  /** The clock the cancellation policy counts days from. Default: the system clock. */
  now?: () => Date
}

const bookings: KeyedTable<Booking> = {
  table: '"booking"."bookings"',
  read: (tx, id) => tx.booking.findUnique({ where: { id } }),
  notFound: () => new AppError('BOOKING_NOT_FOUND'),
}

export function bookingView(booking: Booking) {
  return {
    bookingId: booking.id,
    status: booking.status as BookingStatus,
    userId: booking.userId,
    tourId: booking.tourId,
    reservationId: booking.reservationId,
    numberOfSpots: booking.numberOfSpots,
    totalPrice: toMajor(booking.totalPriceMinor, booking.currency),
    currency: booking.currency,
    paymentId: booking.paymentId,
    tourDate: isoDateOf(booking.tourDate),
    cancellationPolicy: { minDays: booking.cancellationMinDays, feePercent: booking.cancellationFeePercent },
    refundAmount: booking.refundMinor === null ? null : toMajor(booking.refundMinor, booking.currency),
    cancellationReason: booking.cancellationReason,
    cancelledAt: booking.cancelledAt?.toISOString() ?? null,
    createdAt: booking.createdAt.toISOString(),
    updatedAt: booking.updatedAt.toISOString(),
  }
}

// The tour date and policy come from the saga (read from the catalog when the spots were
// reserved) and are kept as the terms the customer agreed to: a later change to the tour
// never changes what an existing booking may cancel for.
const createBooking = defineCommand({
  url: '/api/bookings',
  body: object({
    reservationId: uuid, tourId: uuid, userId, numberOfSpots: spots, totalPrice: amount, currency, tourDate: isoDate, cancellationPolicy,
  }),
  async run({ tx, body }) {
    // One booking per reservation: the unique index says so, and its violation is the answer
    // (the refusal rolls the failed transaction back and is stored in one of its own).
    try {
      const booking = await tx.booking.create({
        data: {
          id: randomUUID(),
          reservationId: body.reservationId,
          tourId: body.tourId,
          userId: body.userId,
          numberOfSpots: body.numberOfSpots,
          totalPriceMinor: toMinor(body.totalPrice, body.currency),
          currency: body.currency,
          status: 'PENDING',
          tourDate: dateOf(body.tourDate),
          cancellationMinDays: body.cancellationPolicy.minDays,
          cancellationFeePercent: body.cancellationPolicy.feePercent,
        },
      })
      return created(bookingView(booking))
    } catch (error) {
      // The reservation has a booking already (made under another key, maybe concurrently).
      if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
        throw new AppError('BOOKING_ALREADY_EXISTS', undefined, { reservationId: body.reservationId })
      }
      throw error
    }
  },
})

const confirmBooking = defineCommand({
  url: '/api/bookings/:bookingId/confirm',
  params: uuidParams('bookingId'),
  body: object({ paymentId: reference }),
  async run({ tx, params: { bookingId }, body: { paymentId } }) {
    // The usual case in one statement: a conditional update waits for a concurrent command on
    // the row and then tests the status that command left.
    const [confirmed] = await tx.booking.updateManyAndReturn({ where: { id: bookingId, status: 'PENDING' }, data: { status: 'CONFIRMED', paymentId } })
    if (confirmed) return ok(bookingView(confirmed))
    const booking = await lockRow(tx, bookings, bookingId)
    // Confirming again with the same payment is a no-op; with another payment it is a conflict.
    if (booking.status === 'CONFIRMED' && booking.paymentId === paymentId) return ok(bookingView(booking))
    throw new AppError('BOOKING_NOT_PENDING', undefined, { status: booking.status })
  },
})

function cancelBooking(now: () => Date) {
  return defineCommand({
    url: '/api/bookings/:bookingId/cancel',
    params: uuidParams('bookingId'),
    body: object({
      userId,
      reason,
      // A customer cancels only a CONFIRMED booking: one still PENDING belongs to a booking
      // saga in progress and must be left alone.
      expectedStatus: { type: 'string', enum: ['PENDING', 'CONFIRMED'] },
    }, { optional: ['reason', 'expectedStatus'] }),
    // Also the undo of create (a tour-booking saga's compensation). On a booking cancelled
    // already it answers 409 BOOKING_ALREADY_CANCELLED, not 2xx: a customer's second cancel
    // must not look like a second refund, and the orchestrator reads that code as "already
    // in the state asked for".
    async run({ tx, params: { bookingId }, body: { userId: requester, reason: why, expectedStatus } }) {
      const booking = await lockRow(tx, bookings, bookingId)
      if (booking.userId !== requester) throw new AppError('BOOKING_OWNER_MISMATCH')
      if (booking.status === 'CANCELLED') throw new AppError('BOOKING_ALREADY_CANCELLED')
      if (expectedStatus && booking.status !== expectedStatus) {
        throw new AppError('BOOKING_NOT_CONFIRMED', `The booking is ${booking.status}, not ${expectedStatus}`, { status: booking.status })
      }

      // A PENDING booking was never paid: cancelling it is the undo of create (a saga
      // compensation) and must always succeed, whatever the policy says.
      let refundMinor = 0
      if (booking.status === 'CONFIRMED') {
        const quote = quoteCancellation({
          tourDate: booking.tourDate,
          totalPriceMinor: booking.totalPriceMinor,
          policy: { minDays: booking.cancellationMinDays, feePercent: booking.cancellationFeePercent },
        }, now())
        if (!quote.allowed) {
          throw new AppError('CANCELLATION_NOT_ALLOWED',
            `Cancelling needs at least ${quote.minDays} days before the tour; it is ${quote.daysBefore} days away`,
            { daysBefore: quote.daysBefore, minDays: quote.minDays })
        }
        refundMinor = quote.refundMinor
      }

      const cancelled = await tx.booking.update({
        where: { id: bookingId },
        data: { status: 'CANCELLED', cancelledFrom: booking.status, refundMinor, cancellationReason: why ?? null, cancelledAt: new Date() },
      })
      return ok({ ...bookingView(cancelled), refundAmount: toMajor(refundMinor, cancelled.currency), currency: cancelled.currency })
    },
  })
}

// The undo of cancel, run when a later step of the cancellation saga (the refund) fails: the
// booking returns to the status it had, as if the cancellation never happened. A booking that
// is not cancelled is the state asked for already: 200 with the booking as it is.
const reinstateBooking = defineCommand({
  url: '/api/bookings/:bookingId/reinstate',
  params: uuidParams('bookingId'),
  async run({ tx, params: { bookingId } }) {
    const booking = await lockRow(tx, bookings, bookingId)
    if (booking.status !== 'CANCELLED') return ok(bookingView(booking))
    const reinstated = await tx.booking.update({
      where: { id: bookingId },
      data: {
        // cancelledFrom is always written by cancel; the fallback only guards a hand-edited row.
        status: booking.cancelledFrom ?? (booking.paymentId ? 'CONFIRMED' : 'PENDING'),
        cancelledFrom: null,
        refundMinor: null,
        cancellationReason: null,
        cancelledAt: null,
      },
    })
    return ok(bookingView(reinstated))
  },
})

/**
 * Bookings: created PENDING by the tour-booking saga, CONFIRMED once paid, CANCELLED by the
 * cancellation saga. Every command has an undo the orchestrator can run as a compensation:
 * cancel undoes create, reinstate undoes cancel.
 */
export function bookingRoutes(options: BookingRoutesOptions = {}): FastifyPluginAsync {
  const now = options.now ?? (() => new Date())

  return async function routes(app: FastifyInstance): Promise<void> {
    app.get<{ Querystring: { userId: string } }>('/api/bookings', {
      schema: { querystring: { type: 'object', properties: { userId }, required: ['userId'] } },
    }, async (request) => {
      const found = await app.db.booking.findMany({ where: { userId: request.query.userId }, orderBy: { createdAt: 'desc' }, take: 100 })
      return found.map(bookingView)
    })

    app.get<{ Params: { bookingId: string } }>('/api/bookings/:bookingId', { schema: { params: uuidParams('bookingId') } },
      async (request) => bookingView(await findRow(app.db, bookings, request.params.bookingId)))

    await app.register(createBooking)
    await app.register(confirmBooking)
    await app.register(cancelBooking(now))
    await app.register(reinstateBooking)
  }
}

import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { type Booking, Prisma } from '../../generated/prisma/client.ts'
import { AppError } from '../../platform/errors.ts'
import { currency as currencySchema, cancellationPolicy as cancellationPolicySchema } from '../../platform/vocabulary.ts'
import { toMajor, toMinor } from '../../platform/money.ts'
import { quoteCancellation } from './cancellation-policy.ts'

const uuid = { type: 'string', format: 'uuid' } as const
const userId = { type: 'string', minLength: 1, maxLength: 100 } as const
const bookingParams = { type: 'object', properties: { bookingId: uuid }, required: ['bookingId'] } as const

const createBody = {
  type: 'object',
  additionalProperties: false,
  required: ['reservationId', 'tourId', 'userId', 'numberOfSpots', 'totalPrice', 'currency', 'tourDate', 'cancellationPolicy'],
  properties: {
    reservationId: uuid,
    tourId: uuid,
    userId,
    numberOfSpots: { type: 'integer', minimum: 1, maximum: 50 },
    totalPrice: { type: 'number', minimum: 0, maximum: 100_000_000 },
    currency: currencySchema,
    tourDate: { type: 'string', format: 'date' },
    cancellationPolicy: cancellationPolicySchema,
  },
} as const

interface CreateBody {
  reservationId: string
  tourId: string
  userId: string
  numberOfSpots: number
  totalPrice: number
  currency: string
  tourDate: string
  cancellationPolicy: { minDays: number; feePercent: number }
}

export type BookingStatus = 'PENDING' | 'CONFIRMED' | 'CANCELLED'

export interface BookingRoutesOptions {
  /** The clock the cancellation policy counts days from. Default: the system clock. */
  now?: () => Date
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
    tourDate: booking.tourDate.toISOString().slice(0, 10),
    cancellationPolicy: { minDays: booking.cancellationMinDays, feePercent: booking.cancellationFeePercent },
    refundAmount: booking.refundMinor === null ? null : toMajor(booking.refundMinor, booking.currency),
    cancellationReason: booking.cancellationReason,
    cancelledAt: booking.cancelledAt?.toISOString() ?? null,
    createdAt: booking.createdAt.toISOString(),
    updatedAt: booking.updatedAt.toISOString(),
  }
}

/**
 * Reads a booking inside the command's transaction with its row locked, so that two commands
 * on the same booking under different keys (a confirm racing a cancel) run one after the other.
 */
async function lockBooking(tx: Prisma.TransactionClient, bookingId: string): Promise<Booking> {
  const [locked] = await tx.$queryRaw<{ id: string }[]>`
    SELECT id FROM "booking"."bookings" WHERE id = ${bookingId}::uuid FOR UPDATE`
  if (!locked) throw new AppError('BOOKING_NOT_FOUND')
  return tx.booking.findUniqueOrThrow({ where: { id: bookingId } })
}

/**
 * Bookings: created PENDING by the tour-booking saga, CONFIRMED once paid, CANCELLED by the
 * cancellation saga. Every command has an undo the orchestrator can run as a compensation:
 * cancel undoes create, reinstate undoes cancel.
 */
export function bookingRoutes(options: BookingRoutesOptions = {}): FastifyPluginAsync {
  const now = options.now ?? (() => new Date())

  return async function routes(app: FastifyInstance): Promise<void> {
    app.get<{ Querystring: { userId: string } }>('/api/bookings', {
      schema: {
        querystring: { type: 'object', properties: { userId }, required: ['userId'] },
      },
    }, async (request) => {
      const bookings = await app.db.booking.findMany({
        where: { userId: request.query.userId },
        orderBy: { createdAt: 'desc' },
        take: 100,
      })
      return bookings.map(bookingView)
    })

    app.get<{ Params: { bookingId: string } }>('/api/bookings/:bookingId', {
      schema: { params: bookingParams },
    }, async (request) => {
      const booking = await app.db.booking.findUnique({ where: { id: request.params.bookingId } })
      if (!booking) throw new AppError('BOOKING_NOT_FOUND')
      return bookingView(booking)
    })

    // The tour date and policy come from the saga (read from the catalog when the spots were
    // reserved) and are kept as the terms the customer agreed to: a later change to the tour
    // never changes what an existing booking may cancel for.
    app.post<{ Body: CreateBody }>('/api/bookings', { schema: { body: createBody } }, async (request, reply) => {
      const body = request.body
      const tx = request.tx
      if (await tx.booking.findUnique({ where: { reservationId: body.reservationId }, select: { id: true } })) {
        throw new AppError('BOOKING_ALREADY_EXISTS', undefined, { reservationId: body.reservationId })
      }
      let booking: Booking
      try {
        booking = await tx.booking.create({
          data: {
            id: randomUUID(),
            reservationId: body.reservationId,
            tourId: body.tourId,
            userId: body.userId,
            numberOfSpots: body.numberOfSpots,
            totalPriceMinor: toMinor(body.totalPrice, body.currency),
            currency: body.currency,
            status: 'PENDING',
            tourDate: new Date(`${body.tourDate}T00:00:00Z`),
            cancellationMinDays: body.cancellationPolicy.minDays,
            cancellationFeePercent: body.cancellationPolicy.feePercent,
          },
        })
      } catch (error) {
        // A concurrent create for the same reservation (under another key) committed first.
        if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
          throw new AppError('BOOKING_ALREADY_EXISTS', undefined, { reservationId: body.reservationId })
        }
        throw error
      }
      reply.code(201)
      return bookingView(booking)
    })

    app.post<{ Params: { bookingId: string }; Body: { paymentId: string } }>('/api/bookings/:bookingId/confirm', {
      schema: {
        params: bookingParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['paymentId'],
          properties: { paymentId: { type: 'string', minLength: 1, maxLength: 255 } },
        },
      },
    }, async (request) => {
      const { paymentId } = request.body
      const booking = await lockBooking(request.tx, request.params.bookingId)
      // Confirming again with the same payment is a no-op; with another payment it is a conflict.
      if (booking.status === 'CONFIRMED' && booking.paymentId === paymentId) return bookingView(booking)
      if (booking.status !== 'PENDING') {
        throw new AppError('BOOKING_NOT_PENDING', undefined, { status: booking.status })
      }
      const confirmed = await request.tx.booking.update({
        where: { id: booking.id },
        data: { status: 'CONFIRMED', paymentId },
      })
      return bookingView(confirmed)
    })

    app.post<{ Params: { bookingId: string }; Body: { userId: string; reason?: string; expectedStatus?: 'PENDING' | 'CONFIRMED' } }>('/api/bookings/:bookingId/cancel', {
      schema: {
        params: bookingParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['userId'],
          properties: {
            userId,
            reason: { type: 'string', maxLength: 500 },
            // A customer cancels only a CONFIRMED booking: one still PENDING belongs to a
            // booking saga in progress and must be left alone.
            expectedStatus: { type: 'string', enum: ['PENDING', 'CONFIRMED'] },
          },
        },
      },
    }, async (request) => {
      const { userId: requester, reason, expectedStatus } = request.body
      const booking = await lockBooking(request.tx, request.params.bookingId)
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

      const cancelled = await request.tx.booking.update({
        where: { id: booking.id },
        data: {
          status: 'CANCELLED',
          cancelledFrom: booking.status,
          refundMinor,
          cancellationReason: reason ?? null,
          cancelledAt: new Date(),
        },
      })
      return { ...bookingView(cancelled), refundAmount: toMajor(refundMinor, cancelled.currency), currency: cancelled.currency }
    })

    // The undo of cancel, run when a later step of the cancellation saga (the refund) fails:
    // the booking returns to the status it had, as if the cancellation never happened.
    app.post<{ Params: { bookingId: string } }>('/api/bookings/:bookingId/reinstate', {
      schema: { params: bookingParams },
    }, async (request) => {
      const booking = await lockBooking(request.tx, request.params.bookingId)
      if (booking.status !== 'CANCELLED') return bookingView(booking)
      const reinstated = await request.tx.booking.update({
        where: { id: booking.id },
        data: {
          // cancelledFrom is always written by cancel; the fallback only guards a hand-edited row.
          status: booking.cancelledFrom ?? (booking.paymentId ? 'CONFIRMED' : 'PENDING'),
          cancelledFrom: null,
          refundMinor: null,
          cancellationReason: null,
          cancelledAt: null,
        },
      })
      return bookingView(reinstated)
    })
  }
}

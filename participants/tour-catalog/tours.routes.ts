import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { Tour } from '../../generated/prisma/client.ts'
import { AppError } from '../../platform/errors.ts'
import { currency as currencySchema, cancellationPolicy as cancellationPolicySchema } from '../../platform/vocabulary.ts'
import { toMajor, toMinor } from '../../platform/money.ts'

const uuid = { type: 'string', format: 'uuid' } as const
const isoDate = { type: 'string', format: 'date' } as const

const tourBody = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'date', 'capacity', 'price', 'currency', 'cancellationPolicy'],
  properties: {
    tourId: uuid,
    name: { type: 'string', minLength: 1, maxLength: 200 },
    date: isoDate,
    capacity: { type: 'integer', minimum: 1, maximum: 100_000 },
    availableSpots: { type: 'integer', minimum: 0, maximum: 100_000 },
    price: { type: 'number', minimum: 0, maximum: 1_000_000 },
    currency: currencySchema,
    cancellationPolicy: cancellationPolicySchema,
  },
} as const

interface TourBody {
  tourId?: string
  name: string
  date: string
  capacity: number
  availableSpots?: number
  price: number
  currency: string
  cancellationPolicy: { minDays: number; feePercent: number }
}

export function tourView(tour: Tour) {
  return {
    tourId: tour.id,
    name: tour.name,
    date: tour.date.toISOString().slice(0, 10),
    capacity: tour.capacity,
    availableSpots: tour.availableSpots,
    price: toMajor(tour.priceMinor, tour.currency),
    currency: tour.currency,
    cancellationPolicy: { minDays: tour.cancellationMinDays, feePercent: tour.cancellationFeePercent },
  }
}

export default async function tourRoutes(app: FastifyInstance): Promise<void> {
  app.get('/api/tours', async () => {
    const tours = await app.db.tour.findMany({ orderBy: [{ date: 'asc' }, { name: 'asc' }] })
    return tours.map(tourView)
  })

  app.get<{ Params: { tourId: string } }>('/api/tours/:tourId', {
    schema: { params: { type: 'object', properties: { tourId: uuid }, required: ['tourId'] } },
  }, async (request) => {
    const tour = await app.db.tour.findUnique({ where: { id: request.params.tourId } })
    if (!tour) throw new AppError('TOUR_NOT_FOUND')
    return tourView(tour)
  })

  app.post<{ Body: TourBody }>('/api/tours', { schema: { body: tourBody } }, async (request, reply) => {
    const body = request.body
    const availableSpots = body.availableSpots ?? body.capacity
    if (availableSpots > body.capacity) {
      throw new AppError('VALIDATION_FAILED', 'availableSpots cannot exceed capacity')
    }
    const id = body.tourId ?? randomUUID()
    if (await request.tx.tour.findUnique({ where: { id }, select: { id: true } })) throw new AppError('TOUR_ALREADY_EXISTS')
    const tour = await request.tx.tour.create({
      data: {
        id,
        name: body.name,
        date: new Date(`${body.date}T00:00:00Z`),
        capacity: body.capacity,
        availableSpots,
        priceMinor: toMinor(body.price, body.currency),
        currency: body.currency,
        cancellationMinDays: body.cancellationPolicy.minDays,
        cancellationFeePercent: body.cancellationPolicy.feePercent,
      },
    })
    reply.code(201)
    return tourView(tour)
  })

  // Reserve spots. The quote (price × spots) is the amount the saga charges: clients never
  // name an amount. A conditional decrement makes overselling impossible under any race.
  app.post<{ Params: { tourId: string }; Body: { spots: number; currency?: string } }>('/api/tours/:tourId/reservations', {
    schema: {
      params: { type: 'object', properties: { tourId: uuid }, required: ['tourId'] },
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['spots'],
        properties: { spots: { type: 'integer', minimum: 1, maximum: 50 }, currency: currencySchema },
      },
    },
  }, async (request, reply) => {
    const { tourId } = request.params
    const { spots, currency } = request.body
    const tx = request.tx
    const tour = await tx.tour.findUnique({ where: { id: tourId } })
    if (!tour) throw new AppError('TOUR_NOT_FOUND')
    if (currency && currency !== tour.currency) {
      throw new AppError('CURRENCY_MISMATCH', `This tour is sold in ${tour.currency}`)
    }
    const taken = await tx.tour.updateMany({
      where: { id: tourId, availableSpots: { gte: spots } },
      data: { availableSpots: { decrement: spots } },
    })
    if (taken.count === 0) throw new AppError('INSUFFICIENT_SPOTS', undefined, { tourId, requested: spots })
    const reservation = await tx.tourReservation.create({
      data: { id: randomUUID(), tourId, spots, amountMinor: tour.priceMinor * spots, currency: tour.currency, status: 'RESERVED' },
    })
    reply.code(201)
    return {
      reservationId: reservation.id,
      tourId,
      spots,
      status: reservation.status,
      amount: toMajor(reservation.amountMinor, reservation.currency),
      currency: reservation.currency,
      tour: tourView({ ...tour, availableSpots: tour.availableSpots - spots }),
    }
  })

  // Release a reservation: the undo of reserve, and the last step of a cancellation. The
  // status guard gives the spots back at most once, whatever the key.
  app.post<{ Params: { reservationId: string } }>('/api/reservations/:reservationId/release', {
    schema: { params: { type: 'object', properties: { reservationId: uuid }, required: ['reservationId'] } },
  }, async (request) => {
    const { reservationId } = request.params
    const tx = request.tx
    const reservation = await tx.tourReservation.findUnique({ where: { id: reservationId } })
    if (!reservation) throw new AppError('RESERVATION_NOT_FOUND')
    const released = await tx.tourReservation.updateMany({
      where: { id: reservationId, status: 'RESERVED' },
      data: { status: 'RELEASED', releasedAt: new Date() },
    })
    if (released.count === 1) {
      await tx.tour.update({ where: { id: reservation.tourId }, data: { availableSpots: { increment: reservation.spots } } })
    }
    return { reservationId, tourId: reservation.tourId, status: 'RELEASED', releasedSpots: released.count === 1 ? reservation.spots : 0 }
  })

  app.get<{ Params: { reservationId: string } }>('/api/reservations/:reservationId', {
    schema: { params: { type: 'object', properties: { reservationId: uuid }, required: ['reservationId'] } },
  }, async (request) => {
    const reservation = await app.db.tourReservation.findUnique({ where: { id: request.params.reservationId } })
    if (!reservation) throw new AppError('RESERVATION_NOT_FOUND')
    return {
      reservationId: reservation.id,
      tourId: reservation.tourId,
      spots: reservation.spots,
      status: reservation.status,
      amount: toMajor(reservation.amountMinor, reservation.currency),
      currency: reservation.currency,
    }
  })
}

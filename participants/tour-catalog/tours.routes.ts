import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import type { Tour, TourReservation } from '../../generated/prisma/client.ts'
import { AppError } from '../../platform/errors.ts'
import { toMajor, toMinor } from '../../platform/money.ts'
import {
  cancellationPolicy, capacity, currency, isoDate, MAX_AMOUNT, name, spots, spotsLeft, unitPrice, uuid, uuidParams,
} from '../../platform/vocabulary.ts'
import { dateOf, isoDateOf, todayUtc } from '../shared/calendar.ts'
import { created, defineCommand, ok } from '../shared/define-command.ts'
import { findRow, type KeyedTable, lockRow } from '../shared/rows.ts'
import { object } from '../shared/schema.ts'

export interface TourRoutesOptions {
  /** The clock that says which tours have departed. Default: the system clock. */
  now?: () => Date
}

const tours: KeyedTable<Tour> = {
  table: '"tour_catalog"."tours"',
  read: (tx, id) => tx.tour.findUnique({ where: { id } }),
  notFound: () => new AppError('TOUR_NOT_FOUND'),
}

const reservations: KeyedTable<TourReservation> = {
  table: '"tour_catalog"."reservations"',
  read: (tx, id) => tx.tourReservation.findUnique({ where: { id } }),
  notFound: () => new AppError('RESERVATION_NOT_FOUND'),
}

export function tourView(tour: Tour) {
  return {
    tourId: tour.id,
    name: tour.name,
    date: isoDateOf(tour.date),
    capacity: tour.capacity,
    availableSpots: tour.availableSpots,
    price: toMajor(tour.priceMinor, tour.currency),
    currency: tour.currency,
    cancellationPolicy: { minDays: tour.cancellationMinDays, feePercent: tour.cancellationFeePercent },
  }
}

function reservationView(reservation: TourReservation) {
  return {
    reservationId: reservation.id,
    tourId: reservation.tourId,
    spots: reservation.spots,
    status: reservation.status,
    amount: toMajor(reservation.amountMinor, reservation.currency),
    currency: reservation.currency,
  }
}

// A tour's date may be past: a catalog keeps its history.
const createTour = defineCommand({
  url: '/api/tours',
  body: object(
    { tourId: uuid, name, date: isoDate, capacity, availableSpots: spotsLeft, price: unitPrice, currency, cancellationPolicy },
    { optional: ['tourId', 'availableSpots'] },
  ),
  async run({ tx, body }) {
    const availableSpots = body.availableSpots ?? body.capacity
    if (availableSpots > body.capacity) throw new AppError('VALIDATION_FAILED', 'availableSpots cannot exceed capacity')
    const id = body.tourId ?? randomUUID()
    if (await tx.tour.findUnique({ where: { id }, select: { id: true } })) throw new AppError('TOUR_ALREADY_EXISTS')
    const tour = await tx.tour.create({
      data: {
        id,
        name: body.name,
        date: dateOf(body.date),
        capacity: body.capacity,
        availableSpots,
        priceMinor: toMinor(body.price, body.currency),
        currency: body.currency,
        cancellationMinDays: body.cancellationPolicy.minDays,
        cancellationFeePercent: body.cancellationPolicy.feePercent,
      },
    })
    return created(tourView(tour))
  },
})

// Reserve spots. The quote (price × spots) is the amount the saga charges: clients never
// name an amount. So it is checked here, where it is made, that the quote can be charged,
// booked and earned on: a total above MAX_AMOUNT would be refused downstream, after the
// spots were taken, or overflow the minor-unit columns. A tour that departs today or has
// departed cannot be booked any more. A conditional decrement makes overselling impossible
// under any race.
function reserveSpots(now: () => Date) {
  return defineCommand({
    url: '/api/tours/:tourId/reservations',
    params: uuidParams('tourId'),
    body: object({ spots, currency }, { optional: ['currency'] }),
    async run({ tx, params: { tourId }, body }) {
      // The spots are taken first, by a conditional decrement (the usual case in one statement,
      // and overselling impossible under any race); the checks below then refuse with the same
      // answers as before the decrement, which the refusal rolls back.
      const [taken] = await tx.tour.updateManyAndReturn({
        where: { id: tourId, availableSpots: { gte: body.spots } },
        data: { availableSpots: { decrement: body.spots } },
      })
      const tour = taken ?? await findRow(tx, tours, tourId)
      const today = todayUtc(now())
      if (isoDateOf(tour.date) <= today) throw new AppError('TOUR_DEPARTED', undefined, { tourId, date: isoDateOf(tour.date), today })
      if (body.currency && body.currency !== tour.currency) {
        throw new AppError('CURRENCY_MISMATCH', `This tour is sold in ${tour.currency}`)
      }
      const amountMinor = tour.priceMinor * body.spots
      if (amountMinor > toMinor(MAX_AMOUNT, tour.currency)) {
        throw new AppError('AMOUNT_LIMIT_EXCEEDED', `${body.spots} spots cost ${toMajor(amountMinor, tour.currency)} ${tour.currency}; one payment moves at most ${MAX_AMOUNT}`, {
          tourId, requested: body.spots, amount: toMajor(amountMinor, tour.currency), maxAmount: MAX_AMOUNT, currency: tour.currency,
        })
      }
      if (!taken) throw new AppError('INSUFFICIENT_SPOTS', undefined, { tourId, requested: body.spots })
      const reservation = await tx.tourReservation.create({
        data: { id: randomUUID(), tourId, spots: body.spots, amountMinor, currency: tour.currency, status: 'RESERVED' },
      })
      return created({ ...reservationView(reservation), tour: tourView(taken) })
    },
  })
}

// Release a reservation: the undo of reserve, and the last step of a cancellation. Locked,
// so the spots go back at most once whatever the key; a reservation released already is the
// state asked for: 200 with releasedSpots 0. Spots given back are a fact for the rest of the
// business (the waiting list is told through it): tour.availability.restored.
const releaseReservation = defineCommand({
  url: '/api/reservations/:reservationId/release',
  params: uuidParams('reservationId'),
  async run({ tx, params: { reservationId }, emit }) {
    const reservation = await lockRow(tx, reservations, reservationId)
    const releasing = reservation.status === 'RESERVED'
    if (releasing) {
      await tx.tourReservation.update({ where: { id: reservationId }, data: { status: 'RELEASED', releasedAt: new Date() } })
      const tour = await tx.tour.update({ where: { id: reservation.tourId }, data: { availableSpots: { increment: reservation.spots } } })
      emit('tour.availability.restored', { tourId: tour.id, freedSpots: reservation.spots, availableSpots: tour.availableSpots, reservationId })
    }
    return ok({ reservationId, tourId: reservation.tourId, status: 'RELEASED', releasedSpots: releasing ? reservation.spots : 0 })
  },
})

/** The catalog: tours, and reservations of their spots. */
export function tourRoutes(options: TourRoutesOptions = {}): FastifyPluginAsync {
  const now = options.now ?? (() => new Date())
  return async function routes(app: FastifyInstance): Promise<void> {
    app.get('/api/tours', async () => {
      const all = await app.db.tour.findMany({ orderBy: [{ date: 'asc' }, { name: 'asc' }] })
      return all.map(tourView)
    })

    app.get<{ Params: { tourId: string } }>('/api/tours/:tourId', { schema: { params: uuidParams('tourId') } },
      async (request) => tourView(await findRow(app.db, tours, request.params.tourId)))

    app.get<{ Params: { reservationId: string } }>('/api/reservations/:reservationId', { schema: { params: uuidParams('reservationId') } },
      async (request) => reservationView(await findRow(app.db, reservations, request.params.reservationId)))

    await app.register(createTour)
    await app.register(reserveSpots(now))
    await app.register(releaseReservation)
  }
}

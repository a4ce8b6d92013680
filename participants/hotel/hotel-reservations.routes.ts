import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { HotelReservation } from '../../generated/prisma/client.ts'
import type { Prisma } from '../../platform/database.ts'
import { AppError } from '../../platform/errors.ts'
import { toMajor } from '../../platform/money.ts'
import { giveBackRooms, takeRooms, type Stay } from './room-nights.ts'
import { isoDateOf, nightsBetween, stayProblem, todayUtc } from './stay.ts'

const uuid = { type: 'string', format: 'uuid' } as const
const isoDate = { type: 'string', format: 'date' } as const
const reservationParams = { type: 'object', properties: { reservationId: uuid }, required: ['reservationId'] } as const

const reservationBody = {
  type: 'object',
  additionalProperties: false,
  required: ['roomType', 'userId', 'checkIn', 'checkOut', 'guests'],
  properties: {
    roomType: { type: 'string', minLength: 1, maxLength: 50 },
    userId: { type: 'string', minLength: 1, maxLength: 200 },
    checkIn: isoDate,
    checkOut: isoDate,
    guests: { type: 'integer', minimum: 1, maximum: 100 },
  },
} as const

interface ReservationBody {
  roomType: string
  userId: string
  checkIn: string
  checkOut: string
  guests: number
}

export function reservationView(reservation: HotelReservation) {
  return {
    reservationId: reservation.id,
    hotelId: reservation.hotelId,
    roomType: reservation.roomType,
    userId: reservation.userId,
    checkIn: isoDateOf(reservation.checkIn),
    checkOut: isoDateOf(reservation.checkOut),
    guests: reservation.guests,
    nights: reservation.nights,
    amount: toMajor(reservation.amountMinor, reservation.currency),
    currency: reservation.currency,
    status: reservation.status,
  }
}

function stayOf(reservation: HotelReservation): Stay {
  return {
    hotelId: reservation.hotelId,
    roomType: reservation.roomType,
    checkIn: isoDateOf(reservation.checkIn),
    checkOut: isoDateOf(reservation.checkOut),
  }
}

async function findReservation(db: Prisma.TransactionClient, reservationId: string): Promise<HotelReservation> {
  const reservation = await db.hotelReservation.findUnique({ where: { id: reservationId } })
  if (!reservation) throw new AppError('HOTEL_RESERVATION_NOT_FOUND', undefined, { reservationId })
  return reservation
}

export default async function hotelReservationRoutes(app: FastifyInstance): Promise<void> {
  // Hold one room of a type for every night of a stay. The quote (price per night × nights) is
  // the amount the saga charges. All nights or none: a single full night refuses the stay.
  app.post<{ Params: { hotelId: string }; Body: ReservationBody }>('/api/hotels/:hotelId/reservations', {
    schema: {
      params: { type: 'object', properties: { hotelId: uuid }, required: ['hotelId'] },
      body: reservationBody,
    },
  }, async (request, reply) => {
    const { hotelId } = request.params
    const { roomType, userId, checkIn, checkOut, guests } = request.body
    const problem = stayProblem(checkIn, checkOut, todayUtc())
    if (problem) throw new AppError('INVALID_DATE_RANGE', problem, { checkIn, checkOut })
    const tx = request.tx
    const hotel = await tx.hotel.findUnique({ where: { id: hotelId }, select: { id: true } })
    if (!hotel) throw new AppError('HOTEL_NOT_FOUND', undefined, { hotelId })
    const type = await tx.roomType.findUnique({ where: { hotelId_roomType: { hotelId, roomType } } })
    if (!type) throw new AppError('ROOM_TYPE_NOT_FOUND', undefined, { hotelId, roomType })
    if (guests > type.capacity) {
      throw new AppError('GUESTS_EXCEED_CAPACITY', `A ${roomType} room sleeps at most ${type.capacity}`, { capacity: type.capacity, guests })
    }
    const nights = nightsBetween(checkIn, checkOut)
    const stay = { hotelId, roomType, checkIn, checkOut }
    const { taken, fullNights } = await takeRooms(tx, stay, type.totalRooms, nights)
    // Throwing rolls back the nights that were taken before the full one was met.
    if (taken !== nights) throw new AppError('ROOM_UNAVAILABLE', undefined, { ...stay, fullNights })
    const reservation = await tx.hotelReservation.create({
      data: {
        id: randomUUID(),
        hotelId,
        roomType,
        userId,
        checkIn: new Date(`${checkIn}T00:00:00Z`),
        checkOut: new Date(`${checkOut}T00:00:00Z`),
        guests,
        nights,
        amountMinor: type.pricePerNightMinor * nights,
        currency: type.currency,
        status: 'HELD',
      },
    })
    reply.code(201)
    return reservationView(reservation)
  })

  // HELD → CONFIRMED once paid. Confirming again changes nothing; a released stay cannot be.
  app.post<{ Params: { reservationId: string } }>('/api/hotel-reservations/:reservationId/confirm', {
    schema: { params: reservationParams },
  }, async (request) => {
    const { reservationId } = request.params
    const tx = request.tx
    await tx.hotelReservation.updateMany({ where: { id: reservationId, status: 'HELD' }, data: { status: 'CONFIRMED' } })
    const reservation = await findReservation(tx, reservationId)
    if (reservation.status === 'RELEASED') throw new AppError('HOTEL_RESERVATION_RELEASED', undefined, { reservationId })
    return reservationView(reservation)
  })

  // The undo of a hold (and of a confirmed stay). The status guard gives the nights back at
  // most once, whatever the key.
  app.post<{ Params: { reservationId: string } }>('/api/hotel-reservations/:reservationId/release', {
    schema: { params: reservationParams },
  }, async (request) => {
    const { reservationId } = request.params
    const tx = request.tx
    const reservation = await findReservation(tx, reservationId)
    const released = await tx.hotelReservation.updateMany({
      where: { id: reservationId, status: { in: ['HELD', 'CONFIRMED'] } },
      data: { status: 'RELEASED' },
    })
    const releasedNights = released.count === 1 ? await giveBackRooms(tx, stayOf(reservation)) : 0
    return { ...reservationView({ ...reservation, status: 'RELEASED' }), releasedNights }
  })

  app.get<{ Params: { reservationId: string } }>('/api/hotel-reservations/:reservationId', {
    schema: { params: reservationParams },
  }, async (request) => reservationView(await findReservation(app.db, request.params.reservationId)))
}

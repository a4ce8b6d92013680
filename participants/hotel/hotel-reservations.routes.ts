import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { HotelReservation } from '../../generated/prisma/client.ts'
import { AppError } from '../../platform/errors.ts'
import { toMajor } from '../../platform/money.ts'
import { guests, isoDate, roomType, userId, uuidParams } from '../../platform/vocabulary.ts'
import { dateOf, isoDateOf, todayUtc } from '../shared/calendar.ts'
import { created, defineCommand, ok } from '../shared/define-command.ts'
import { findRow, type KeyedTable, lockRow } from '../shared/rows.ts'
import { object } from '../shared/schema.ts'
import { giveBackRooms, takeRooms, type Stay } from './room-nights.ts'
import { nightsBetween, stayProblem } from './stay.ts'

const reservations: KeyedTable<HotelReservation> = {
  table: '"hotel"."reservations"',
  read: (tx, id) => tx.hotelReservation.findUnique({ where: { id } }),
  notFound: (reservationId) => new AppError('HOTEL_RESERVATION_NOT_FOUND', undefined, { reservationId }),
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

// Hold one room of a type for every night of a stay. The quote (price per night × nights) is
// the amount the saga charges. All nights or none: a single full night refuses the stay.
const holdRoom = defineCommand({
  url: '/api/hotels/:hotelId/reservations',
  params: uuidParams('hotelId'),
  body: object({ roomType, userId, checkIn: isoDate, checkOut: isoDate, guests }),
  async run({ tx, params: { hotelId }, body, emit }) {
    const { roomType: type, userId: guest, checkIn, checkOut } = body
    const problem = stayProblem(checkIn, checkOut, todayUtc())
    if (problem) throw new AppError(problem.code, problem.message, { checkIn, checkOut })
    if (!await tx.hotel.findUnique({ where: { id: hotelId }, select: { id: true } })) throw new AppError('HOTEL_NOT_FOUND', undefined, { hotelId })
    const rooms = await tx.roomType.findUnique({ where: { hotelId_roomType: { hotelId, roomType: type } } })
    if (!rooms) throw new AppError('ROOM_TYPE_NOT_FOUND', undefined, { hotelId, roomType: type })
    if (body.guests > rooms.capacity) {
      throw new AppError('GUESTS_EXCEED_CAPACITY', `A ${type} room sleeps at most ${rooms.capacity}`, { capacity: rooms.capacity, guests: body.guests })
    }
    const nights = nightsBetween(checkIn, checkOut)
    const stay = { hotelId, roomType: type, checkIn, checkOut }
    const { taken, fullNights } = await takeRooms(tx, stay, rooms.totalRooms, nights)
    // Throwing rolls back the nights that were taken before the full one was met.
    if (taken !== nights) throw new AppError('ROOM_UNAVAILABLE', undefined, { ...stay, fullNights })
    const reservation = await tx.hotelReservation.create({
      data: {
        id: randomUUID(),
        hotelId,
        roomType: type,
        userId: guest,
        checkIn: dateOf(checkIn),
        checkOut: dateOf(checkOut),
        guests: body.guests,
        nights,
        amountMinor: rooms.pricePerNightMinor * nights,
        currency: rooms.currency,
        status: 'HELD',
      },
    })
    const view = reservationView(reservation)
    emit('room.reserved', {
      reservationId: view.reservationId, hotelId, roomType: type, userId: guest, checkIn, checkOut,
      nights, guests: body.guests, amount: view.amount, currency: view.currency, status: view.status,
    })
    return created(view)
  },
})

// HELD → CONFIRMED once paid. Confirming again changes nothing; a released stay cannot be.
const confirmStay = defineCommand({
  url: '/api/hotel-reservations/:reservationId/confirm',
  params: uuidParams('reservationId'),
  async run({ tx, params: { reservationId } }) {
    const reservation = await lockRow(tx, reservations, reservationId)
    if (reservation.status === 'RELEASED') throw new AppError('HOTEL_RESERVATION_RELEASED', undefined, { reservationId })
    if (reservation.status === 'CONFIRMED') return ok(reservationView(reservation))
    return ok(reservationView(await tx.hotelReservation.update({ where: { id: reservationId }, data: { status: 'CONFIRMED' } })))
  },
})

// The undo of a hold (and of a confirmed stay). Locked, so the nights go back at most once
// whatever the key; a reservation released already is the state asked for: 200 with
// releasedNights 0.
const releaseStay = defineCommand({
  url: '/api/hotel-reservations/:reservationId/release',
  params: uuidParams('reservationId'),
  async run({ tx, params: { reservationId } }) {
    const reservation = await lockRow(tx, reservations, reservationId)
    if (reservation.status === 'RELEASED') return ok({ ...reservationView(reservation), releasedNights: 0 })
    const released = await tx.hotelReservation.update({ where: { id: reservationId }, data: { status: 'RELEASED' } })
    return ok({ ...reservationView(released), releasedNights: await giveBackRooms(tx, stayOf(reservation)) })
  },
})

export default async function hotelReservationRoutes(app: FastifyInstance): Promise<void> {
  app.get<{ Params: { reservationId: string } }>('/api/hotel-reservations/:reservationId', { schema: { params: uuidParams('reservationId') } },
    async (request) => reservationView(await findRow(app.db, reservations, request.params.reservationId)))

  await app.register(holdRoom)
  await app.register(confirmStay)
  await app.register(releaseStay)
}

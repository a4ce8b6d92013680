import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { command, expectRefusedWithoutToken, isoDateInDays, participantHarness, read } from '../../test/support/participant-harness.ts'
import { buildHotel } from './hotel.app.ts'

const harness = participantHarness()
let app: FastifyInstance

beforeAll(async () => {
  app = await buildHotel({ db: harness.db, redis: harness.redis })
})
afterAll(async () => {
  await app.close()
  await harness.close()
})

const double = { roomType: 'double', capacity: 2, totalRooms: 3, pricePerNight: 89.9, currency: 'EUR' }
const suite = { roomType: 'suite', capacity: 4, totalRooms: 1, pricePerNight: 250, currency: 'EUR' }

async function createHotel(overrides: Record<string, unknown> = {}) {
  const response = await command(app, 'POST', '/api/hotels', { name: 'Harbour View', roomTypes: [double, suite], ...overrides })
  expect(response.statusCode).toBe(201)
  return response.json()
}

function reserve(hotelId: string, overrides: Record<string, unknown> = {}) {
  return command(app, 'POST', `/api/hotels/${hotelId}/reservations`, {
    roomType: 'double', userId: 'user-1', checkIn: isoDateInDays(10), checkOut: isoDateInDays(13), guests: 2, ...overrides,
  })
}

/** Free rooms of a type per night, as GET /api/hotels/:hotelId reports them. */
async function freeRooms(hotelId: string, roomType: string, days = 30): Promise<Record<string, number>> {
  const response = await read(app, `/api/hotels/${hotelId}?days=${days}`)
  expect(response.statusCode).toBe(200)
  const type = response.json().roomTypes.find((t: { roomType: string }) => t.roomType === roomType)
  return Object.fromEntries(type.availability.map((night: { date: string; freeRooms: number }) => [night.date, night.freeRooms]))
}

describe('hotels', () => {
  it('creates a hotel and reads it back with 30 nights of availability from today', async () => {
    const hotelId = randomUUID()
    const created = await createHotel({ hotelId })
    expect(created).toEqual({ hotelId, name: 'Harbour View', roomTypes: [double, suite] })

    const found = await read(app, `/api/hotels/${hotelId}`)
    expect(found.statusCode).toBe(200)
    const body = found.json()
    expect(body).toMatchObject({ hotelId, name: 'Harbour View', roomTypes: [double, suite] })
    for (const roomType of body.roomTypes) {
      expect(roomType.availability).toHaveLength(30)
      expect(roomType.availability[0]).toEqual({ date: isoDateInDays(0), freeRooms: roomType.totalRooms })
      expect(roomType.availability[29]).toEqual({ date: isoDateInDays(29), freeRooms: roomType.totalRooms })
    }
    const list = await read(app, '/api/hotels')
    expect(list.json().map((h: { hotelId: string }) => h.hotelId)).toContain(hotelId)
  })

  it('shows as many nights as asked for, up to 365', async () => {
    const hotel = await createHotel()
    expect(Object.keys(await freeRooms(hotel.hotelId, 'double', 365))).toHaveLength(365)
    const tooMany = await read(app, `/api/hotels/${hotel.hotelId}?days=366`)
    expect(tooMany.statusCode).toBe(400)
    expect(tooMany.json().error.code).toBe('VALIDATION_FAILED')
  })

  it('refuses a second hotel with the same id with HOTEL_ALREADY_EXISTS', async () => {
    const hotel = await createHotel()
    const again = await command(app, 'POST', '/api/hotels', { hotelId: hotel.hotelId, name: 'Copy', roomTypes: [double] })
    expect(again.statusCode).toBe(409)
    expect(again.json().error.code).toBe('HOTEL_ALREADY_EXISTS')
  })

  it('rejects invalid hotels with VALIDATION_FAILED', async () => {
    const invalid = [
      { name: 'No rooms', roomTypes: [] },
      { name: 'Twice the same type', roomTypes: [double, double] },
      { name: 'Free rooms', roomTypes: [{ ...double, pricePerNight: 0 }] },
      { name: 'Lowercase currency', roomTypes: [{ ...double, currency: 'eur' }] },
      { name: 'Crowded', roomTypes: [{ ...double, capacity: 21 }] },
    ]
    for (const body of invalid) {
      const response = await command(app, 'POST', '/api/hotels', body)
      expect(response.statusCode, body.name).toBe(400)
      expect(response.json().error.code).toBe('VALIDATION_FAILED')
    }
  })

  it('answers 404 HOTEL_NOT_FOUND for an unknown hotel', async () => {
    const response = await read(app, `/api/hotels/${randomUUID()}`)
    expect(response.statusCode).toBe(404)
    expect(response.json().error.code).toBe('HOTEL_NOT_FOUND')
  })
})

describe('hotel reservations', () => {
  it('holds a room for every night and quotes price per night × nights', async () => {
    const hotel = await createHotel()
    const response = await reserve(hotel.hotelId, { userId: 'user-7' })
    expect(response.statusCode).toBe(201)
    const reservation = response.json()
    expect(reservation).toEqual({
      reservationId: expect.any(String), hotelId: hotel.hotelId, roomType: 'double', userId: 'user-7',
      checkIn: isoDateInDays(10), checkOut: isoDateInDays(13), guests: 2, nights: 3, amount: 269.7, currency: 'EUR', status: 'HELD',
    })
    const found = await read(app, `/api/hotel-reservations/${reservation.reservationId}`)
    expect(found.json()).toEqual(reservation)
  })

  it('shows held nights in the availability and leaves the check-out night free', async () => {
    const hotel = await createHotel()
    await reserve(hotel.hotelId)
    const free = await freeRooms(hotel.hotelId, 'double')
    expect(free[isoDateInDays(9)]).toBe(3)
    expect(free[isoDateInDays(10)]).toBe(2)
    expect(free[isoDateInDays(12)]).toBe(2)
    expect(free[isoDateInDays(13)]).toBe(3)
    expect(await freeRooms(hotel.hotelId, 'suite')).toMatchObject({ [isoDateInDays(10)]: 1 })
  })

  it('refuses a stay with one full night in the middle with ROOM_UNAVAILABLE and takes no night', async () => {
    const hotel = await createHotel()
    const middle = await reserve(hotel.hotelId, { roomType: 'suite', guests: 1, checkIn: isoDateInDays(11), checkOut: isoDateInDays(12) })
    expect(middle.statusCode).toBe(201)

    const response = await reserve(hotel.hotelId, { roomType: 'suite', guests: 1, checkIn: isoDateInDays(10), checkOut: isoDateInDays(13) })
    expect(response.statusCode).toBe(422)
    expect(response.json().error).toMatchObject({ code: 'ROOM_UNAVAILABLE', fullNights: [isoDateInDays(11)] })
    const free = await freeRooms(hotel.hotelId, 'suite')
    expect([free[isoDateInDays(10)], free[isoDateInDays(11)], free[isoDateInDays(12)]]).toEqual([1, 0, 1])
  })

  it('never overbooks when 20 reservations race for the last 3 rooms', async () => {
    const hotel = await createHotel({ roomTypes: [{ ...double, totalRooms: 5 }] })
    for (let i = 0; i < 2; i++) expect((await reserve(hotel.hotelId)).statusCode).toBe(201)

    const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => reserve(hotel.hotelId, { userId: `racer-${i}` })))
    const codes = responses.map((r) => r.statusCode)
    expect(codes.filter((c) => c === 201)).toHaveLength(3)
    expect(codes.filter((c) => c === 422)).toHaveLength(17)
    for (const refused of responses.filter((r) => r.statusCode === 422)) expect(refused.json().error.code).toBe('ROOM_UNAVAILABLE')
    const free = await freeRooms(hotel.hotelId, 'double')
    expect([free[isoDateInDays(10)], free[isoDateInDays(11)], free[isoDateInDays(12)]]).toEqual([0, 0, 0])
  })

  it('never overbooks when overlapping stays race for a single room', async () => {
    const hotel = await createHotel()
    const stays = Array.from({ length: 12 }, (_, i) => ({ checkIn: isoDateInDays(3 + (i % 4)), checkOut: isoDateInDays(6 + (i % 5)) }))
    const responses = await Promise.all(stays.map((stay) => reserve(hotel.hotelId, { roomType: 'suite', guests: 1, ...stay })))
    expect(responses.every((r) => r.statusCode === 201 || r.statusCode === 422)).toBe(true)
    const free = await freeRooms(hotel.hotelId, 'suite')
    expect(Object.values(free).every((rooms) => rooms === 0 || rooms === 1)).toBe(true)
    const held = responses.filter((r) => r.statusCode === 201).map((r) => r.json())
    const nightsHeld = held.reduce((sum, reservation) => sum + reservation.nights, 0)
    expect(Object.values(free).filter((rooms) => rooms === 0)).toHaveLength(nightsHeld)
  })

  it('refuses bad stays with INVALID_DATE_RANGE', async () => {
    const hotel = await createHotel()
    const stays = [
      { checkIn: isoDateInDays(10), checkOut: isoDateInDays(10) },
      { checkIn: isoDateInDays(10), checkOut: isoDateInDays(9) },
      { checkIn: isoDateInDays(10), checkOut: isoDateInDays(41) },
    ]
    for (const stay of stays) {
      const response = await reserve(hotel.hotelId, stay)
      expect(response.statusCode, JSON.stringify(stay)).toBe(400)
      expect(response.json().error.code).toBe('INVALID_DATE_RANGE')
    }
    expect((await reserve(hotel.hotelId, { checkIn: isoDateInDays(0), checkOut: isoDateInDays(30) })).statusCode).toBe(201)
  })

  it('refuses a stay starting before today (UTC) with 422 STAY_IN_PAST, holds no night and answers a replay the same', async () => {
    const hotel = await createHotel()
    const key = randomUUID()
    const body = { roomType: 'double', userId: 'user-1', checkIn: isoDateInDays(-1), checkOut: isoDateInDays(2), guests: 2 }
    const refused = await command(app, 'POST', `/api/hotels/${hotel.hotelId}/reservations`, body, key)
    expect(refused.statusCode).toBe(422)
    expect(refused.json().error).toMatchObject({ code: 'STAY_IN_PAST', checkIn: isoDateInDays(-1) })
    const replay = await command(app, 'POST', `/api/hotels/${hotel.hotelId}/reservations`, body, key)
    expect([replay.statusCode, replay.headers['idempotent-replayed'], replay.body]).toEqual([422, 'true', refused.body])
    expect(await harness.db.roomNight.count({ where: { hotelId: hotel.hotelId } })).toBe(0)
    // Today is not the past.
    expect((await reserve(hotel.hotelId, { checkIn: isoDateInDays(0), checkOut: isoDateInDays(1) })).statusCode).toBe(201)
  })

  it('refuses an unknown hotel, an unknown room type and too many guests', async () => {
    const hotel = await createHotel()
    const noHotel = await reserve(randomUUID())
    expect(noHotel.statusCode).toBe(404)
    expect(noHotel.json().error.code).toBe('HOTEL_NOT_FOUND')
    const noType = await reserve(hotel.hotelId, { roomType: 'penthouse' })
    expect(noType.statusCode).toBe(404)
    expect(noType.json().error.code).toBe('ROOM_TYPE_NOT_FOUND')
    const crowded = await reserve(hotel.hotelId, { guests: 3 })
    expect(crowded.statusCode).toBe(422)
    expect(crowded.json().error).toMatchObject({ code: 'GUESTS_EXCEED_CAPACITY', capacity: 2, guests: 3 })
    expect(await freeRooms(hotel.hotelId, 'double')).toMatchObject({ [isoDateInDays(10)]: 3 })
  })

  it('confirms a hold, and confirming again changes nothing', async () => {
    const hotel = await createHotel()
    const reservation = (await reserve(hotel.hotelId)).json()
    const first = await command(app, 'POST', `/api/hotel-reservations/${reservation.reservationId}/confirm`)
    expect(first.statusCode).toBe(200)
    expect(first.json()).toEqual({ ...reservation, status: 'CONFIRMED' })
    const second = await command(app, 'POST', `/api/hotel-reservations/${reservation.reservationId}/confirm`)
    expect(second.statusCode).toBe(200)
    expect(second.json()).toEqual({ ...reservation, status: 'CONFIRMED' })
  })

  it('refuses to confirm a released reservation with HOTEL_RESERVATION_RELEASED', async () => {
    const hotel = await createHotel()
    const reservation = (await reserve(hotel.hotelId)).json()
    await command(app, 'POST', `/api/hotel-reservations/${reservation.reservationId}/release`)
    const response = await command(app, 'POST', `/api/hotel-reservations/${reservation.reservationId}/confirm`)
    expect(response.statusCode).toBe(409)
    expect(response.json().error.code).toBe('HOTEL_RESERVATION_RELEASED')
  })

  it('gives released nights back exactly once, even under different keys', async () => {
    const hotel = await createHotel()
    const reservation = (await reserve(hotel.hotelId)).json()
    await reserve(hotel.hotelId)
    const first = await command(app, 'POST', `/api/hotel-reservations/${reservation.reservationId}/release`)
    const second = await command(app, 'POST', `/api/hotel-reservations/${reservation.reservationId}/release`)
    expect(first.statusCode).toBe(200)
    expect(first.json()).toMatchObject({ reservationId: reservation.reservationId, status: 'RELEASED', releasedNights: 3 })
    expect(second.statusCode).toBe(200)
    expect(second.json()).toMatchObject({ status: 'RELEASED', releasedNights: 0 })
    const free = await freeRooms(hotel.hotelId, 'double')
    expect([free[isoDateInDays(10)], free[isoDateInDays(11)], free[isoDateInDays(12)]]).toEqual([2, 2, 2])
    const found = await read(app, `/api/hotel-reservations/${reservation.reservationId}`)
    expect(found.json().status).toBe('RELEASED')
  })

  it('releases a confirmed stay too', async () => {
    const hotel = await createHotel()
    const reservation = (await reserve(hotel.hotelId, { roomType: 'suite' })).json()
    await command(app, 'POST', `/api/hotel-reservations/${reservation.reservationId}/confirm`)
    const released = await command(app, 'POST', `/api/hotel-reservations/${reservation.reservationId}/release`)
    expect(released.json()).toMatchObject({ status: 'RELEASED', releasedNights: 3 })
    expect((await reserve(hotel.hotelId, { roomType: 'suite' })).statusCode).toBe(201)
  })

  it('answers HOTEL_RESERVATION_NOT_FOUND for an unknown reservation', async () => {
    const id = randomUUID()
    for (const response of [
      await command(app, 'POST', `/api/hotel-reservations/${id}/confirm`),
      await command(app, 'POST', `/api/hotel-reservations/${id}/release`),
      await read(app, `/api/hotel-reservations/${id}`),
    ]) {
      expect(response.statusCode).toBe(404)
      expect(response.json().error.code).toBe('HOTEL_RESERVATION_NOT_FOUND')
    }
  })
})

describe('hotel without a service token', () => {
  it('refuses every command with 401 and holds, confirms or releases nothing', async () => {
    const hotel = await createHotel()
    const held = (await reserve(hotel.hotelId)).json()
    const toRelease = (await reserve(hotel.hotelId, { roomType: 'suite', guests: 1 })).json()
    const name = `nameless-${randomUUID()}`
    const stay = { roomType: 'double', userId: 'user-1', checkIn: isoDateInDays(10), checkOut: isoDateInDays(13), guests: 2 }

    const creating = await expectRefusedWithoutToken(app, harness.db, 'hotel', '/api/hotels', { name, roomTypes: [double] })
    const reserving = await expectRefusedWithoutToken(app, harness.db, 'hotel', `/api/hotels/${hotel.hotelId}/reservations`, stay)
    const confirming = await expectRefusedWithoutToken(app, harness.db, 'hotel', `/api/hotel-reservations/${held.reservationId}/confirm`)
    const releasing = await expectRefusedWithoutToken(app, harness.db, 'hotel', `/api/hotel-reservations/${toRelease.reservationId}/release`)
    expect(await harness.db.hotel.count({ where: { name } })).toBe(0)
    expect(await freeRooms(hotel.hotelId, 'double')).toMatchObject({ [isoDateInDays(10)]: 2 })
    expect(await freeRooms(hotel.hotelId, 'suite')).toMatchObject({ [isoDateInDays(10)]: 0 })
    expect((await read(app, `/api/hotel-reservations/${held.reservationId}`)).json().status).toBe('HELD')

    expect((await creating.withToken()).statusCode).toBe(201)
    expect((await reserving.withToken()).statusCode).toBe(201)
    expect((await confirming.withToken()).json().status).toBe('CONFIRMED')
    expect((await releasing.withToken()).json()).toMatchObject({ status: 'RELEASED', releasedNights: 3 })
    expect(await freeRooms(hotel.hotelId, 'double')).toMatchObject({ [isoDateInDays(10)]: 1 })
    expect(await freeRooms(hotel.hotelId, 'suite')).toMatchObject({ [isoDateInDays(10)]: 1 })
  })

  it('refuses reads too', async () => {
    const hotel = await createHotel()
    for (const url of ['/api/hotels', `/api/hotels/${hotel.hotelId}`]) {
      expect((await app.inject({ method: 'GET', url })).statusCode, url).toBe(401)
    }
  })
})

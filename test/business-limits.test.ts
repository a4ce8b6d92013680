import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MAX_AMOUNT } from '../platform/vocabulary.ts'
import { command, isoDateInDays, read } from './support/participant-harness.ts'
import { startSystem, TOKENS, type TestSystem } from './support/system.ts'

// Business validity is decided where a value is made, never after money moved: the catalog
// quotes only totals that payment, booking and loyalty all accept, and refuses tours that have
// departed; the hotel refuses stays in the past. Through the orchestrator, as customers meet it.

let system: TestSystem

beforeAll(async () => {
  system = await startSystem()
})
afterAll(async () => {
  await system?.close()
})

async function createTour(overrides: Record<string, unknown>) {
  const response = await command(system.participant('tour-catalog'), 'POST', '/api/tours', {
    name: 'Private jet safari', date: isoDateInDays(30), capacity: 50, currency: 'EUR', cancellationPolicy: { minDays: 7, feePercent: 10 }, ...overrides,
  })
  expect(response.statusCode).toBe(201)
  return response.json() as { tourId: string }
}

function start(path: string, body: Record<string, unknown>) {
  return system.orchestrator.inject({
    method: 'POST', url: `/api/orchestrator/${path}`, payload: body,
    headers: { authorization: TOKENS.client, 'idempotency-key': randomUUID() },
  })
}

const newUser = () => `user-${randomUUID().slice(0, 8)}`
const booking = (tourId: string, numberOfSpots: number, userId = newUser()) =>
  start('bookings', { tourId, userId, numberOfSpots, paymentMethod: 'pm_card_visa' })
const spotsLeft = async (tourId: string) => (await read(system.participant('tour-catalog'), `/api/tours/${tourId}`)).json().availableSpots

describe('amounts the catalog quotes', () => {
  it('books 11 spots of a 1,000,000 KRW tour: 11,000,000 KRW charged, booked and earned on', async () => {
    const tour = await createTour({ price: 1_000_000, currency: 'KRW' })
    const userId = newUser()
    const response = await booking(tour.tourId, 11, userId)
    expect(response.statusCode, response.body).toBe(201)
    const result = response.json()
    expect(result).toMatchObject({ status: 'COMPLETED', totalPrice: 11_000_000, currency: 'KRW' })

    const payments = (await read(system.participant('payment'), `/api/payments?bookingId=${result.bookingId}`)).json()
    expect(payments).toEqual([expect.objectContaining({ amount: 11_000_000, currency: 'KRW', status: 'SUCCEEDED' })])
    const booked = (await read(system.participant('booking'), `/api/bookings/${result.bookingId}`)).json()
    expect(booked).toMatchObject({ status: 'CONFIRMED', totalPrice: 11_000_000, currency: 'KRW' })
    const account = (await read(system.participant('loyalty'), `/api/loyalty/accounts/${userId}`)).json()
    expect(account).toMatchObject({ totalPoints: 11_000_000, lifetimePoints: 11_000_000 })
  })

  it('books a total of exactly MAX_AMOUNT in a two-decimal currency', async () => {
    const tour = await createTour({ price: 1_000_000, currency: 'EUR' })
    const response = await booking(tour.tourId, 20)
    expect(response.statusCode, response.body).toBe(201)
    expect(response.json()).toMatchObject({ status: 'COMPLETED', totalPrice: MAX_AMOUNT, currency: 'EUR' })
  })

  it('refuses a total above MAX_AMOUNT at the catalog, before any spot is taken or money moves', async () => {
    const tour = await createTour({ price: 1_000_000, currency: 'EUR' })
    const response = await booking(tour.tourId, 21)
    expect(response.statusCode).toBe(422)
    expect(response.json()).toMatchObject({ status: 'FAILED', error: { code: 'AMOUNT_LIMIT_EXCEEDED', step: 'reserveTour' } })
    expect(await spotsLeft(tour.tourId)).toBe(50)
    expect(await system.db.booking.count({ where: { tourId: tour.tourId } })).toBe(0)
  })
})

describe('dates', () => {
  it('refuses to book a tour that departs today with TOUR_DEPARTED', async () => {
    const tour = await createTour({ price: 40, date: isoDateInDays(0) })
    const response = await booking(tour.tourId, 1)
    expect(response.statusCode).toBe(422)
    expect(response.json()).toMatchObject({ status: 'FAILED', error: { code: 'TOUR_DEPARTED', step: 'reserveTour' } })
    expect(await spotsLeft(tour.tourId)).toBe(50)
  })

  it('refuses a hotel stay that started yesterday with STAY_IN_PAST', async () => {
    const hotel = await command(system.participant('hotel'), 'POST', '/api/hotels', {
      name: 'Yesterday Inn', roomTypes: [{ roomType: 'double', capacity: 2, totalRooms: 1, pricePerNight: 90, currency: 'EUR' }],
    })
    expect(hotel.statusCode).toBe(201)
    const response = await start('hotel-reservations', {
      hotelId: hotel.json().hotelId, roomType: 'double', userId: newUser(),
      checkIn: isoDateInDays(-1), checkOut: isoDateInDays(2), guests: 2, paymentMethod: 'pm_card_visa',
    })
    expect(response.statusCode).toBe(422)
    expect(response.json()).toMatchObject({ status: 'FAILED', error: { code: 'STAY_IN_PAST', step: 'reserveRoom' } })
  })
})

import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { command, expectRefusedWithoutToken, isoDateInDays, participantHarness, read } from '../../test/support/participant-harness.ts'
import { MAX_AMOUNT } from '../../platform/vocabulary.ts'
import { buildTourCatalog } from './tour-catalog.app.ts'

const harness = participantHarness()
// A fixed clock, so that "today" cannot slide past midnight mid-test.
const today = new Date()
let app: FastifyInstance

beforeAll(async () => {
  app = await buildTourCatalog({ db: harness.db, redis: harness.redis, now: () => today })
})
afterAll(async () => {
  await app.close()
  await harness.close()
})

function tourRequest(overrides: Record<string, unknown> = {}) {
  return {
    name: 'Sunrise kayak', date: isoDateInDays(30, today), capacity: 10, price: 120.5, currency: 'EUR',
    cancellationPolicy: { minDays: 7, feePercent: 10 }, ...overrides,
  }
}

async function createTour(overrides: Record<string, unknown> = {}) {
  const response = await command(app, 'POST', '/api/tours', tourRequest(overrides))
  expect(response.statusCode).toBe(201)
  return response.json()
}

const spotsLeft = async (tourId: string) => (await read(app, `/api/tours/${tourId}`)).json().availableSpots

describe('tour catalog', () => {
  it('creates a tour and reads it back in the contract shape', async () => {
    const tour = await createTour()
    const found = await read(app, `/api/tours/${tour.tourId}`)
    expect(found.statusCode).toBe(200)
    expect(found.json()).toEqual({
      tourId: tour.tourId, name: 'Sunrise kayak', date: isoDateInDays(30, today), capacity: 10, availableSpots: 10,
      price: 120.5, currency: 'EUR', cancellationPolicy: { minDays: 7, feePercent: 10 },
    })
    const list = await read(app, '/api/tours')
    expect(list.json().map((t: { tourId: string }) => t.tourId)).toContain(tour.tourId)
  })

  it('answers 404 TOUR_NOT_FOUND for an unknown tour', async () => {
    const response = await read(app, `/api/tours/${randomUUID()}`)
    expect(response.statusCode).toBe(404)
    expect(response.json().error.code).toBe('TOUR_NOT_FOUND')
  })

  it('rejects an invalid tour with VALIDATION_FAILED and its details', async () => {
    const response = await command(app, 'POST', '/api/tours', { name: '', capacity: -1 })
    expect(response.statusCode).toBe(400)
    expect(response.json().error.code).toBe('VALIDATION_FAILED')
    expect(response.json().error.details.length).toBeGreaterThan(0)
  })

  it('reserves spots and quotes price × spots', async () => {
    const tour = await createTour()
    const response = await command(app, 'POST', `/api/tours/${tour.tourId}/reservations`, { spots: 3 })
    expect(response.statusCode).toBe(201)
    expect(response.json()).toMatchObject({ tourId: tour.tourId, spots: 3, amount: 361.5, currency: 'EUR', status: 'RESERVED' })
    const found = await read(app, `/api/tours/${tour.tourId}`)
    expect(found.json().availableSpots).toBe(7)
  })

  it('refuses more spots than are left with INSUFFICIENT_SPOTS and takes none', async () => {
    const tour = await createTour({ capacity: 2 })
    const response = await command(app, 'POST', `/api/tours/${tour.tourId}/reservations`, { spots: 3 })
    expect(response.statusCode).toBe(422)
    expect(response.json().error.code).toBe('INSUFFICIENT_SPOTS')
    expect((await read(app, `/api/tours/${tour.tourId}`)).json().availableSpots).toBe(2)
  })

  it('refuses a reservation in another currency', async () => {
    const tour = await createTour()
    const response = await command(app, 'POST', `/api/tours/${tour.tourId}/reservations`, { spots: 1, currency: 'USD' })
    expect(response.statusCode).toBe(422)
    expect(response.json().error.code).toBe('CURRENCY_MISMATCH')
  })

  it('never oversells when 30 reservations race for 10 spots', async () => {
    const tour = await createTour({ capacity: 10 })
    const responses = await Promise.all(Array.from({ length: 30 }, () =>
      command(app, 'POST', `/api/tours/${tour.tourId}/reservations`, { spots: 1 })))
    const codes = responses.map((r) => r.statusCode)
    expect(codes.filter((c) => c === 201)).toHaveLength(10)
    expect(codes.filter((c) => c === 422)).toHaveLength(20)
    expect((await read(app, `/api/tours/${tour.tourId}`)).json().availableSpots).toBe(0)
  })

  it('gives released spots back exactly once, even under different keys', async () => {
    const tour = await createTour({ capacity: 5 })
    const reservation = (await command(app, 'POST', `/api/tours/${tour.tourId}/reservations`, { spots: 2 })).json()
    const first = await command(app, 'POST', `/api/reservations/${reservation.reservationId}/release`)
    const second = await command(app, 'POST', `/api/reservations/${reservation.reservationId}/release`)
    expect(first.json()).toMatchObject({ status: 'RELEASED', releasedSpots: 2 })
    expect(second.json()).toMatchObject({ status: 'RELEASED', releasedSpots: 0 })
    expect((await read(app, `/api/tours/${tour.tourId}`)).json().availableSpots).toBe(5)
  })

  it('answers RESERVATION_NOT_FOUND when releasing an unknown reservation', async () => {
    const response = await command(app, 'POST', `/api/reservations/${randomUUID()}/release`)
    expect(response.statusCode).toBe(404)
    expect(response.json().error.code).toBe('RESERVATION_NOT_FOUND')
  })
})

describe('tour catalog: what a reservation may be', () => {
  const reserve = (tourId: string, spots: number, key?: string) => command(app, 'POST', `/api/tours/${tourId}/reservations`, { spots }, key)

  it('keeps tours dated in the past (a catalog keeps its history) but refuses to reserve them or today\'s with 422 TOUR_DEPARTED', async () => {
    for (const days of [0, -1, -400]) {
      const tour = await createTour({ date: isoDateInDays(days, today), capacity: 5 })
      const key = randomUUID()
      const refused = await reserve(tour.tourId, 1, key)
      expect(refused.statusCode, `${days} days`).toBe(422)
      expect(refused.json().error).toMatchObject({ code: 'TOUR_DEPARTED', tourId: tour.tourId, date: isoDateInDays(days, today) })
      expect(await spotsLeft(tour.tourId)).toBe(5)
      // A final answer: stored and replayed.
      expect((await reserve(tour.tourId, 1, key)).body).toBe(refused.body)
    }
    const tomorrow = await createTour({ date: isoDateInDays(1, today) })
    expect((await reserve(tomorrow.tourId, 1)).statusCode).toBe(201)
  })

  it('quotes a total up to MAX_AMOUNT and refuses one above it with 422 AMOUNT_LIMIT_EXCEEDED, taking no spot', async () => {
    const dear = await createTour({ price: 1_000_000, currency: 'EUR', capacity: 50 })
    const over = await reserve(dear.tourId, 21)
    expect(over.statusCode).toBe(422)
    expect(over.json().error).toMatchObject({ code: 'AMOUNT_LIMIT_EXCEEDED', amount: 21_000_000, maxAmount: MAX_AMOUNT, currency: 'EUR', requested: 21 })
    expect(await spotsLeft(dear.tourId)).toBe(50)

    // 20,000,000.00 EUR: 2 × 10⁹ cents, the most a minor-unit column holds with room to spare.
    const most = await reserve(dear.tourId, 20)
    expect(most.statusCode).toBe(201)
    expect(most.json()).toMatchObject({ amount: MAX_AMOUNT, currency: 'EUR' })
    expect(await spotsLeft(dear.tourId)).toBe(30)
  })

  it('quotes 11 spots of a 1,000,000 KRW tour as 11,000,000 KRW', async () => {
    const tour = await createTour({ price: 1_000_000, currency: 'KRW', capacity: 20 })
    const response = await reserve(tour.tourId, 11)
    expect(response.statusCode).toBe(201)
    expect(response.json()).toMatchObject({ amount: 11_000_000, currency: 'KRW', spots: 11 })
  })
})

describe('tour catalog without a service token', () => {
  it('refuses every command with 401 and applies none of them', async () => {
    const tour = await createTour({ capacity: 5 })
    const reservation = (await command(app, 'POST', `/api/tours/${tour.tourId}/reservations`, { spots: 2 })).json()
    const name = `nameless-${randomUUID()}`

    const create = await expectRefusedWithoutToken(app, harness.db, 'tour_catalog', '/api/tours', tourRequest({ name }))
    const reserve = await expectRefusedWithoutToken(app, harness.db, 'tour_catalog', `/api/tours/${tour.tourId}/reservations`, { spots: 1 })
    const release = await expectRefusedWithoutToken(app, harness.db, 'tour_catalog', `/api/reservations/${reservation.reservationId}/release`)
    expect(await harness.db.tour.count({ where: { name } })).toBe(0)
    expect(await spotsLeft(tour.tourId)).toBe(3)

    // The same requests with the token are applied, for the first time.
    expect((await create.withToken()).statusCode).toBe(201)
    expect((await reserve.withToken()).statusCode).toBe(201)
    expect((await release.withToken()).json()).toMatchObject({ status: 'RELEASED', releasedSpots: 2 })
    expect(await harness.db.tour.count({ where: { name } })).toBe(1)
    expect(await spotsLeft(tour.tourId)).toBe(4)
  })

  it('refuses reads too', async () => {
    const tour = await createTour()
    for (const url of ['/api/tours', `/api/tours/${tour.tourId}`]) {
      expect((await app.inject({ method: 'GET', url })).statusCode, url).toBe(401)
    }
  })
})

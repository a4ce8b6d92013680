import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { command, expectRefusedWithoutToken, isoDateInDays, participantHarness, read } from '../../test/support/participant-harness.ts'
import { buildTourCatalog } from './tour-catalog.app.ts'

const harness = participantHarness()
let app: FastifyInstance

beforeAll(async () => {
  app = await buildTourCatalog({ db: harness.db, redis: harness.redis })
})
afterAll(async () => {
  await app.close()
  await harness.close()
})

function tourRequest(overrides: Record<string, unknown> = {}) {
  return {
    name: 'Sunrise kayak', date: isoDateInDays(30), capacity: 10, price: 120.5, currency: 'EUR',
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
      tourId: tour.tourId, name: 'Sunrise kayak', date: isoDateInDays(30), capacity: 10, availableSpots: 10,
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

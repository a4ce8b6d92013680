import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { command, isoDateInDays } from '../../../../test/support/participant-harness.ts'
import { startSystem, TOKENS, type TestSystem } from '../../../../test/support/system.ts'

let system: TestSystem
const userId = `search-${randomUUID().slice(0, 8)}`
const sagaIds: string[] = []
let firstBookingId: string
let startedAt: Date

beforeAll(async () => {
  system = await startSystem()
  const tour = (await command(system.participant('tour-catalog'), 'POST', '/api/tours', {
    name: 'Search tour', date: isoDateInDays(20), capacity: 20, price: 10, currency: 'EUR', cancellationPolicy: { minDays: 1, feePercent: 0 },
  })).json()
  startedAt = new Date(Date.now() - 1_000)
  // Oldest first: two bookings, then a declined one.
  for (const paymentMethod of ['pm_card_visa', 'pm_card_visa', 'pm_card_chargeDeclined']) {
    const response = await system.orchestrator.inject({
      method: 'POST', url: '/api/orchestrator/bookings',
      headers: { authorization: TOKENS.client, 'idempotency-key': randomUUID() },
      payload: { tourId: tour.tourId, userId, numberOfSpots: 1, paymentMethod },
    })
    sagaIds.push(response.json().sagaId)
    firstBookingId ??= response.json().bookingId
  }
})
afterAll(async () => {
  await system?.close()
})

async function search(query: string) {
  const response = await system.orchestrator.inject({ method: 'GET', url: `/api/orchestrator/sagas?${query}`, headers: { authorization: TOKENS.support } })
  expect(response.statusCode).toBe(200)
  return response.json() as { items: { sagaId: string; status: string; resources: Record<string, string> }[]; nextCursor: string | null }
}

describe('saga search', () => {
  it('lists a user\'s sagas newest first, page by page', async () => {
    const first = await search(`userId=${userId}&limit=2`)
    expect(first.items.map((s) => s.sagaId)).toEqual([sagaIds[2], sagaIds[1]])
    expect(first.nextCursor).toBeTypeOf('string')
    const second = await search(`userId=${userId}&limit=2&cursor=${first.nextCursor}`)
    expect(second.items.map((s) => s.sagaId)).toEqual([sagaIds[0]])
    expect(second.nextCursor).toBeNull()
  })

  it('filters by status, type, booking and creation time', async () => {
    expect((await search(`userId=${userId}&status=FAILED`)).items.map((s) => s.sagaId)).toEqual([sagaIds[2]])
    expect((await search(`userId=${userId}&status=COMPLETED&type=tour-booking`)).items).toHaveLength(2)
    expect((await search(`userId=${userId}&type=hotel-reservation`)).items).toHaveLength(0)
    const byBooking = await search(`bookingId=${firstBookingId}`)
    expect(byBooking.items.map((s) => s.sagaId)).toEqual([sagaIds[0]])
    expect(byBooking.items[0]!.resources.bookingId).toBe(firstBookingId)
    expect((await search(`userId=${userId}&createdFrom=${startedAt.toISOString()}`)).items).toHaveLength(3)
    expect((await search(`userId=${userId}&createdTo=${startedAt.toISOString()}`)).items).toHaveLength(0)
  })

  it('counts sagas per status', async () => {
    const response = await system.orchestrator.inject({ method: 'GET', url: '/api/orchestrator/sagas/stats', headers: { authorization: TOKENS.support } })
    expect(response.statusCode).toBe(200)
    expect(response.json().counts.COMPLETED).toBeGreaterThanOrEqual(2)
  })

  it('refuses a cursor it did not make, and clients', async () => {
    const bad = await system.orchestrator.inject({ method: 'GET', url: '/api/orchestrator/sagas?cursor=bm9wZQ', headers: { authorization: TOKENS.support } })
    expect(bad.statusCode).toBe(400)
    expect(bad.json().error.code).toBe('VALIDATION_FAILED')
    const client = await system.orchestrator.inject({ method: 'GET', url: '/api/orchestrator/sagas', headers: { authorization: TOKENS.client } })
    expect(client.statusCode).toBe(403)
  })
})

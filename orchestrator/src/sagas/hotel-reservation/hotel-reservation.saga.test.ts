import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { addDays } from '../../../../participants/hotel/stay.ts'
import { command, isoDateInDays } from '../../../../test/support/participant-harness.ts'
import { startSystem, TOKENS, type TestSystem } from '../../../../test/support/system.ts'
import type { RetryPolicy } from '../../engine/retry-policy.ts'
import { defineSaga } from '../../engine/saga-definition.ts'
import { SagaRegistry } from '../../engine/saga-registry.ts'
import { hotelReservationSaga } from './hotel-reservation.saga.ts'

// The same saga retried faster: a loyalty service down for a while costs milliseconds here.
// Steps after the pivot still retry until they succeed.
const FAST: RetryPolicy = { maxAttempts: 4, initialDelayMs: 20, multiplier: 2, maxDelayMs: 100 }
const fastRegistry = () => new SagaRegistry().register(defineSaga({
  ...hotelReservationSaga,
  steps: hotelReservationSaga.steps.map((step) => ({ ...step, retry: { ...FAST, maxAttempts: step.retry.maxAttempts }, compensationRetry: FAST })),
}))

let system: TestSystem

beforeAll(async () => {
  system = await startSystem({ registry: fastRegistry() })
})
afterAll(async () => {
  await system?.close()
})

interface Step { name: string; phase: string; status: string; attempts: number; lastError?: { code: string } }

const POINTS_ROUTE = '/api/loyalty/accounts/:userId/points'

async function createHotel(system: TestSystem, room: { totalRooms?: number; capacity?: number; pricePerNight?: number } = {}) {
  const response = await command(system.participant('hotel'), 'POST', '/api/hotels', {
    name: 'Harbour View',
    roomTypes: [{ roomType: 'double', capacity: room.capacity ?? 2, totalRooms: room.totalRooms ?? 2, pricePerNight: room.pricePerNight ?? 95.5, currency: 'EUR' }],
  })
  expect(response.statusCode).toBe(201)
  return response.json() as { hotelId: string }
}

/** A stay of `nights` nights starting `daysAhead` days from today. */
function stay(daysAhead: number, nights: number) {
  const checkIn = isoDateInDays(daysAhead)
  return { checkIn, checkOut: addDays(checkIn, nights) }
}

function reservationRequest(hotelId: string, overrides: Record<string, unknown> = {}) {
  return { hotelId, roomType: 'double', userId: `user-${randomUUID().slice(0, 8)}`, ...stay(20, 3), guests: 2, paymentMethod: 'pm_card_visa', ...overrides }
}

function reserve(system: TestSystem, body: Record<string, unknown>, options: { wait?: number } = {}) {
  return system.orchestrator.inject({
    method: 'POST',
    url: `/api/orchestrator/hotel-reservations${options.wait !== undefined ? `?wait=${options.wait}` : ''}`,
    headers: { authorization: TOKENS.client, 'idempotency-key': randomUUID() },
    payload: body,
  })
}

async function sagaOf(system: TestSystem, sagaId: string) {
  const response = await system.orchestrator.inject({ method: 'GET', url: `/api/orchestrator/sagas/${sagaId}`, headers: { authorization: TOKENS.support } })
  expect(response.statusCode).toBe(200)
  return response.json() as { type: string; status: string; state: string; steps: Step[]; resources: Record<string, string> }
}

function stepOf(saga: { steps: Step[] }, name: string, phase = 'forward'): Step | undefined {
  return saga.steps.find((s) => s.name === name && s.phase === phase)
}

async function reservationOf(system: TestSystem, reservationId: string) {
  const response = await system.participant('hotel').inject({ method: 'GET', url: `/api/hotel-reservations/${reservationId}` })
  expect(response.statusCode).toBe(200)
  return response.json() as { status: string; nights: number; amount: number }
}

async function paymentsFor(system: TestSystem, reservationId: string) {
  return (await system.participant('payment').inject({ method: 'GET', url: `/api/payments?reservationId=${reservationId}` })).json() as
    { paymentId: string; status: string; amount: number; refundedAmount: number; currency: string }[]
}

async function chargesOf(system: TestSystem, userId: string): Promise<number> {
  return system.db.payment.count({ where: { userId } })
}

/** Free rooms of the type on each night of the stay (checkIn ≤ night < checkOut). */
async function freeRooms(system: TestSystem, hotelId: string, range: { checkIn: string; checkOut: string }): Promise<number[]> {
  const hotel = (await system.participant('hotel').inject({ method: 'GET', url: `/api/hotels/${hotelId}?days=60` })).json()
  const { availability } = hotel.roomTypes.find((r: { roomType: string }) => r.roomType === 'double')
  return availability.filter((n: { date: string }) => n.date >= range.checkIn && n.date < range.checkOut).map((n: { freeRooms: number }) => n.freeRooms)
}

/** Points on the user's account; undefined when the user has never earned any. */
async function pointsOf(system: TestSystem, userId: string): Promise<number | undefined> {
  const response = await system.participant('loyalty').inject({ method: 'GET', url: `/api/loyalty/accounts/${userId}` })
  if (response.statusCode === 404) return undefined
  expect(response.statusCode).toBe(200)
  return response.json().totalPoints
}

async function earnsOf(system: TestSystem, userId: string) {
  return system.db.loyaltyTransaction.findMany({ where: { userId, kind: 'EARN' } })
}

describe('hotel reservation saga', () => {
  it('reserves a stay: holds the room, charges price × nights, adds points, confirms and notifies', async () => {
    const hotel = await createHotel(system, { totalRooms: 2, pricePerNight: 95.5 })
    const body = reservationRequest(hotel.hotelId, stay(20, 3))
    const response = await reserve(system, body)
    expect(response.statusCode).toBe(201)
    const result = response.json()
    // 3 nights × 95.50; one point per whole euro.
    expect(result).toMatchObject({ status: 'COMPLETED', state: 'RESERVATION_COMPLETED', totalPrice: 286.5, currency: 'EUR', loyaltyPointsAdded: 286 })
    expect(result.reservationId).toBeTypeOf('string')
    expect(result.paymentId).toBeTypeOf('string')

    const saga = await sagaOf(system, result.sagaId)
    expect(saga.type).toBe('hotel-reservation')
    expect(saga.steps.map((s) => `${s.name}:${s.status}`)).toEqual([
      'reserveRoom:SUCCEEDED', 'processPayment:SUCCEEDED', 'addLoyaltyPoints:SUCCEEDED', 'confirmReservation:SUCCEEDED', 'sendConfirmation:SUCCEEDED',
    ])
    expect(await reservationOf(system, result.reservationId)).toMatchObject({ status: 'CONFIRMED', nights: 3, amount: 286.5 })
    expect(await paymentsFor(system, result.reservationId)).toMatchObject([{ paymentId: result.paymentId, status: 'SUCCEEDED', amount: 286.5, refundedAmount: 0 }])
    expect(await pointsOf(system, body.userId)).toBe(286)
    expect(await earnsOf(system, body.userId)).toHaveLength(1)
    // One of the two rooms is taken on each night of the stay, and only on those.
    expect(await freeRooms(system, hotel.hotelId, body)).toEqual([1, 1, 1])
    expect(await freeRooms(system, hotel.hotelId, { checkIn: body.checkOut, checkOut: addDays(body.checkOut, 1) })).toEqual([2])
    const notifications = (await system.participant('notification').inject({ method: 'GET', url: `/api/notifications?userId=${body.userId}` })).json()
    expect(notifications.map((n: { type: string }) => n.type)).toEqual(['hotel-reservation-confirmed'])
  })

  it('fails with ROOM_UNAVAILABLE when one night of the stay is full, holding and charging nothing', async () => {
    const hotel = await createHotel(system, { totalRooms: 1 })
    expect((await reserve(system, reservationRequest(hotel.hotelId, stay(20, 3)))).statusCode).toBe(201)

    // Overlaps the first stay on its last night only.
    const late = reservationRequest(hotel.hotelId, stay(22, 3))
    const response = await reserve(system, late)
    expect(response.statusCode).toBe(422)
    expect(response.json()).toMatchObject({ status: 'FAILED', error: { code: 'ROOM_UNAVAILABLE', step: 'reserveRoom' } })
    expect(await chargesOf(system, late.userId)).toBe(0)
    // The two free nights of the refused stay were not kept either.
    expect(await freeRooms(system, hotel.hotelId, stay(23, 2))).toEqual([1, 1])
  })

  it('fails with GUESTS_EXCEED_CAPACITY for more guests than a room sleeps', async () => {
    const hotel = await createHotel(system, { capacity: 2 })
    const body = reservationRequest(hotel.hotelId, { guests: 3 })
    const response = await reserve(system, body)
    expect(response.statusCode).toBe(422)
    expect(response.json()).toMatchObject({ status: 'FAILED', error: { code: 'GUESTS_EXCEED_CAPACITY', step: 'reserveRoom' } })
    expect(await chargesOf(system, body.userId)).toBe(0)
    expect(await freeRooms(system, hotel.hotelId, body)).toEqual([2, 2, 2])
  })

  it('refuses a check-out before the check-in with 400 VALIDATION_FAILED and creates no saga', async () => {
    const hotel = await createHotel(system)
    const body = reservationRequest(hotel.hotelId, { checkIn: isoDateInDays(20), checkOut: isoDateInDays(18) })
    const response = await reserve(system, body)
    expect(response.statusCode).toBe(400)
    expect(response.json().error).toMatchObject({ code: 'VALIDATION_FAILED' })
    expect(await system.db.saga.count({ where: { userId: body.userId } })).toBe(0)
    expect(await chargesOf(system, body.userId)).toBe(0)
  })

  it('releases the room when the card is declined, and charges nothing', async () => {
    const hotel = await createHotel(system, { totalRooms: 2 })
    const body = reservationRequest(hotel.hotelId, { paymentMethod: 'pm_card_chargeDeclined' })
    const response = await reserve(system, body)
    expect(response.statusCode).toBe(422)
    expect(response.json()).toMatchObject({ status: 'FAILED', error: { code: 'PAYMENT_DECLINED', step: 'processPayment' } })

    const saga = await sagaOf(system, response.json().sagaId)
    expect(saga.state).toBe('RESERVATION_ROLLED_BACK')
    expect(stepOf(saga, 'reserveRoom', 'compensation')).toMatchObject({ status: 'SUCCEEDED' })
    const reservationId = saga.resources.reservationId!
    expect(await reservationOf(system, reservationId)).toMatchObject({ status: 'RELEASED' })
    expect(await freeRooms(system, hotel.hotelId, body)).toEqual([2, 2, 2])
    expect(await paymentsFor(system, reservationId)).toEqual([])
    expect(await pointsOf(system, body.userId)).toBeUndefined()
  })

  describe('loyalty points are added exactly once', () => {
    it('adds the points once when the loyalty service answers 503 twice before adding them', async () => {
      const hotel = await createHotel(system)
      const body = reservationRequest(hotel.hotelId)
      const fault = system.inject({ participant: 'loyalty', route: POINTS_ROUTE, status: 503, times: 2 })
      try {
        const response = await reserve(system, body)
        expect(response.statusCode).toBe(201)
        expect(fault.hits).toBe(2)
        expect(response.json().loyaltyPointsAdded).toBe(286)
        expect(stepOf(await sagaOf(system, response.json().sagaId), 'addLoyaltyPoints')).toMatchObject({ status: 'SUCCEEDED', attempts: 3 })
        expect(await pointsOf(system, body.userId)).toBe(286)
        expect(await earnsOf(system, body.userId)).toHaveLength(1)
      } finally {
        system.clearFaults()
      }
    })

    it('replays, adding nothing, when the saga\'s command is re-sent after it was applied (as after a crash)', async () => {
      const hotel = await createHotel(system)
      const body = reservationRequest(hotel.hotelId)
      const response = await reserve(system, body)
      expect(response.statusCode).toBe(201)
      const { sagaId, reservationId, totalPrice, currency } = response.json()
      expect(await pointsOf(system, body.userId)).toBe(286)

      // Exactly what the orchestrator sends for this step, with its deterministic key.
      const path = `/api/loyalty/accounts/${body.userId}/points`
      const sagaCommand = { amount: totalPrice, currency, reference: `hotel-reservation:${reservationId}` }
      const resent = await command(system.participant('loyalty'), 'POST', path, sagaCommand, `${sagaId}:addLoyaltyPoints:forward`, { 'x-client-id': 'orchestrator' })
      expect(resent.statusCode).toBe(201)
      expect(resent.json()).toMatchObject({ pointsAdded: 286, reference: sagaCommand.reference })
      expect(await pointsOf(system, body.userId)).toBe(286)

      // Even under another key, the same reservation never earns twice.
      const otherKey = await command(system.participant('loyalty'), 'POST', path, sagaCommand, randomUUID(), { 'x-client-id': 'orchestrator' })
      expect(otherKey.statusCode).toBe(200)
      expect(otherKey.json().pointsAdded).toBe(286)
      expect(await pointsOf(system, body.userId)).toBe(286)
      expect(await earnsOf(system, body.userId)).toHaveLength(1)
    })

    it('never undoes a paid reservation while the loyalty service is down: RUNNING with the step RETRYING, then completes', async () => {
      const hotel = await createHotel(system)
      const body = reservationRequest(hotel.hotelId)
      const fault = system.inject({ participant: 'loyalty', route: POINTS_ROUTE, status: 503 })
      try {
        const started = await reserve(system, body, { wait: 0 })
        expect(started.statusCode).toBe(202)
        const { sagaId } = started.json()
        await expect.poll(async () => stepOf(await sagaOf(system, sagaId), 'addLoyaltyPoints')?.attempts ?? 0, { timeout: 10_000 }).toBeGreaterThanOrEqual(4)

        const working = await sagaOf(system, sagaId)
        expect(working).toMatchObject({ status: 'RUNNING', state: 'PAYMENT_PROCESSED' })
        expect(stepOf(working, 'addLoyaltyPoints')).toMatchObject({ status: 'RETRYING', lastError: { code: 'INJECTED_FAULT' } })
        expect(working.steps.filter((s) => s.phase === 'compensation')).toEqual([])
        const reservationId = working.resources.reservationId!
        // Paid and held: nothing is given back while the points are pending.
        expect(await paymentsFor(system, reservationId)).toMatchObject([{ status: 'SUCCEEDED', refundedAmount: 0 }])
        expect(await reservationOf(system, reservationId)).toMatchObject({ status: 'HELD' })
        expect(await freeRooms(system, hotel.hotelId, body)).toEqual([1, 1, 1])

        system.clearFaults()
        await expect.poll(async () => (await sagaOf(system, sagaId)).status, { timeout: 10_000 }).toBe('COMPLETED')
        expect(stepOf(await sagaOf(system, sagaId), 'addLoyaltyPoints')).toMatchObject({ status: 'SUCCEEDED', attempts: fault.hits + 1 })
        expect(await reservationOf(system, reservationId)).toMatchObject({ status: 'CONFIRMED' })
        expect(await paymentsFor(system, reservationId)).toMatchObject([{ status: 'SUCCEEDED', refundedAmount: 0 }])
        expect(await pointsOf(system, body.userId)).toBe(286)
        expect(await earnsOf(system, body.userId)).toHaveLength(1)
      } finally {
        system.clearFaults()
      }
    })
  })

  it('refuses dates that are not ISO dates with 400 VALIDATION_FAILED before any saga exists', async () => {
    const hotel = await createHotel(system)
    const body = reservationRequest(hotel.hotelId, { checkIn: '2030-13-01', checkOut: 'next friday' })
    const response = await reserve(system, body)
    expect(response.statusCode).toBe(400)
    expect(response.json().error.code).toBe('VALIDATION_FAILED')
    expect(response.json().error.details.map((d: { path: string }) => d.path)).toEqual(expect.arrayContaining(['/checkIn', '/checkOut']))
    expect(await system.db.saga.count({ where: { userId: body.userId } })).toBe(0)
    expect(await chargesOf(system, body.userId)).toBe(0)
  })
})

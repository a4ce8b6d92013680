import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { command, isoDateInDays } from '../../../test/support/participant-harness.ts'
import { startSystem, TOKENS, type TestSystem } from '../../../test/support/system.ts'
import { defineSaga } from '../engine/saga-definition.ts'
import { createSagaRegistry } from './index.ts'
import { payment, segment, tourCatalog } from './participants.ts'

// Adding a saga type is writing its definition and registering it: no engine file, no route,
// no table changes. This saga exists only in this file and runs through the real API against
// the real participants.

interface SpotDepositInput {
  tourId: string
  userId: string
  spots: number
  paymentMethod: string
}

/** Holds spots on a tour → charges their price (the pivot). A declined card gives the spots back. */
const spotDepositSaga = defineSaga<SpotDepositInput>({
  type: 'tour-spot-deposit',
  deadlineMs: 30_000,
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['tourId', 'userId', 'spots', 'paymentMethod'],
    properties: {
      tourId: { type: 'string', format: 'uuid' },
      userId: { type: 'string', minLength: 1, maxLength: 100 },
      spots: { type: 'integer', minimum: 1, maximum: 5 },
      paymentMethod: { type: 'string', minLength: 1 },
    },
  },
  completedState: 'DEPOSIT_TAKEN',
  compensatedState: 'DEPOSIT_ROLLED_BACK',
  steps: [
    {
      name: 'holdSpots',
      kind: 'compensatable',
      state: 'SPOTS_HELD',
      compensatedState: 'SPOTS_RELEASED',
      invoke: ({ input }) => tourCatalog.post(`/api/tours/${segment(input.tourId)}/reservations`, { spots: input.spots }),
      compensate: ({ results }) => tourCatalog.post(`/api/reservations/${segment(results.holdSpots.reservationId)}/release`),
      compensationRetry: { maxAttempts: 5, initialDelayMs: 20, multiplier: 2, maxDelayMs: 100 },
    },
    {
      name: 'chargeDeposit',
      kind: 'pivot',
      state: 'DEPOSIT_CHARGED',
      invoke: ({ input, results }) => payment.post('/api/payments', {
        userId: input.userId,
        amount: results.holdSpots.amount,
        currency: results.holdSpots.currency,
        paymentMethod: input.paymentMethod,
        reservationId: results.holdSpots.reservationId,
      }),
    },
  ],
  result: ({ results }) => ({
    reservationId: results.holdSpots?.reservationId,
    paymentId: results.chargeDeposit?.paymentId,
    amount: results.holdSpots?.amount,
  }),
  references: ({ input, results }) => ({ userId: input.userId, reservationId: results.holdSpots?.reservationId }),
})

let system: TestSystem

beforeAll(async () => {
  // The standard sagas plus this one: one register call.
  system = await startSystem({ registry: createSagaRegistry().register(spotDepositSaga) })
})
afterAll(async () => {
  await system?.close()
})

async function createTour(system: TestSystem) {
  const response = await command(system.participant('tour-catalog'), 'POST', '/api/tours', {
    name: 'Lighthouse climb', date: isoDateInDays(30), capacity: 10, price: 25, currency: 'EUR',
    cancellationPolicy: { minDays: 3, feePercent: 0 },
  })
  expect(response.statusCode).toBe(201)
  return response.json() as { tourId: string }
}

function startDeposit(system: TestSystem, body: Record<string, unknown>) {
  return system.orchestrator.inject({
    method: 'POST',
    url: '/api/orchestrator/sagas/tour-spot-deposit',
    headers: { authorization: TOKENS.client, 'idempotency-key': randomUUID() },
    payload: body,
  })
}

async function sagaOf(system: TestSystem, sagaId: string) {
  const response = await system.orchestrator.inject({ method: 'GET', url: `/api/orchestrator/sagas/${sagaId}`, headers: { authorization: TOKENS.support } })
  expect(response.statusCode).toBe(200)
  return response.json() as { type: string; status: string; state: string; steps: { name: string; phase: string; status: string; attempts: number }[] }
}

async function spotsLeft(system: TestSystem, tourId: string): Promise<number> {
  return (await system.participant('tour-catalog').inject({ method: 'GET', url: `/api/tours/${tourId}` })).json().availableSpots
}

async function reservationStatus(system: TestSystem, reservationId: string): Promise<string> {
  return (await system.participant('tour-catalog').inject({ method: 'GET', url: `/api/reservations/${reservationId}` })).json().status
}

const deposit = (tourId: string, overrides: Record<string, unknown> = {}) =>
  ({ tourId, userId: `user-${randomUUID().slice(0, 8)}`, spots: 3, paymentMethod: 'pm_card_visa', ...overrides })

describe('a saga type defined outside the engine', () => {
  it('runs through the API to completion', async () => {
    const tour = await createTour(system)
    const response = await startDeposit(system, deposit(tour.tourId))
    expect(response.statusCode).toBe(201)
    const result = response.json()
    expect(result).toMatchObject({ status: 'COMPLETED', state: 'DEPOSIT_TAKEN', amount: 75 })

    const saga = await sagaOf(system, result.sagaId)
    expect(saga.type).toBe('tour-spot-deposit')
    expect(saga.steps.map((s) => `${s.name}:${s.phase}:${s.status}`)).toEqual(['holdSpots:forward:SUCCEEDED', 'chargeDeposit:forward:SUCCEEDED'])
    expect(await spotsLeft(system, tour.tourId)).toBe(7)
    expect(await reservationStatus(system, result.reservationId)).toBe('RESERVED')
    const payments = (await system.participant('payment').inject({ method: 'GET', url: `/api/payments?reservationId=${result.reservationId}` })).json()
    expect(payments).toMatchObject([{ paymentId: result.paymentId, amount: 75, status: 'SUCCEEDED' }])
  })

  it('compensates through the API: a declined card gives the spots back, retrying a failing release', async () => {
    const tour = await createTour(system)
    const releaseFault = system.inject({ participant: 'tour-catalog', route: '/api/reservations/:reservationId/release', status: 503, times: 2 })
    try {
      const response = await startDeposit(system, deposit(tour.tourId, { paymentMethod: 'pm_card_chargeDeclined' }))
      expect(response.statusCode).toBe(422)
      expect(response.json()).toMatchObject({ status: 'FAILED', state: 'DEPOSIT_ROLLED_BACK', error: { code: 'PAYMENT_DECLINED', step: 'chargeDeposit' } })
      expect(releaseFault.hits).toBe(2)

      const saga = await sagaOf(system, response.json().sagaId)
      expect(saga.steps.map((s) => `${s.name}:${s.phase}:${s.status}`)).toEqual([
        'holdSpots:forward:SUCCEEDED', 'chargeDeposit:forward:REJECTED', 'holdSpots:compensation:SUCCEEDED',
      ])
      expect(saga.steps.at(-1)!.attempts).toBe(3)
      expect(await spotsLeft(system, tour.tourId)).toBe(10)
    } finally {
      system.clearFaults()
    }
  })

  it('validates its input with its own schema before any saga exists', async () => {
    const tour = await createTour(system)
    const body = deposit(tour.tourId, { spots: 6 })
    const response = await startDeposit(system, body)
    expect(response.statusCode).toBe(400)
    expect(response.json().error.code).toBe('VALIDATION_FAILED')
    expect(await system.db.saga.count({ where: { userId: body.userId } })).toBe(0)
    expect(await spotsLeft(system, tour.tourId)).toBe(10)
  })

  it('runs beside the standard sagas, which the same orchestrator still serves', async () => {
    const tour = await createTour(system)
    const userId = `user-${randomUUID().slice(0, 8)}`
    const booking = await system.orchestrator.inject({
      method: 'POST',
      url: '/api/orchestrator/bookings',
      headers: { authorization: TOKENS.client, 'idempotency-key': randomUUID() },
      payload: { tourId: tour.tourId, userId, numberOfSpots: 1, paymentMethod: 'pm_card_visa' },
    })
    expect(booking.statusCode).toBe(201)
    const held = await startDeposit(system, deposit(tour.tourId, { userId, spots: 2 }))
    expect(held.statusCode).toBe(201)
    expect(await spotsLeft(system, tour.tourId)).toBe(7)

    const listed = await system.orchestrator.inject({ method: 'GET', url: `/api/orchestrator/sagas?userId=${userId}`, headers: { authorization: TOKENS.support } })
    expect(listed.json().items.map((s: { type: string }) => s.type).sort()).toEqual(['tour-booking', 'tour-spot-deposit'])
  })
})

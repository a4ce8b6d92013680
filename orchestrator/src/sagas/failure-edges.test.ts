import { randomUUID } from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { command, isoDateInDays, read } from '../../../test/support/participant-harness.ts'
import { startSystem, TOKENS, type TestSystem } from '../../../test/support/system.ts'
import { defineSaga } from '../engine/saga-definition.ts'
import { SagaRegistry } from '../engine/saga-registry.ts'
import { bookingCancellationSaga } from './booking-cancellation/booking-cancellation.saga.ts'
import { tourBookingSaga } from './tour-booking/tour-booking.saga.ts'

// The edges of the tour booking, through the real participants, Postgres and Redis: every
// answer means one thing, rejections are facts (never retried under the same key), unknown
// outcomes are settled with the participant's fence (never by sending the command again), an
// abort or the deadline binds the pivot too, and an undo that finds its target state is done.

const QUICK = { maxAttempts: 3, initialDelayMs: 20, multiplier: 2, maxDelayMs: 60 }
const registry = (deadlineMs = 120_000) => new SagaRegistry()
  .register(defineSaga({
    ...tourBookingSaga,
    deadlineMs,
    steps: tourBookingSaga.steps.map((step) => ({ ...step, compensationRetry: QUICK, ...(step.kind === 'pivot' ? { retry: { ...QUICK, maxAttempts: Infinity } } : step.kind === 'compensatable' ? { retry: QUICK } : {}) })),
  }))
  .register(bookingCancellationSaga)

let system: TestSystem
let hurried: TestSystem
beforeAll(async () => {
  system = await startSystem({ registry: registry() })
  hurried = await startSystem({ registry: registry(1_500) })
})
afterEach(() => {
  system.clearFaults()
  hurried.clearFaults()
})
afterAll(async () => {
  await system?.close()
  await hurried?.close()
})

async function createTour(on: TestSystem, overrides: Record<string, unknown> = {}) {
  const response = await command(on.participant('tour-catalog'), 'POST', '/api/tours', {
    name: 'Canal walk', date: isoDateInDays(40), capacity: 10, price: 50, currency: 'EUR', cancellationPolicy: { minDays: 3, feePercent: 10 }, ...overrides,
  })
  expect(response.statusCode).toBe(201)
  return response.json() as { tourId: string }
}

const book = (on: TestSystem, tourId: string, options: { wait?: number; userId?: string; paymentMethod?: string } = {}) => on.orchestrator.inject({
  method: 'POST',
  url: `/api/orchestrator/bookings?wait=${options.wait ?? 10_000}`,
  headers: { authorization: TOKENS.client, 'idempotency-key': randomUUID() },
  payload: { tourId, userId: options.userId ?? `edge-${randomUUID().slice(0, 8)}`, numberOfSpots: 2, paymentMethod: options.paymentMethod ?? 'pm_card_visa' },
})
const operate = (on: TestSystem, sagaId: string, action: string, reason = 'testing the edges') => on.orchestrator.inject({
  method: 'POST', url: `/api/orchestrator/sagas/${sagaId}/${action}`, headers: { authorization: TOKENS.operator }, payload: { reason },
})
const view = async (on: TestSystem, sagaId: string) => (await on.orchestrator.inject({ method: 'GET', url: `/api/orchestrator/sagas/${sagaId}`, headers: { authorization: TOKENS.support } })).json()
const spotsLeft = async (on: TestSystem, tourId: string) => (await read(on.participant('tour-catalog'), `/api/tours/${tourId}`)).json().availableSpots as number
/** Charges for bookings of a tour (read across schemas: a test may, a service may not). */
const paymentsOf = async (on: TestSystem, tourId: string) =>
  (await on.db.$queryRawUnsafe<{ n: bigint }[]>('SELECT count(*) AS n FROM payment.payments p JOIN booking.bookings b ON b.id::text = p.booking_id WHERE b.tour_id = $1::uuid', tourId))[0]!.n

describe('a tour dated in the past', () => {
  it('is refused at the source: TOUR_DEPARTED, no spot taken, no card charged', async () => {
    const tour = await createTour(system, { date: '2020-01-01' })
    const response = await book(system, tour.tourId)
    expect(response.json()).toMatchObject({ status: 'FAILED', error: { code: 'TOUR_DEPARTED', step: 'reserveTour' } })
    expect(await spotsLeft(system, tour.tourId)).toBe(10)
    expect(await paymentsOf(system, tour.tourId)).toBe(0n)
  })
})

describe('a deterministic rejection after the pivot', () => {
  it('parks the saga at once; the client gets 202 PARKED with the incident, and skip ends it', async () => {
    const fault = system.inject({ participant: 'loyalty', route: '/api/loyalty/accounts/:userId/points', status: 400, body: { error: { code: 'VALIDATION_FAILED', message: 'amount must be <= 10000000' } } })
    const tour = await createTour(system)
    const response = await book(system, tour.tourId)
    expect(response.statusCode).toBe(202)
    const { sagaId } = response.json()
    expect(response.json()).toMatchObject({ status: 'PARKED', state: 'BOOKING_CONFIRMED', incident: { step: 'awardLoyaltyPoints', code: 'VALIDATION_FAILED', participant: 'loyalty', participantStatus: 400, attempts: 1 } })
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(fault.hits).toBe(1) // no loop: one call, however long it waits
    expect((await operate(system, sagaId, 'abort')).json().error.code).toBe('SAGA_NOT_ABORTABLE')
    // Found by what it waits on.
    const parked = await system.orchestrator.inject({ method: 'GET', url: '/api/orchestrator/sagas?status=PARKED&incidentCode=VALIDATION_FAILED&step=awardLoyaltyPoints&limit=200', headers: { authorization: TOKENS.support } })
    expect(parked.json().items.map((i: { sagaId: string }) => i.sagaId)).toContain(sagaId)
    const skipped = await operate(system, sagaId, 'skip', 'points granted by hand')
    expect(skipped.statusCode).toBe(202)
    await expect.poll(async () => (await view(system, sagaId)).status).toBe('COMPLETED')
    expect(fault.hits).toBe(1)
  })
})

describe('an undo that finds its target state', () => {
  it('is done: a booking already cancelled when the rollback cancels it ends FAILED, not stuck', async () => {
    system.inject({ participant: 'booking', route: '/api/bookings/:bookingId/cancel', status: 409, body: { error: { code: 'BOOKING_ALREADY_CANCELLED', message: 'The booking is cancelled already' } } })
    const tour = await createTour(system)
    const response = await book(system, tour.tourId, { paymentMethod: 'pm_card_chargeDeclined' })
    expect(response.json()).toMatchObject({ status: 'FAILED', error: { code: 'PAYMENT_DECLINED' } })
    const steps = (await view(system, response.json().sagaId)).steps
    expect(steps).toContainEqual(expect.objectContaining({ name: 'createBooking', phase: 'compensation', status: 'SUCCEEDED', attempts: 1 }))
    expect(await spotsLeft(system, tour.tourId)).toBe(10)
  })
})

describe('an answer that proves the key was processed with another body', () => {
  it('is an unknown outcome settled with the fence, not a rejection', async () => {
    system.inject({ participant: 'booking', route: '/api/bookings', status: 422, body: { error: { code: 'IDEMPOTENCY_KEY_REUSED', message: 'This Idempotency-Key was used with a different request' } } })
    const tour = await createTour(system)
    const response = await book(system, tour.tourId)
    const saga = await view(system, response.json().sagaId)
    expect(saga).toMatchObject({ status: 'FAILED', error: { code: 'PARTICIPANT_UNAVAILABLE', step: 'createBooking' } })
    // Three attempts under one key, then the booking service's fence: it never saw the command.
    expect(saga.steps).toContainEqual(expect.objectContaining({ name: 'createBooking', phase: 'forward', status: 'SETTLED' }))
    expect(await spotsLeft(system, tour.tourId)).toBe(10)
  })
})

describe('the pivot', () => {
  it('stops being retried when an operator aborts, is settled with the fence, and a late charge under its key is refused', async () => {
    const fault = system.inject({ participant: 'payment', route: '/api/payments', method: 'POST', status: 503 })
    const tour = await createTour(system)
    const { sagaId } = (await book(system, tour.tourId, { wait: 0 })).json()
    await expect.poll(() => fault.hits, { timeout: 10_000 }).toBeGreaterThan(1)
    const aborted = await operate(system, sagaId, 'abort', 'the customer called')
    expect(aborted.statusCode).toBe(202)
    await expect.poll(async () => (await view(system, sagaId)).status, { timeout: 15_000 }).toBe('FAILED')
    expect(await view(system, sagaId)).toMatchObject({ error: { code: 'SAGA_ABORTED', step: 'processPayment' } })
    expect(await spotsLeft(system, tour.tourId)).toBe(10)
    expect(await paymentsOf(system, tour.tourId)).toBe(0n)
    // The original charge, arriving late: fenced, nothing charged.
    system.clearFaults()
    const late = await command(system.participant('payment'), 'POST', '/api/payments', { userId: 'u', amount: 100, currency: 'EUR', paymentMethod: 'pm_card_visa' }, `${sagaId}:processPayment:forward`)
    expect(late.statusCode).toBe(409)
    expect(late.json().error.code).toBe('IDEMPOTENCY_KEY_FENCED')
    const log = (await system.orchestrator.inject({ method: 'GET', url: `/api/orchestrator/sagas/${sagaId}/log`, headers: { authorization: TOKENS.support } })).json().events
    expect(log).toContainEqual(expect.objectContaining({ type: 'OPERATOR_ABORT', detail: expect.objectContaining({ reason: 'the customer called' }) }))
  })

  it('is bound by the deadline: past it the charge is settled and the saga turns back', async () => {
    hurried.inject({ participant: 'payment', route: '/api/payments', method: 'POST', status: 503 })
    const tour = await createTour(hurried)
    const response = await book(hurried, tour.tourId, { wait: 15_000 })
    expect(response.json()).toMatchObject({ status: 'FAILED', error: { code: 'SAGA_TIMEOUT', step: 'processPayment' } })
    expect(await spotsLeft(hurried, tour.tourId)).toBe(10)
    expect(await paymentsOf(hurried, tour.tourId)).toBe(0n)
  })
})

describe('cancelling a booking whose own saga is unfinished', () => {
  it('is refused untouched by both cancellation routes, the generic one too', async () => {
    system.inject({ participant: 'loyalty', route: '/api/loyalty/accounts/:userId/points', status: 400, body: { error: { code: 'VALIDATION_FAILED', message: 'no' } } })
    const tour = await createTour(system)
    const userId = `edge-${randomUUID().slice(0, 8)}`
    const parked = (await book(system, tour.tourId, { userId })).json()
    expect(parked.status).toBe('PARKED')
    const bookingId = (await view(system, parked.sagaId)).resources.bookingId
    for (const request of [
      { url: `/api/orchestrator/bookings/${bookingId}/cancellation`, payload: { userId } },
      { url: '/api/orchestrator/sagas/booking-cancellation', payload: { bookingId, userId } },
    ]) {
      const response = await system.orchestrator.inject({ method: 'POST', ...request, headers: { authorization: TOKENS.client, 'idempotency-key': randomUUID() } })
      expect(response.statusCode, request.url).toBe(409)
      expect(response.json().error).toMatchObject({ code: 'BOOKING_SAGA_IN_PROGRESS', sagaId: parked.sagaId })
    }
    expect((await read(system.participant('booking'), `/api/bookings/${bookingId}`)).json().status).toBe('CONFIRMED')
  })
})

import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { command, expectRefusedWithoutToken, participantHarness, read } from '../../test/support/participant-harness.ts'
import { buildPayment, paymentProviderFromConfig } from './payment.app.ts'
import { providerIdempotencyKey } from './payments.routes.ts'
import { createSimulatorProvider } from './simulator-provider.ts'

const harness = participantHarness()
let app: FastifyInstance

beforeAll(async () => {
  app = await buildPayment({ db: harness.db, redis: harness.redis, provider: createSimulatorProvider() })
})
afterAll(async () => {
  await app.close()
  await harness.close()
})

function chargeRequest(overrides: Record<string, unknown> = {}) {
  return {
    userId: `user-${randomUUID()}`, amount: 241, currency: 'EUR', paymentMethod: 'pm_card_visa',
    bookingId: randomUUID(), ...overrides,
  }
}

async function charge(overrides: Record<string, unknown> = {}) {
  const response = await command(app, 'POST', '/api/payments', chargeRequest(overrides))
  expect(response.statusCode).toBe(201)
  return response.json()
}

const refund = (paymentId: string, body?: Record<string, unknown>, key?: string) =>
  command(app, 'POST', `/api/payments/${paymentId}/refunds`, body, key)
const paymentOf = async (paymentId: string) => (await read(app, `/api/payments/${paymentId}`)).json()
const refundRows = (paymentId: string) => harness.db.refund.findMany({ where: { paymentId } })

describe('payment (simulator)', () => {
  it('chooses Stripe only when STRIPE_SECRET_KEY is set', () => {
    expect(paymentProviderFromConfig({ STRIPE_SECRET_KEY: undefined, STRIPE_API_BASE: undefined }).name).toBe('simulator')
    expect(paymentProviderFromConfig({ STRIPE_SECRET_KEY: 'sk_test_123', STRIPE_API_BASE: undefined }).name).toBe('stripe')
  })

  describe('charge', () => {
    it('charges a card that works and reads the payment back', async () => {
      const reservationId = randomUUID()
      const request = chargeRequest({ amount: 120.5, reservationId, paymentMethod: 'pm_card_mastercard' })
      const response = await command(app, 'POST', '/api/payments', request)
      expect(response.statusCode).toBe(201)
      const payment = response.json()
      expect(payment).toEqual({
        paymentId: expect.any(String), status: 'SUCCEEDED', amount: 120.5, refundedAmount: 0, currency: 'EUR',
        userId: request.userId, provider: 'simulator', providerPaymentId: expect.stringMatching(/^pi_sim_[\da-f-]{36}$/),
        bookingId: request.bookingId, reservationId,
        createdAt: expect.any(String), updatedAt: expect.any(String),
      })
      expect(await paymentOf(payment.paymentId)).toEqual(payment)
      const stored = await harness.db.payment.findUniqueOrThrow({ where: { id: payment.paymentId } })
      expect(stored.amountMinor).toBe(12050)
    })

    it.each([
      ['pm_card_chargeDeclined', 'generic_decline'],
      ['pm_card_chargeDeclinedInsufficientFunds', 'insufficient_funds'],
      ['pm_card_doesNotExist', 'invalid_payment_method'],
    ])('declines %s with PAYMENT_DECLINED (%s), keeps no payment and answers a replay the same', async (paymentMethod, declineCode) => {
      const request = chargeRequest({ paymentMethod })
      const key = randomUUID()
      const first = await command(app, 'POST', '/api/payments', request, key)
      expect(first.statusCode).toBe(402)
      expect(first.json().error).toMatchObject({ code: 'PAYMENT_DECLINED', declineCode })
      const replay = await command(app, 'POST', '/api/payments', request, key)
      expect(replay.statusCode).toBe(402)
      expect(replay.headers['idempotent-replayed']).toBe('true')
      expect(replay.body).toBe(first.body)
      expect(await harness.db.payment.count({ where: { bookingId: request.bookingId } })).toBe(0)
    })

    it('charges once for a replayed charge', async () => {
      const request = chargeRequest()
      const key = randomUUID()
      const first = await command(app, 'POST', '/api/payments', request, key)
      const replay = await command(app, 'POST', '/api/payments', request, key)
      expect(replay.statusCode).toBe(201)
      expect(replay.body).toBe(first.body)
      expect(await harness.db.payment.count({ where: { bookingId: request.bookingId } })).toBe(1)
    })

    it('rejects an invalid charge with VALIDATION_FAILED', async () => {
      const zero = await command(app, 'POST', '/api/payments', chargeRequest({ amount: 0 }))
      expect(zero.statusCode).toBe(400)
      expect(zero.json().error.code).toBe('VALIDATION_FAILED')
      const dust = await command(app, 'POST', '/api/payments', chargeRequest({ amount: 0.001 }))
      expect(dust.statusCode).toBe(400)
      expect(dust.json().error.code).toBe('VALIDATION_FAILED')
    })
  })

  describe('refund', () => {
    it('refunds everything left when no amount is given', async () => {
      const payment = await charge({ amount: 99.99 })
      const response = await refund(payment.paymentId, { reason: 'booking cancelled' })
      expect(response.statusCode).toBe(201)
      expect(response.json()).toMatchObject({
        refundId: expect.any(String), paymentId: payment.paymentId, amount: 99.99,
        payment: { status: 'REFUNDED', amount: 99.99, refundedAmount: 99.99 },
      })
      expect(await paymentOf(payment.paymentId)).toMatchObject({ status: 'REFUNDED', refundedAmount: 99.99 })
      const [row] = await refundRows(payment.paymentId)
      expect(row).toMatchObject({ amountMinor: 9999, reason: 'booking cancelled', providerRefundId: expect.stringMatching(/^re_sim_/) })
    })

    it('refunds in parts and refuses more than is left with REFUND_EXCEEDS_CHARGE', async () => {
      const payment = await charge({ amount: 100 })
      const first = await refund(payment.paymentId, { amount: 30.25 })
      expect(first.statusCode).toBe(201)
      expect(first.json().payment).toMatchObject({ status: 'PARTIALLY_REFUNDED', refundedAmount: 30.25 })

      const tooMuch = await refund(payment.paymentId, { amount: 69.76 })
      expect(tooMuch.statusCode).toBe(422)
      expect(tooMuch.json().error).toMatchObject({ code: 'REFUND_EXCEEDS_CHARGE', requested: 69.76, refundable: 69.75 })

      const rest = await refund(payment.paymentId, { amount: 69.75 })
      expect(rest.statusCode).toBe(201)
      expect(rest.json().payment).toMatchObject({ status: 'REFUNDED', refundedAmount: 100 })
      expect((await refundRows(payment.paymentId)).map((r) => r.amountMinor).sort()).toEqual([3025, 6975])
    })

    it('answers a refund of nothing with 200 and amount 0, without a refund', async () => {
      const payment = await charge()
      const zero = await refund(payment.paymentId, { amount: 0 })
      expect(zero.statusCode).toBe(200)
      expect(zero.json()).toMatchObject({ refundId: null, amount: 0, payment: { status: 'SUCCEEDED', refundedAmount: 0 } })

      expect((await refund(payment.paymentId)).statusCode).toBe(201)
      const nothingLeft = await refund(payment.paymentId)
      expect(nothingLeft.statusCode).toBe(200)
      expect(nothingLeft.json()).toMatchObject({ refundId: null, amount: 0, payment: { status: 'REFUNDED' } })
      expect(await refundRows(payment.paymentId)).toHaveLength(1)
    })

    it('refunds once for a replayed refund', async () => {
      const payment = await charge({ amount: 50 })
      const key = randomUUID()
      const first = await refund(payment.paymentId, { amount: 20 }, key)
      const replay = await refund(payment.paymentId, { amount: 20 }, key)
      expect(replay.statusCode).toBe(201)
      expect(replay.body).toBe(first.body)
      expect(await paymentOf(payment.paymentId)).toMatchObject({ status: 'PARTIALLY_REFUNDED', refundedAmount: 20 })
      expect(await refundRows(payment.paymentId)).toHaveLength(1)
    })

    it('never refunds more than was charged when full refunds race under different keys', async () => {
      const payment = await charge({ amount: 80 })
      const responses = await Promise.all([1, 2, 3, 4].map(() => refund(payment.paymentId)))
      expect(responses.map((r) => r.json().amount).sort()).toEqual([0, 0, 0, 80])
      expect(await paymentOf(payment.paymentId)).toMatchObject({ status: 'REFUNDED', refundedAmount: 80 })
    })

    it('answers PAYMENT_NOT_FOUND for an unknown payment', async () => {
      const paymentId = randomUUID()
      for (const response of [await refund(paymentId), await read(app, `/api/payments/${paymentId}`)]) {
        expect(response.statusCode).toBe(404)
        expect(response.json().error.code).toBe('PAYMENT_NOT_FOUND')
      }
    })
  })

  describe('list', () => {
    it('lists the payments of a booking and of a reservation', async () => {
      const bookingId = randomUUID()
      const reservationId = randomUUID()
      const first = await charge({ bookingId, amount: 10 })
      const second = await charge({ bookingId, reservationId, amount: 20 })
      await charge()

      const byBooking = await read(app, `/api/payments?bookingId=${bookingId}`)
      expect(byBooking.statusCode).toBe(200)
      expect(byBooking.json().map((p: { paymentId: string }) => p.paymentId).sort()).toEqual([first.paymentId, second.paymentId].sort())
      expect(byBooking.json()[0]).toMatchObject({ status: 'SUCCEEDED', refundedAmount: 0, currency: 'EUR' })

      const byReservation = await read(app, `/api/payments?reservationId=${reservationId}`)
      expect(byReservation.json()).toEqual([second])
    })

    it('needs a bookingId or a reservationId', async () => {
      const response = await read(app, '/api/payments')
      expect(response.statusCode).toBe(400)
      expect(response.json().error.code).toBe('VALIDATION_FAILED')
    })
  })
})

describe('payment without a service token', () => {
  it('refuses every command with 401 and moves no money', async () => {
    const request = chargeRequest()
    const payment = await charge({ amount: 40 })

    const charging = await expectRefusedWithoutToken(app, harness.db, 'payment', '/api/payments', request)
    const refunding = await expectRefusedWithoutToken(app, harness.db, 'payment', `/api/payments/${payment.paymentId}/refunds`, {})
    expect(await harness.db.payment.count({ where: { bookingId: request.bookingId } })).toBe(0)
    expect(await refundRows(payment.paymentId)).toEqual([])

    expect((await charging.withToken()).statusCode).toBe(201)
    expect((await refunding.withToken()).json()).toMatchObject({ amount: 40 })
    expect(await harness.db.payment.count({ where: { bookingId: request.bookingId } })).toBe(1)
  })

  it('refuses reads too', async () => {
    const payment = await charge()
    for (const url of [`/api/payments/${payment.paymentId}`, `/api/payments?bookingId=${payment.bookingId}`]) {
      expect((await app.inject({ method: 'GET', url })).statusCode, url).toBe(401)
    }
  })
})

describe('the provider\'s idempotency key', () => {
  it('is the command\'s key for the orchestrator (as before keys were per caller), and prefixed with any other caller', () => {
    expect(providerIdempotencyKey('orchestrator', 'saga-1:processPayment:forward', 'charge')).toBe('saga-1:processPayment:forward:charge')
    expect(providerIdempotencyKey('support', 'saga-1:processPayment:forward', 'charge')).toBe('support:saga-1:processPayment:forward:charge')
    expect(providerIdempotencyKey('support', 'k', 'refund')).not.toBe(providerIdempotencyKey('orchestrator', 'k', 'refund'))
  })
})

import { createHash, randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { nock } from '../../test/support/nock.ts'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { command, participantHarness } from '../../test/support/participant-harness.ts'
import { buildPayment } from './payment.app.ts'
import { createStripeProvider } from './stripe-provider.ts'

// The payment service on the Stripe path, with Stripe's API played by nock. Only
// api.stripe.com is intercepted; Postgres and Redis are the real ones: nock 15 hooks every
// socket, so local connections are explicitly let through.


const STRIPE = 'https://api.stripe.com'
const harness = participantHarness()
let app: FastifyInstance

beforeAll(async () => {
  nock.disableNetConnect()
  nock.enableNetConnect((host) => host.startsWith('127.0.0.1') || host.startsWith('localhost'))
  const provider = createStripeProvider({ secretKey: 'sk_test_nock', retryDelayMs: 5 })
  app = await buildPayment({ db: harness.db, redis: harness.redis, provider })
})
afterEach(() => {
  nock.cleanAll()
})
afterAll(async () => {
  nock.enableNetConnect()
  nock.restore()
  await app.close()
  await harness.close()
})

interface SeenRequest {
  idempotencyKey: string | undefined
  authorization: string | undefined
  form: URLSearchParams
}

/** Answers Stripe requests on `path` with `replies` in turn, recording what each request carried. */
function stripeAnswers(path: string, replies: Array<[number, Record<string, unknown>]>) {
  const seen: SeenRequest[] = []
  let scope = nock(STRIPE)
  for (const [status, body] of replies) {
    // nock 15 hands a reply function the request as a fetch Request.
    scope = scope.post(path).reply(async (request: Request) => {
      seen.push({
        idempotencyKey: request.headers.get('idempotency-key') ?? undefined,
        authorization: request.headers.get('authorization') ?? undefined,
        form: new URLSearchParams(await request.text()),
      })
      return [status, body]
    })
  }
  return { scope, seen }
}

const succeededIntent = (id: string, amount: number) =>
  ({ id, object: 'payment_intent', status: 'succeeded', amount, currency: 'eur', last_payment_error: null })
const stripeError = (type: string, extra: Record<string, unknown> = {}) =>
  ({ error: { type, message: 'Stripe says no', ...extra } })

function chargeRequest(overrides: Record<string, unknown> = {}) {
  return { userId: `user-${randomUUID()}`, amount: 241, currency: 'EUR', paymentMethod: 'pm_card_visa', bookingId: randomUUID(), ...overrides }
}

describe('payment (Stripe)', () => {
  it('creates a confirmed PaymentIntent under a key derived from the command\'s', async () => {
    const stripe = stripeAnswers('/v1/payment_intents', [[200, succeededIntent('pi_nock_success', 24100)]])
    const request = chargeRequest()
    const key = randomUUID()
    const response = await command(app, 'POST', '/api/payments', request, key)

    expect(response.statusCode).toBe(201)
    expect(response.json()).toMatchObject({
      status: 'SUCCEEDED', amount: 241, refundedAmount: 0, currency: 'EUR', provider: 'stripe',
      providerPaymentId: 'pi_nock_success', bookingId: request.bookingId,
    })
    expect(stripe.scope.isDone()).toBe(true)
    const [sent] = stripe.seen
    expect(sent!.idempotencyKey).toBe(`orchestrator:${key}:charge`)
    expect(sent!.authorization).toBe('Bearer sk_test_nock')
    expect(Object.fromEntries(sent!.form)).toMatchObject({
      amount: '24100', currency: 'eur', payment_method: 'pm_card_visa', confirm: 'true',
      'automatic_payment_methods[enabled]': 'true', 'automatic_payment_methods[allow_redirects]': 'never',
      'metadata[bookingId]': request.bookingId, 'metadata[userId]': request.userId,
    })
  })

  it('hashes a command key too long for Stripe into one it accepts', async () => {
    const stripe = stripeAnswers('/v1/payment_intents', [[200, succeededIntent('pi_nock_long_key', 24100)]])
    // Unique per run: a key stays taken in the test database across runs.
    const key = randomUUID().padEnd(250, 'k')
    const response = await command(app, 'POST', '/api/payments', chargeRequest(), key)
    expect(response.statusCode).toBe(201)
    expect(stripe.seen[0]!.idempotencyKey).toBe(`${createHash('sha256').update(`orchestrator:${key}`).digest('hex')}:charge`)
  })

  it('answers a card decline with 402 PAYMENT_DECLINED, without retrying it and without a payment', async () => {
    const stripe = stripeAnswers('/v1/payment_intents', [
      [402, stripeError('card_error', { code: 'card_declined', decline_code: 'insufficient_funds' })],
    ])
    const request = chargeRequest({ paymentMethod: 'pm_card_chargeDeclinedInsufficientFunds' })
    const response = await command(app, 'POST', '/api/payments', request)

    expect(response.statusCode).toBe(402)
    expect(response.json().error).toMatchObject({ code: 'PAYMENT_DECLINED', declineCode: 'insufficient_funds' })
    expect(stripe.seen).toHaveLength(1)
    expect(await harness.db.payment.count({ where: { bookingId: request.bookingId } })).toBe(0)
  })

  it('declines a PaymentIntent that did not succeed (a card that wants 3-D Secure)', async () => {
    stripeAnswers('/v1/payment_intents', [[200, {
      id: 'pi_nock_3ds', object: 'payment_intent', status: 'requires_action', amount: 24100, currency: 'eur',
      last_payment_error: null,
    }]])
    const response = await command(app, 'POST', '/api/payments', chargeRequest({ paymentMethod: 'pm_card_threeDSecure2Required' }))
    expect(response.statusCode).toBe(402)
    expect(response.json().error).toMatchObject({ code: 'PAYMENT_DECLINED', declineCode: 'payment_intent_requires_action' })
  })

  it('lets the SDK retry a Stripe 500 under the same key and records one payment', async () => {
    const stripe = stripeAnswers('/v1/payment_intents', [
      [500, stripeError('api_error')],
      [200, succeededIntent('pi_nock_after_500', 24100)],
    ])
    const request = chargeRequest()
    const key = randomUUID()
    const response = await command(app, 'POST', '/api/payments', request, key)

    expect(response.statusCode).toBe(201)
    expect(response.json().providerPaymentId).toBe('pi_nock_after_500')
    expect(stripe.seen.map((s) => s.idempotencyKey)).toEqual([`orchestrator:${key}:charge`, `orchestrator:${key}:charge`])
    expect(await harness.db.payment.count({ where: { bookingId: request.bookingId } })).toBe(1)
  })

  it('does not store an answer while Stripe is down, so a retry with the same key charges', async () => {
    const outage = stripeAnswers('/v1/payment_intents', [
      [500, stripeError('api_error')], [500, stripeError('api_error')], [500, stripeError('api_error')],
    ])
    const request = chargeRequest()
    const key = randomUUID()
    const failed = await command(app, 'POST', '/api/payments', request, key)
    expect(failed.statusCode).toBe(502)
    expect(failed.json().error.code).toBe('PAYMENT_PROVIDER_ERROR')
    expect(outage.seen).toHaveLength(3) // the first try and the SDK's two retries

    const recovered = stripeAnswers('/v1/payment_intents', [[200, succeededIntent('pi_nock_recovered', 24100)]])
    const retried = await command(app, 'POST', '/api/payments', request, key)
    expect(retried.statusCode).toBe(201)
    expect(retried.headers['idempotent-replayed']).toBeUndefined()
    expect(recovered.seen[0]!.idempotencyKey).toBe(`orchestrator:${key}:charge`)
    expect(await harness.db.payment.count({ where: { bookingId: request.bookingId } })).toBe(1)
  })

  it('answers a replayed charge from its record, without calling Stripe again', async () => {
    const stripe = stripeAnswers('/v1/payment_intents', [[200, succeededIntent('pi_nock_replay', 24100)]])
    const request = chargeRequest()
    const key = randomUUID()
    const first = await command(app, 'POST', '/api/payments', request, key)
    const replay = await command(app, 'POST', '/api/payments', request, key)

    expect(replay.statusCode).toBe(201)
    expect(replay.headers['idempotent-replayed']).toBe('true')
    expect(replay.body).toBe(first.body)
    expect(stripe.seen).toHaveLength(1)
    expect(await harness.db.payment.count({ where: { bookingId: request.bookingId } })).toBe(1)
  })

  it('refunds through Stripe under a key derived from the command\'s', async () => {
    stripeAnswers('/v1/payment_intents', [[200, succeededIntent('pi_nock_refunded', 24100)]])
    const payment = (await command(app, 'POST', '/api/payments', chargeRequest())).json()
    const stripe = stripeAnswers('/v1/refunds', [[200, { id: 're_nock_1', object: 'refund', status: 'succeeded', amount: 10000 }]])
    const key = randomUUID()
    const response = await command(app, 'POST', `/api/payments/${payment.paymentId}/refunds`, { amount: 100 }, key)

    expect(response.statusCode).toBe(201)
    expect(response.json()).toMatchObject({ amount: 100, payment: { status: 'PARTIALLY_REFUNDED', refundedAmount: 100 } })
    expect(stripe.seen[0]!.idempotencyKey).toBe(`orchestrator:${key}:refund`)
    expect(Object.fromEntries(stripe.seen[0]!.form)).toEqual({ payment_intent: 'pi_nock_refunded', amount: '10000' })
    const [row] = await harness.db.refund.findMany({ where: { paymentId: payment.paymentId } })
    expect(row!.providerRefundId).toBe('re_nock_1')
  })
})

import Stripe from 'stripe'
import { describe, expect, it } from 'vitest'
import { captureLogs } from '../test/support/log-capture.ts'

// Every service logs through loggerOptions(): these lines are what would reach stdout.

const SECRETS = {
  bearer: 'Bearer tok_live_9f8e7d6c5b4a',
  paymentMethod: 'pm_card_secret_0001',
  cardNumber: '4242424242424242',
  cvc: '987',
  apiKey: 'sk_live_abcdef123456',
}

function logged(object: object): { text: string; line: Record<string, unknown> } {
  const logs = captureLogs()
  logs.logger.info(object, 'something happened')
  const [line] = logs.lines()
  return { text: logs.text(), line: line! }
}

/**
 * The lines without the stamps the logger adds itself (time, pid, hostname): their digits can
 * hold a short secret's by chance (the cvc 987 in a time of …:01.987Z).
 */
function withoutStamps(text: string): string {
  return text.split('\n').filter(Boolean).map((raw) => {
    try {
      const { time: _time, pid: _pid, hostname: _hostname, ...rest } = JSON.parse(raw) as Record<string, unknown>
      return JSON.stringify(rest)
    } catch {
      return raw
    }
  }).join('\n')
}

function expectNoSecret(logged: string): void {
  const text = withoutStamps(logged)
  for (const secret of Object.values(SECRETS)) expect(text).not.toContain(secret)
  // Nor any recognisable part of them.
  expect(text).not.toContain('tok_live')
  expect(text).not.toContain('4242')
}

describe('logger redaction', () => {
  it('hides the bearer token of a logged request', () => {
    const { text, line } = logged({ req: { method: 'POST', url: '/api/orchestrator/bookings', headers: { authorization: SECRETS.bearer, 'content-type': 'application/json' } } })
    expectNoSecret(text)
    expect(line.req).toEqual({ method: 'POST', url: '/api/orchestrator/bookings', headers: { authorization: '[Redacted]', 'content-type': 'application/json' } })
  })

  it('hides bare headers and tokens', () => {
    expectNoSecret(logged({ headers: { authorization: SECRETS.bearer } }).text)
    expectNoSecret(logged({ authorization: SECRETS.bearer, token: SECRETS.bearer }).text)
    expectNoSecret(logged({ principal: { token: SECRETS.bearer } }).text)
  })

  it('hides a payment method at the top level and nested in a body or a saga input', () => {
    for (const object of [
      { paymentMethod: SECRETS.paymentMethod },
      { body: { paymentMethod: SECRETS.paymentMethod } },
      { input: { userId: 'u-1', paymentMethod: SECRETS.paymentMethod } },
      { saga: { input: { paymentMethod: SECRETS.paymentMethod } } },
      { payment_method: SECRETS.paymentMethod },
      { request: { payment_method: SECRETS.paymentMethod } },
    ]) {
      expectNoSecret(logged(object).text)
    }
  })

  it('hides card data wherever a body carries it', () => {
    const { text, line } = logged({ body: { paymentMethod: SECRETS.paymentMethod, card: { number: SECRETS.cardNumber, cvc: SECRETS.cvc, expMonth: 12 } } })
    expectNoSecret(text)
    expect(line.body).toEqual({ paymentMethod: '[Redacted]', card: '[Redacted]' })
    expectNoSecret(logged({ card: { number: SECRETS.cardNumber } }).text)
    expectNoSecret(logged({ payment: { details: { card: { number: SECRETS.cardNumber } } } }).text)
    expectNoSecret(logged({ cardNumber: SECRETS.cardNumber, cvc: SECRETS.cvc }).text)
    expectNoSecret(logged({ body: { cardNumber: SECRETS.cardNumber, cvc: SECRETS.cvc } }).text)
  })

  it('hides API keys in logged configuration', () => {
    expectNoSecret(logged({ apiKey: SECRETS.apiKey }).text)
    expectNoSecret(logged({ stripe: { secretKey: SECRETS.apiKey, apiKey: SECRETS.apiKey } }).text)
  })

  it('hides the payment method a Stripe card error carries', () => {
    const err = new Stripe.errors.StripeCardError({
      type: 'card_error', message: 'Your card was declined.', code: 'card_declined',
      payment_method: { id: SECRETS.paymentMethod, card: { last4: '4242' } },
    } as ConstructorParameters<typeof Stripe.errors.StripeCardError>[0])
    const { text, line } = logged({ err })
    expectNoSecret(text)
    expect(line.err).toMatchObject({ type: 'StripeCardError', code: 'card_declined', payment_method: '[Redacted]' })
  })

  it('keeps everything else on the line', () => {
    const { line } = logged({ sagaId: 's-1', body: { userId: 'u-1', numberOfSpots: 2, paymentMethod: SECRETS.paymentMethod } })
    expect(line).toMatchObject({ msg: 'something happened', service: 'test', sagaId: 's-1', body: { userId: 'u-1', numberOfSpots: 2, paymentMethod: '[Redacted]' } })
  })
})

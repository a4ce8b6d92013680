import Stripe from 'stripe'
import { AppError } from '../../platform/errors.ts'
import { type PaymentProvider, paymentDeclined } from './payment-provider.ts'

export interface StripeProviderOptions {
  /** Secret API key (`STRIPE_SECRET_KEY`). */
  secretKey: string
  /**
   * Where the API lives, e.g. a stripe-mock at http://127.0.0.1:12111 (`STRIPE_API_BASE`).
   * Default: https://api.stripe.com
   */
  apiBase?: string
  /** Retries the SDK makes on connection errors, 409 and 5xx, with the same idempotency key. Default: 2 */
  maxNetworkRetries?: number
  /** Timeout of one attempt, in ms. Default: 10000 (the command's transaction lasts at most 15 s). */
  timeoutMs?: number
  /**
   * First pause between the SDK's retries, in ms; it doubles up to 10× this value.
   * Default: the SDK's own (500 ms, up to 5 s). Tests set it low.
   */
  retryDelayMs?: number
}

/**
 * Payments through Stripe's official SDK: one PaymentIntent, confirmed at once, per charge.
 *
 * Every request carries an idempotency key derived from the command's Idempotency-Key, and the
 * SDK's own retries reuse it, so however often a charge is attempted Stripe charges once.
 * Outcomes map onto three kinds of answer:
 * - a card decline (or a payment method Stripe does not know): PAYMENT_DECLINED, a final
 *   business answer stored with the command;
 * - anything else Stripe refuses or fails on: PAYMENT_PROVIDER_ERROR (502), never stored, so
 *   the orchestrator's retry runs the command again and Stripe replays its answer by key;
 * - connection errors: the same, after the SDK's retries.
 */
export function createStripeProvider(options: StripeProviderOptions): PaymentProvider {
  const stripe = new Stripe(options.secretKey, {
    maxNetworkRetries: options.maxNetworkRetries ?? 2,
    timeout: options.timeoutMs ?? 10_000,
    appInfo: { name: 'saga-orchestrator-payment' },
    ...(options.apiBase ? apiAddress(options.apiBase) : {}),
  })
  if (options.retryDelayMs !== undefined) {
    // The SDK has no setting for its back-off; these two methods are where it reads it from.
    const initialSeconds = options.retryDelayMs / 1000
    stripe.getInitialNetworkRetryDelay = () => initialSeconds
    stripe.getMaxNetworkRetryDelay = () => initialSeconds * 10
  }

  return {
    name: 'stripe',
    async charge(request) {
      let intent: Stripe.PaymentIntent
      try {
        intent = await stripe.paymentIntents.create({
          amount: request.amountMinor,
          currency: request.currency.toLowerCase(),
          payment_method: request.paymentMethod,
          confirm: true,
          // Cards only, with no redirect: a saga cannot wait for a customer to come back.
          automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
          metadata: request.metadata,
          ...(request.description ? { description: request.description } : {}),
        }, { idempotencyKey: request.idempotencyKey })
      } catch (error) {
        throw chargeFailure(error)
      }
      // With confirm=true and no redirects, anything but "succeeded" (e.g. a card that needs
      // 3-D Secure: requires_action) means no money moved: the customer must pay another way.
      if (intent.status !== 'succeeded') {
        const reason = intent.last_payment_error
        throw paymentDeclined(reason?.decline_code ?? reason?.code ?? `payment_intent_${intent.status}`,
          reason?.message ?? `The payment was not completed (${intent.status})`)
      }
      return { providerPaymentId: intent.id }
    },

    async refund(request) {
      let refund: Stripe.Refund
      try {
        refund = await stripe.refunds.create(
          { payment_intent: request.providerPaymentId, amount: request.amountMinor },
          { idempotencyKey: request.idempotencyKey })
      } catch (error) {
        throw providerError(error)
      }
      // A refund Stripe could not make needs a person: retrying the same key replays the failure.
      if (refund.status === 'failed' || refund.status === 'canceled') {
        throw providerError(new Error(`Stripe refund ${refund.id} is ${refund.status}`))
      }
      return { providerRefundId: refund.id }
    },
  }
}

/** Decline codes Stripe answers with an invalid-request error rather than a card error. */
const INVALID_REQUEST_DECLINES = new Set(['amount_too_small', 'amount_too_large'])

function chargeFailure(error: unknown): Error {
  if (error instanceof Stripe.errors.StripeCardError) {
    return paymentDeclined(error.decline_code || error.code || 'card_declined', error.message)
  }
  if (error instanceof Stripe.errors.StripeInvalidRequestError) {
    if (error.param === 'payment_method') return paymentDeclined('invalid_payment_method', error.message)
    if (error.code && INVALID_REQUEST_DECLINES.has(error.code)) return paymentDeclined(error.code, error.message)
  }
  return providerError(error)
}

/** A failure that is not the customer's: answered 502 and not stored, so a retry runs again. */
function providerError(error: unknown): AppError {
  const failure = new AppError('PAYMENT_PROVIDER_ERROR', undefined,
    error instanceof Stripe.errors.StripeError ? { providerError: error.type, providerCode: error.code } : undefined)
  failure.cause = error
  return failure
}

function apiAddress(base: string): { host: string; port: number; protocol: 'http' | 'https' } {
  const url = new URL(base)
  const protocol = url.protocol === 'http:' ? 'http' : 'https'
  return { host: url.hostname, port: url.port ? Number(url.port) : protocol === 'http' ? 80 : 443, protocol }
}

import { v5 as uuidv5 } from 'uuid'
import { type PaymentProvider, paymentDeclined } from './payment-provider.ts'

// Namespace for the simulator's ids (any fixed uuid will do; this one is random).
const ID_NAMESPACE = '6f1c2b8e-3f0e-4a51-9a8d-0c7d5e9b4a21'

/**
 * Stripe's test payment methods and what Stripe answers for each (null: the charge succeeds).
 * https://docs.stripe.com/testing#declined-payments
 * A Map rather than an object literal: a method named "toString" must not find a prototype key.
 */
const TEST_PAYMENT_METHODS = new Map<string, { declineCode: string; message: string } | null>(Object.entries({
  pm_card_visa: null,
  pm_card_visa_debit: null,
  pm_card_mastercard: null,
  pm_card_amex: null,
  pm_card_chargeDeclined: { declineCode: 'generic_decline', message: 'Your card was declined.' },
  pm_card_chargeDeclinedInsufficientFunds: { declineCode: 'insufficient_funds', message: 'Your card has insufficient funds.' },
  pm_card_chargeDeclinedLostCard: { declineCode: 'lost_card', message: 'Your card was declined.' },
  pm_card_chargeDeclinedStolenCard: { declineCode: 'stolen_card', message: 'Your card was declined.' },
  pm_card_chargeDeclinedExpiredCard: { declineCode: 'expired_card', message: 'Your card has expired.' },
  pm_card_chargeDeclinedIncorrectCvc: { declineCode: 'incorrect_cvc', message: "Your card's security code is incorrect." },
  pm_card_chargeDeclinedFraudulent: { declineCode: 'fraudulent', message: 'Your card was declined.' },
}))

/**
 * A provider that behaves like Stripe for its test payment methods, without any network.
 * Ids are derived from the idempotency key, so a retried call answers with the same id, as
 * Stripe's idempotency would, and the simulator keeps no state at all.
 */
export function createSimulatorProvider(): PaymentProvider {
  return {
    name: 'simulator',
    async charge({ paymentMethod, idempotencyKey }) {
      const outcome = TEST_PAYMENT_METHODS.get(paymentMethod)
      // Stripe answers an unknown payment method with an invalid-request error; for the
      // customer it is the same thing as a declined card, so it is refused the same way.
      if (outcome === undefined) throw paymentDeclined('invalid_payment_method', `No such PaymentMethod: '${paymentMethod}'`)
      if (outcome) throw paymentDeclined(outcome.declineCode, outcome.message)
      return { providerPaymentId: `pi_sim_${uuidv5(`charge:${idempotencyKey}`, ID_NAMESPACE)}` }
    },
    async refund({ idempotencyKey }) {
      return { providerRefundId: `re_sim_${uuidv5(`refund:${idempotencyKey}`, ID_NAMESPACE)}` }
    },
  }
}

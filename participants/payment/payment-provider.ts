import { AppError } from '../../platform/errors.ts'

/**
 * The port to whoever moves the money: Stripe in production, a local simulator otherwise.
 *
 * Both verbs take an idempotency key derived from the command's own Idempotency-Key: if our
 * process dies after the provider answered and before our transaction committed, the retry
 * sends the same key and the provider replays its first answer instead of charging again.
 */
export interface PaymentProvider {
  /** Stored on each payment as `provider`. */
  readonly name: 'stripe' | 'simulator'
  /** Charges at once. Throws `paymentDeclined(...)` when the card is refused. */
  charge(request: ChargeRequest): Promise<{ providerPaymentId: string }>
  /** Refunds part or all of a charge. */
  refund(request: RefundRequest): Promise<{ providerRefundId: string }>
}

export interface ChargeRequest {
  amountMinor: number
  /** ISO 4217, upper case. */
  currency: string
  /** A provider payment-method id, e.g. Stripe's test token `pm_card_visa`. */
  paymentMethod: string
  idempotencyKey: string
  /** Free-form references kept with the charge at the provider (booking id, user id...). */
  metadata: Record<string, string>
  description?: string
}

export interface RefundRequest {
  providerPaymentId: string
  amountMinor: number
  idempotencyKey: string
}

/**
 * The card was refused: a final business answer (402), stored with the command's key so that
 * a retry gets the same refusal rather than a second attempt on the card.
 */
export function paymentDeclined(declineCode: string, message?: string): AppError {
  return new AppError('PAYMENT_DECLINED', message, { declineCode })
}

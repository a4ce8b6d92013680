import { createHash, randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import type { Payment } from '../../generated/prisma/client.ts'
import { AppError } from '../../platform/errors.ts'
import { toMajor, toMinor } from '../../platform/money.ts'
import {
  amount, chargeAmount, currency, description, paymentMethod, reason, reference, userId, uuidParams,
} from '../../platform/vocabulary.ts'
import { created, defineCommand, ok } from '../shared/define-command.ts'
import { findRow, type KeyedTable, lockRow } from '../shared/rows.ts'
import { object } from '../shared/schema.ts'
import type { PaymentProvider } from './payment-provider.ts'

export type PaymentStatus = 'SUCCEEDED' | 'PARTIALLY_REFUNDED' | 'REFUNDED'

export interface PaymentRoutesOptions {
  provider: PaymentProvider
}

export function paymentView(payment: Payment) {
  return {
    paymentId: payment.id,
    status: payment.status as PaymentStatus,
    amount: toMajor(payment.amountMinor, payment.currency),
    refundedAmount: toMajor(payment.refundedMinor, payment.currency),
    currency: payment.currency,
    userId: payment.userId,
    provider: payment.provider,
    providerPaymentId: payment.providerPaymentId,
    bookingId: payment.bookingId,
    reservationId: payment.reservationId,
    createdAt: payment.createdAt.toISOString(),
    updatedAt: payment.updatedAt.toISOString(),
  }
}

// Stripe refuses idempotency keys longer than this.
const MAX_PROVIDER_KEY_LENGTH = 255

/**
 * The provider's idempotency key for one operation of a command: the caller and the command's
 * own key with the operation appended, so that a retried command replays at the provider
 * instead of moving money twice, and two callers' equal keys never meet there (a key belongs
 * to its caller, as in our own table). One too long for the provider is replaced by the
 * SHA-256 of caller and key (still stable).
 */
export function providerIdempotencyKey(caller: string, key: string, operation: 'charge' | 'refund'): string {
  // The orchestrator's keys keep the form they had before keys were scoped by caller (a charge
  // that reached the provider before a deploy and is retried after it must replay there, not
  // charge again); any other caller's are prefixed with it, so two callers never share one.
  const scoped = caller === 'orchestrator' ? key : `${caller}:${key}`
  const derived = `${scoped}:${operation}`
  if (derived.length <= MAX_PROVIDER_KEY_LENGTH) return derived
  return `${createHash('sha256').update(scoped).digest('hex')}:${operation}`
}

const payments: KeyedTable<Payment> = {
  table: '"payment"."payments"',
  read: (tx, id) => tx.payment.findUnique({ where: { id } }),
  notFound: () => new AppError('PAYMENT_NOT_FOUND'),
}

// A decline is thrown by the provider as PAYMENT_DECLINED: the idempotency plugin stores
// that 402 under the key and writes no payment row.
function charge(provider: PaymentProvider) {
  return defineCommand({
    url: '/api/payments',
    body: object(
      { userId, amount: chargeAmount, currency, paymentMethod, bookingId: reference, reservationId: reference, description },
      { optional: ['bookingId', 'reservationId', 'description'] },
    ),
    async run({ tx, body, caller, idempotencyKey }) {
      const amountMinor = toMinor(body.amount, body.currency)
      if (amountMinor < 1) throw new AppError('VALIDATION_FAILED', 'amount is less than the smallest unit of the currency')
      const { providerPaymentId } = await provider.charge({
        amountMinor,
        currency: body.currency,
        paymentMethod: body.paymentMethod,
        idempotencyKey: providerIdempotencyKey(caller, idempotencyKey, 'charge'),
        metadata: {
          userId: body.userId,
          ...(body.bookingId ? { bookingId: body.bookingId } : {}),
          ...(body.reservationId ? { reservationId: body.reservationId } : {}),
        },
        description: body.description,
      })
      const payment = await tx.payment.create({
        data: {
          id: randomUUID(),
          bookingId: body.bookingId ?? null,
          reservationId: body.reservationId ?? null,
          userId: body.userId,
          amountMinor,
          currency: body.currency,
          status: 'SUCCEEDED',
          provider: provider.name,
          providerPaymentId,
        },
      })
      return created(paymentView(payment))
    },
  })
}

// Refund part or all of what is left of a charge. Without an amount (an empty request too):
// everything left, so a compensation can always ask for "the rest", and when nothing is left
// that is the state asked for: 200 with amount 0 and no refund. The payment's row is locked,
// so refunds racing under other keys never refund more than was charged.
function refund(provider: PaymentProvider) {
  return defineCommand({
    url: '/api/payments/:paymentId/refunds',
    params: uuidParams('paymentId'),
    body: object({ amount, reason }, { optional: ['amount', 'reason'] }),
    async run({ tx, params: { paymentId }, body, caller, idempotencyKey, emit }) {
      const payment = await lockRow(tx, payments, paymentId)
      const remainingMinor = payment.amountMinor - payment.refundedMinor
      const requestedMinor = body.amount === undefined ? remainingMinor : toMinor(body.amount, payment.currency)
      if (requestedMinor > remainingMinor) {
        throw new AppError('REFUND_EXCEEDS_CHARGE', undefined, {
          requested: toMajor(requestedMinor, payment.currency),
          refundable: toMajor(remainingMinor, payment.currency),
          currency: payment.currency,
        })
      }
      if (requestedMinor === 0) return ok({ refundId: null, paymentId, amount: 0, payment: paymentView(payment) })

      const { providerRefundId } = await provider.refund({
        providerPaymentId: payment.providerPaymentId,
        amountMinor: requestedMinor,
        idempotencyKey: providerIdempotencyKey(caller, idempotencyKey, 'refund'),
      })
      const made = await tx.refund.create({
        data: { id: randomUUID(), paymentId, amountMinor: requestedMinor, providerRefundId, reason: body.reason ?? null },
      })
      const refundedMinor = payment.refundedMinor + requestedMinor
      const updated = await tx.payment.update({
        where: { id: paymentId },
        data: { refundedMinor, status: refundedMinor === payment.amountMinor ? 'REFUNDED' : 'PARTIALLY_REFUNDED' },
      })
      // Money went back to the customer (a refund of nothing is no fact).
      emit('refund.processed', {
        refundId: made.id,
        paymentId,
        amount: toMajor(requestedMinor, payment.currency),
        currency: payment.currency,
        reason: made.reason,
        paymentStatus: updated.status,
        refundedAmount: toMajor(updated.refundedMinor, payment.currency),
        userId: payment.userId,
        bookingId: payment.bookingId,
        reservationId: payment.reservationId,
        processedAt: made.createdAt.toISOString(),
      })
      return created({ refundId: made.id, paymentId, amount: toMajor(requestedMinor, payment.currency), payment: paymentView(updated) })
    },
  })
}

/**
 * Charges and refunds. The provider is called inside the command's transaction, on purpose:
 * the stored answer, the payment row and the provider's idempotency key (derived from the
 * command's) together make each charge and refund happen exactly once, even when the process
 * dies between the provider's answer and our commit (the retry replays at the provider).
 */
export function paymentRoutes(options: PaymentRoutesOptions): FastifyPluginAsync {
  return async function routes(app: FastifyInstance): Promise<void> {
    app.get<{ Querystring: { bookingId?: string; reservationId?: string } }>('/api/payments', {
      schema: { querystring: { type: 'object', properties: { bookingId: reference, reservationId: reference } } },
    }, async (request) => {
      const { bookingId, reservationId } = request.query
      if (!bookingId && !reservationId) throw new AppError('VALIDATION_FAILED', 'Give bookingId or reservationId')
      const found = await app.db.payment.findMany({
        where: { ...(bookingId ? { bookingId } : {}), ...(reservationId ? { reservationId } : {}) },
        orderBy: { createdAt: 'asc' },
        take: 100,
      })
      return found.map(paymentView)
    })

    app.get<{ Params: { paymentId: string } }>('/api/payments/:paymentId', { schema: { params: uuidParams('paymentId') } },
      async (request) => paymentView(await findRow(app.db, payments, request.params.paymentId)))

    await app.register(charge(options.provider))
    await app.register(refund(options.provider))
  }
}

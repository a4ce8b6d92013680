import { createHash, randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { Payment, Prisma } from '../../generated/prisma/client.ts'
import { AppError } from '../../platform/errors.ts'
import { currency as currencySchema } from '../../platform/vocabulary.ts'
import { toMajor, toMinor } from '../../platform/money.ts'
import { idempotencyKeyOf } from '../../platform/request-context.ts'
import type { PaymentProvider } from './payment-provider.ts'

const uuid = { type: 'string', format: 'uuid' } as const
const reference = { type: 'string', minLength: 1, maxLength: 100 } as const
const paymentParams = { type: 'object', properties: { paymentId: uuid }, required: ['paymentId'] } as const

const chargeBody = {
  type: 'object',
  additionalProperties: false,
  required: ['userId', 'amount', 'currency', 'paymentMethod'],
  properties: {
    userId: reference,
    amount: { type: 'number', exclusiveMinimum: 0, maximum: 100_000_000 },
    currency: currencySchema,
    paymentMethod: { type: 'string', minLength: 1, maxLength: 255 },
    bookingId: reference,
    reservationId: reference,
    description: { type: 'string', maxLength: 500 },
  },
} as const

interface ChargeBody {
  userId: string
  amount: number
  currency: string
  paymentMethod: string
  bookingId?: string
  reservationId?: string
  description?: string
}

const refundBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    amount: { type: 'number', minimum: 0, maximum: 100_000_000 },
    reason: { type: 'string', maxLength: 500 },
  },
} as const

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
 * The provider's idempotency key for one operation of a command: the command's own key with
 * the operation appended, so that a retried command replays at the provider instead of moving
 * money twice. A key too long for the provider is replaced by its SHA-256 (still stable).
 */
export function providerIdempotencyKey(request: FastifyRequest, operation: 'charge' | 'refund'): string {
  const key = idempotencyKeyOf(request.raw)!
  const derived = `${key}:${operation}`
  if (derived.length <= MAX_PROVIDER_KEY_LENGTH) return derived
  return `${createHash('sha256').update(key).digest('hex')}:${operation}`
}

/** Locks a payment's row for the command: concurrent refunds under other keys wait their turn. */
async function lockPayment(tx: Prisma.TransactionClient, paymentId: string): Promise<Payment> {
  const [locked] = await tx.$queryRaw<{ id: string }[]>`
    SELECT id FROM "payment"."payments" WHERE id = ${paymentId}::uuid FOR UPDATE`
  if (!locked) throw new AppError('PAYMENT_NOT_FOUND')
  return tx.payment.findUniqueOrThrow({ where: { id: paymentId } })
}

/**
 * Charges and refunds. The provider is called inside the command's transaction, on purpose:
 * the stored answer, the payment row and the provider's idempotency key (derived from the
 * command's) together make each charge and refund happen exactly once, even when the process
 * dies between the provider's answer and our commit (the retry replays at the provider).
 */
export function paymentRoutes(options: PaymentRoutesOptions): FastifyPluginAsync {
  const { provider } = options

  return async function routes(app: FastifyInstance): Promise<void> {
    app.get<{ Querystring: { bookingId?: string; reservationId?: string } }>('/api/payments', {
      schema: {
        querystring: { type: 'object', properties: { bookingId: reference, reservationId: reference } },
      },
    }, async (request) => {
      const { bookingId, reservationId } = request.query
      if (!bookingId && !reservationId) {
        throw new AppError('VALIDATION_FAILED', 'Give bookingId or reservationId')
      }
      const payments = await app.db.payment.findMany({
        where: { ...(bookingId ? { bookingId } : {}), ...(reservationId ? { reservationId } : {}) },
        orderBy: { createdAt: 'asc' },
        take: 100,
      })
      return payments.map(paymentView)
    })

    app.get<{ Params: { paymentId: string } }>('/api/payments/:paymentId', {
      schema: { params: paymentParams },
    }, async (request) => {
      const payment = await app.db.payment.findUnique({ where: { id: request.params.paymentId } })
      if (!payment) throw new AppError('PAYMENT_NOT_FOUND')
      return paymentView(payment)
    })

    // A decline is thrown by the provider as PAYMENT_DECLINED: the idempotency plugin stores
    // that 402 under the key and writes no payment row.
    app.post<{ Body: ChargeBody }>('/api/payments', { schema: { body: chargeBody } }, async (request, reply) => {
      const body = request.body
      const amountMinor = toMinor(body.amount, body.currency)
      if (amountMinor < 1) throw new AppError('VALIDATION_FAILED', 'amount is less than the smallest unit of the currency')
      const { providerPaymentId } = await provider.charge({
        amountMinor,
        currency: body.currency,
        paymentMethod: body.paymentMethod,
        idempotencyKey: providerIdempotencyKey(request, 'charge'),
        metadata: {
          userId: body.userId,
          ...(body.bookingId ? { bookingId: body.bookingId } : {}),
          ...(body.reservationId ? { reservationId: body.reservationId } : {}),
        },
        description: body.description,
      })
      const payment = await request.tx.payment.create({
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
      reply.code(201)
      return paymentView(payment)
    })

    // Refund part or all of what is left of a charge. Without an amount: everything left, so a
    // compensation can always ask for "the rest" and a second such refund refunds nothing.
    app.post<{ Params: { paymentId: string }; Body: { amount?: number; reason?: string } }>('/api/payments/:paymentId/refunds', {
      schema: { params: paymentParams, body: refundBody },
      // An empty request is "refund everything left"; validate it as an empty object.
      preValidation: async (request) => {
        request.body ??= {}
      },
    }, async (request, reply) => {
      const { amount, reason } = request.body
      const tx = request.tx
      const payment = await lockPayment(tx, request.params.paymentId)
      const remainingMinor = payment.amountMinor - payment.refundedMinor
      const requestedMinor = amount === undefined ? remainingMinor : toMinor(amount, payment.currency)
      if (requestedMinor > remainingMinor) {
        throw new AppError('REFUND_EXCEEDS_CHARGE', undefined, {
          requested: toMajor(requestedMinor, payment.currency),
          refundable: toMajor(remainingMinor, payment.currency),
          currency: payment.currency,
        })
      }
      if (requestedMinor === 0) return { refundId: null, paymentId: payment.id, amount: 0, payment: paymentView(payment) }

      const { providerRefundId } = await provider.refund({
        providerPaymentId: payment.providerPaymentId,
        amountMinor: requestedMinor,
        idempotencyKey: providerIdempotencyKey(request, 'refund'),
      })
      const refund = await tx.refund.create({
        data: { id: randomUUID(), paymentId: payment.id, amountMinor: requestedMinor, providerRefundId, reason: reason ?? null },
      })
      const refundedMinor = payment.refundedMinor + requestedMinor
      const updated = await tx.payment.update({
        where: { id: payment.id },
        data: { refundedMinor, status: refundedMinor === payment.amountMinor ? 'REFUNDED' : 'PARTIALLY_REFUNDED' },
      })
      reply.code(201)
      return { refundId: refund.id, paymentId: payment.id, amount: toMajor(requestedMinor, payment.currency), payment: paymentView(updated) }
    })
  }
}

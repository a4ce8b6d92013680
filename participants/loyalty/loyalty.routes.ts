import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { LoyaltyAccount } from '../../generated/prisma/client.ts'
import type { Prisma } from '../../platform/database.ts'
import { AppError } from '../../platform/errors.ts'
import { currency as currencySchema } from '../../platform/vocabulary.ts'
import { pointsFor, tierOf } from './tiers.ts'

// Points move exactly once per (user, reference), whatever the Idempotency-Key: the unique
// (userId, reference, kind) row in "loyalty"."transactions" records each earn and deduction.
// Every command locks the account row first, so commands for one user run one after another:
// concurrent earns never lose an update, and the check for an earlier transaction of the same
// reference cannot race with its insertion.

const userParams = { type: 'object', properties: { userId: { type: 'string', minLength: 1, maxLength: 200 } }, required: ['userId'] } as const
const reference = { type: 'string', minLength: 1, maxLength: 200 } as const

interface EarnBody {
  amount: number
  currency: string
  reference: string
}

type AccountRow = Pick<LoyaltyAccount, 'userId' | 'totalPoints' | 'lifetimePoints'>

export function accountView(account: AccountRow) {
  return {
    userId: account.userId,
    totalPoints: account.totalPoints,
    lifetimePoints: account.lifetimePoints,
    tier: tierOf(account.lifetimePoints),
  }
}

/** Locks the user's account row until the command commits; undefined when there is none. */
async function lockAccount(tx: Prisma.TransactionClient, userId: string): Promise<AccountRow | undefined> {
  const [row] = await tx.$queryRaw<{ user_id: string; total_points: number; lifetime_points: number }[]>`
    SELECT user_id, total_points, lifetime_points FROM "loyalty"."accounts" WHERE user_id = ${userId} FOR UPDATE`
  return row && { userId: row.user_id, totalPoints: row.total_points, lifetimePoints: row.lifetime_points }
}

export default async function loyaltyRoutes(app: FastifyInstance): Promise<void> {
  app.get<{ Params: { userId: string } }>('/api/loyalty/accounts/:userId', { schema: { params: userParams } }, async (request) => {
    const account = await app.db.loyaltyAccount.findUnique({ where: { userId: request.params.userId } })
    if (!account) throw new AppError('LOYALTY_ACCOUNT_NOT_FOUND', undefined, { userId: request.params.userId })
    return accountView(account)
  })

  // Earn points for a payment. 201 when points were added now; 200 with the original points
  // when this reference has earned already (nothing changes).
  app.post<{ Params: { userId: string }; Body: EarnBody }>('/api/loyalty/accounts/:userId/points', {
    schema: {
      params: userParams,
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['amount', 'currency', 'reference'],
        // Capped so that lifetime points stay far inside the integer column.
        properties: { amount: { type: 'number', minimum: 0, maximum: 10_000_000 }, currency: currencySchema, reference },
      },
    },
  }, async (request, reply) => {
    const { userId } = request.params
    const { amount, currency, reference } = request.body
    const tx = request.tx
    // The account appears with the first earn; a concurrent first earn waits here for ours.
    await tx.$executeRaw`INSERT INTO "loyalty"."accounts" (user_id) VALUES (${userId}) ON CONFLICT DO NOTHING`
    const account = (await lockAccount(tx, userId))!
    const earlier = await tx.loyaltyTransaction.findUnique({ where: { userId_reference_kind: { userId, reference, kind: 'EARN' } } })
    if (earlier) return { userId, reference, pointsAdded: earlier.points, account: accountView(account) }

    // The tier held before this earn sets the multiplier.
    const points = pointsFor(amount, currency, account.lifetimePoints)
    await tx.loyaltyTransaction.create({ data: { id: randomUUID(), userId, reference, kind: 'EARN', points } })
    const updated = await tx.loyaltyAccount.update({
      where: { userId },
      data: { totalPoints: { increment: points }, lifetimePoints: { increment: points } },
    })
    reply.code(201)
    return { userId, reference, pointsAdded: points, account: accountView(updated) }
  })

  // The undo of an earn: takes back exactly what the reference earned, once. A reference that
  // earned nothing (or a user without an account) is answered with 0 and nothing is recorded,
  // so that an earn committed after all can still be taken back by a later deduction.
  app.post<{ Params: { userId: string }; Body: { reference: string } }>('/api/loyalty/accounts/:userId/deductions', {
    schema: {
      params: userParams,
      body: { type: 'object', additionalProperties: false, required: ['reference'], properties: { reference } },
    },
  }, async (request) => {
    const { userId } = request.params
    const { reference } = request.body
    const tx = request.tx
    const account = await lockAccount(tx, userId)
    if (!account) return { userId, reference, pointsDeducted: 0, account: null }

    const key = { userId, reference }
    const done = await tx.loyaltyTransaction.findUnique({ where: { userId_reference_kind: { ...key, kind: 'DEDUCT' } } })
    if (done) return { userId, reference, pointsDeducted: done.points, account: accountView(account) }
    const earn = await tx.loyaltyTransaction.findUnique({ where: { userId_reference_kind: { ...key, kind: 'EARN' } } })
    if (!earn) return { userId, reference, pointsDeducted: 0, account: accountView(account) }

    // Never below zero, though with no way to spend points the balance always covers the earn.
    const points = Math.min(earn.points, account.totalPoints)
    await tx.loyaltyTransaction.create({ data: { id: randomUUID(), ...key, kind: 'DEDUCT', points } })
    const updated = await tx.loyaltyAccount.update({
      where: { userId },
      data: { totalPoints: account.totalPoints - points, lifetimePoints: Math.max(0, account.lifetimePoints - points) },
    })
    return { userId, reference, pointsDeducted: points, account: accountView(updated) }
  })
}

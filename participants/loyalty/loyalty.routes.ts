import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { LoyaltyAccount } from '../../generated/prisma/client.ts'
import { AppError } from '../../platform/errors.ts'
import { amount, currency, reference, userId } from '../../platform/vocabulary.ts'
import { created, defineCommand, ok } from '../shared/define-command.ts'
import { findRow, type KeyedTable, lockRowIfExists } from '../shared/rows.ts'
import { object } from '../shared/schema.ts'
import { isHigherTier, pointsFor, tierOf } from './tiers.ts'

// Points move exactly once per (user, reference), whatever the Idempotency-Key: the unique
// (userId, reference, kind) row in "loyalty"."transactions" records each earn and deduction.
// Every command locks the account row first, so commands for one user run one after another:
// concurrent earns never lose an update, and the check for an earlier transaction of the same
// reference cannot race with its insertion.

const accounts: KeyedTable<LoyaltyAccount> = {
  table: '"loyalty"."accounts"',
  key: { column: 'user_id', type: 'text' },
  read: (tx, id) => tx.loyaltyAccount.findUnique({ where: { userId: id } }),
  notFound: (id) => new AppError('LOYALTY_ACCOUNT_NOT_FOUND', undefined, { userId: id }),
}

const userParams = object({ userId })

export function accountView(account: Pick<LoyaltyAccount, 'userId' | 'totalPoints' | 'lifetimePoints'>) {
  return {
    userId: account.userId,
    totalPoints: account.totalPoints,
    lifetimePoints: account.lifetimePoints,
    tier: tierOf(account.lifetimePoints),
  }
}

// Earn points for a payment. 201 when points were added now; 200 with the original points
// when this reference has earned already (nothing changes).
const earnPoints = defineCommand({
  url: '/api/loyalty/accounts/:userId/points',
  params: userParams,
  body: object({ amount, currency, reference }),
  async run({ tx, params: { userId: user }, body, emit }) {
    // The account appears with the first earn; a concurrent first earn waits here for ours.
    await tx.$executeRaw`INSERT INTO "loyalty"."accounts" (user_id) VALUES (${user}) ON CONFLICT DO NOTHING`
    // Locked and read in one statement: FOR UPDATE returns the version a concurrent earn committed.
    const [balance] = await tx.$queryRaw<Pick<LoyaltyAccount, 'totalPoints' | 'lifetimePoints'>[]>`
      SELECT total_points AS "totalPoints", lifetime_points AS "lifetimePoints" FROM "loyalty"."accounts" WHERE user_id = ${user} FOR UPDATE`
    const account = { userId: user, ...balance! }
    const key = { userId: user, reference: body.reference }
    const earlier = await tx.loyaltyTransaction.findUnique({ where: { userId_reference_kind: { ...key, kind: 'EARN' } } })
    if (earlier) return ok({ ...key, pointsAdded: earlier.points, account: accountView(account) })

    // The tier held before this earn sets the multiplier.
    const points = pointsFor(body.amount, body.currency, account.lifetimePoints)
    await tx.loyaltyTransaction.create({ data: { id: randomUUID(), ...key, kind: 'EARN', points } })
    const updated = await tx.loyaltyAccount.update({
      where: { userId: user },
      data: { totalPoints: { increment: points }, lifetimePoints: { increment: points } },
    })
    const before = tierOf(account.lifetimePoints)
    const after = tierOf(updated.lifetimePoints)
    emit('loyalty.points.earned', { userId: user, reference: body.reference, points, totalPoints: updated.totalPoints, lifetimePoints: updated.lifetimePoints, tier: after })
    if (isHigherTier(after, before)) emit('loyalty.tier.upgraded', { userId: user, previousTier: before, tier: after, lifetimePoints: updated.lifetimePoints, reference: body.reference })
    return created({ ...key, pointsAdded: points, account: accountView(updated) })
  },
})

// The undo of an earn: takes back exactly what the reference earned, once. Taken back already
// is the state asked for: 200 with the points it took. A reference that earned nothing (or a
// user without an account) is answered 200 with 0 and nothing is recorded, so that an earn
// committed after all can still be taken back by a later deduction.
const deductPoints = defineCommand({
  url: '/api/loyalty/accounts/:userId/deductions',
  params: userParams,
  body: object({ reference }),
  async run({ tx, params: { userId: user }, body }) {
    const key = { userId: user, reference: body.reference }
    const account = await lockRowIfExists(tx, accounts, user)
    if (!account) return ok({ ...key, pointsDeducted: 0, account: null })

    const done = await tx.loyaltyTransaction.findUnique({ where: { userId_reference_kind: { ...key, kind: 'DEDUCT' } } })
    if (done) return ok({ ...key, pointsDeducted: done.points, account: accountView(account) })
    const earn = await tx.loyaltyTransaction.findUnique({ where: { userId_reference_kind: { ...key, kind: 'EARN' } } })
    if (!earn) return ok({ ...key, pointsDeducted: 0, account: accountView(account) })

    // Never below zero, though with no way to spend points the balance always covers the earn.
    const points = Math.min(earn.points, account.totalPoints)
    await tx.loyaltyTransaction.create({ data: { id: randomUUID(), ...key, kind: 'DEDUCT', points } })
    const updated = await tx.loyaltyAccount.update({
      where: { userId: user },
      data: { totalPoints: account.totalPoints - points, lifetimePoints: Math.max(0, account.lifetimePoints - points) },
    })
    return ok({ ...key, pointsDeducted: points, account: accountView(updated) })
  },
})

export default async function loyaltyRoutes(app: FastifyInstance): Promise<void> {
  app.get<{ Params: { userId: string } }>('/api/loyalty/accounts/:userId', { schema: { params: userParams } },
    async (request) => accountView(await findRow(app.db, accounts, request.params.userId)))

  await app.register(earnPoints)
  await app.register(deductPoints)
}

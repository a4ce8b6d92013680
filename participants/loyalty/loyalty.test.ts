import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { command, expectRefusedWithoutToken, participantHarness, read } from '../../test/support/participant-harness.ts'
import { buildLoyalty } from './loyalty.app.ts'

const harness = participantHarness()
let app: FastifyInstance

beforeAll(async () => {
  app = await buildLoyalty({ db: harness.db, redis: harness.redis })
})
afterAll(async () => {
  await app.close()
  await harness.close()
})

const newUser = () => `user-${randomUUID()}`

function earn(userId: string, amount: number, reference = `booking:${randomUUID()}`, currency = 'EUR') {
  return command(app, 'POST', `/api/loyalty/accounts/${userId}/points`, { amount, currency, reference })
}

function deduct(userId: string, reference: string) {
  return command(app, 'POST', `/api/loyalty/accounts/${userId}/deductions`, { reference })
}

async function account(userId: string) {
  const response = await read(app, `/api/loyalty/accounts/${userId}`)
  expect(response.statusCode).toBe(200)
  return response.json()
}

describe('loyalty points', () => {
  it('opens the account with the first earn, one point per whole currency unit', async () => {
    const userId = newUser()
    const response = await earn(userId, 120.75, 'booking:first')
    expect(response.statusCode).toBe(201)
    const account0 = { userId, totalPoints: 120, lifetimePoints: 120, tier: 'bronze' }
    expect(response.json()).toEqual({ userId, reference: 'booking:first', pointsAdded: 120, account: account0 })
    expect(await account(userId)).toEqual(account0)
  })

  it('answers 404 LOYALTY_ACCOUNT_NOT_FOUND before the first earn', async () => {
    const response = await read(app, `/api/loyalty/accounts/${newUser()}`)
    expect(response.statusCode).toBe(404)
    expect(response.json().error.code).toBe('LOYALTY_ACCOUNT_NOT_FOUND')
  })

  it('multiplies by the tier held before each earn and climbs the tiers', async () => {
    const userId = newUser()
    const steps = [
      { amount: 499, pointsAdded: 499, lifetime: 499, tier: 'bronze' },
      { amount: 1, pointsAdded: 1, lifetime: 500, tier: 'silver' },
      { amount: 1250, pointsAdded: 1500, lifetime: 2000, tier: 'gold' },
      { amount: 2000, pointsAdded: 3000, lifetime: 5000, tier: 'platinum' },
      { amount: 10.5, pointsAdded: 21, lifetime: 5021, tier: 'platinum' },
    ]
    for (const step of steps) {
      const response = await earn(userId, step.amount)
      expect(response.statusCode).toBe(201)
      expect(response.json().pointsAdded).toBe(step.pointsAdded)
      expect(response.json().account).toEqual({ userId, totalPoints: step.lifetime, lifetimePoints: step.lifetime, tier: step.tier })
    }
  })

  it('adds the points of a reference once, even under different idempotency keys', async () => {
    const userId = newUser()
    const first = await earn(userId, 80, 'booking:b-1')
    const second = await earn(userId, 80, 'booking:b-1')
    expect(first.statusCode).toBe(201)
    expect(second.statusCode).toBe(200)
    expect(second.json()).toEqual({ userId, reference: 'booking:b-1', pointsAdded: 80, account: { userId, totalPoints: 80, lifetimePoints: 80, tier: 'bronze' } })
    expect((await account(userId)).totalPoints).toBe(80)
  })

  it('replays the original answer for the same idempotency key', async () => {
    const userId = newUser()
    const key = randomUUID()
    const body = { amount: 50, currency: 'EUR', reference: 'booking:b-2' }
    const first = await command(app, 'POST', `/api/loyalty/accounts/${userId}/points`, body, key)
    const replay = await command(app, 'POST', `/api/loyalty/accounts/${userId}/points`, body, key)
    expect(replay.statusCode).toBe(201)
    expect(replay.headers['idempotent-replayed']).toBe('true')
    expect(replay.body).toBe(first.body)
  })

  it('loses no points when 20 earns for one user run at once', async () => {
    const userId = newUser()
    const responses = await Promise.all(Array.from({ length: 20 }, () => earn(userId, 10)))
    expect(responses.map((r) => r.statusCode)).toEqual(Array(20).fill(201))
    expect(await account(userId)).toEqual({ userId, totalPoints: 200, lifetimePoints: 200, tier: 'bronze' })
  })

  it('adds a reference once when the same earn races under different keys', async () => {
    const userId = newUser()
    const responses = await Promise.all(Array.from({ length: 10 }, () => earn(userId, 30, 'booking:race')))
    expect(responses.map((r) => r.statusCode).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 201])
    expect((await account(userId)).totalPoints).toBe(30)
  })

  it('rejects a negative amount or a missing reference with VALIDATION_FAILED', async () => {
    const userId = newUser()
    for (const body of [{ amount: -1, currency: 'EUR', reference: 'r' }, { amount: 10, currency: 'EUR' }, { amount: 10, currency: 'EUR', reference: '' }]) {
      const response = await command(app, 'POST', `/api/loyalty/accounts/${userId}/points`, body)
      expect(response.statusCode).toBe(400)
      expect(response.json().error.code).toBe('VALIDATION_FAILED')
    }
  })
})

describe('loyalty deductions', () => {
  it('takes back exactly what a reference earned and recomputes the tier', async () => {
    const userId = newUser()
    await earn(userId, 400, 'booking:keep')
    await earn(userId, 300, 'booking:undo')
    expect((await account(userId)).tier).toBe('silver')
    const response = await deduct(userId, 'booking:undo')
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({
      userId, reference: 'booking:undo', pointsDeducted: 300, account: { userId, totalPoints: 400, lifetimePoints: 400, tier: 'bronze' },
    })
  })

  it('deducts a reference once, even under different idempotency keys', async () => {
    const userId = newUser()
    await earn(userId, 100, 'booking:a')
    await earn(userId, 60, 'booking:b')
    const first = await deduct(userId, 'booking:b')
    const second = await deduct(userId, 'booking:b')
    expect(first.json().pointsDeducted).toBe(60)
    expect(second.statusCode).toBe(200)
    expect(second.json().pointsDeducted).toBe(60)
    expect(second.json().account).toEqual({ userId, totalPoints: 100, lifetimePoints: 100, tier: 'bronze' })
    expect(await account(userId)).toMatchObject({ totalPoints: 100, lifetimePoints: 100 })
  })

  it('deducts nothing for a reference that earned nothing', async () => {
    const userId = newUser()
    await earn(userId, 100, 'booking:a')
    const response = await deduct(userId, 'booking:never-earned')
    expect(response.statusCode).toBe(200)
    expect(response.json()).toMatchObject({ pointsDeducted: 0, account: { totalPoints: 100 } })
  })

  it('takes back an earn that commits after a deduction found nothing', async () => {
    const userId = newUser()
    await earn(userId, 100, 'booking:a')
    expect((await deduct(userId, 'booking:late')).json().pointsDeducted).toBe(0)
    await earn(userId, 40, 'booking:late')
    expect((await deduct(userId, 'booking:late')).json().pointsDeducted).toBe(40)
    expect((await account(userId)).totalPoints).toBe(100)
  })

  it('answers 200 with nothing deducted and no account for a user without one', async () => {
    const userId = newUser()
    const response = await deduct(userId, 'booking:x')
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({ userId, reference: 'booking:x', pointsDeducted: 0, account: null })
    expect((await read(app, `/api/loyalty/accounts/${userId}`)).statusCode).toBe(404)
  })

  it('never adds a reference again once it was deducted', async () => {
    const userId = newUser()
    await earn(userId, 70, 'booking:c')
    await deduct(userId, 'booking:c')
    const again = await earn(userId, 70, 'booking:c')
    expect(again.statusCode).toBe(200)
    expect((await account(userId)).totalPoints).toBe(0)
  })
})

describe('loyalty without a service token', () => {
  it('refuses every command with 401 and moves no points', async () => {
    const userId = newUser()
    await earn(userId, 100, 'booking:kept')
    const earning = await expectRefusedWithoutToken(app, harness.db, 'loyalty', `/api/loyalty/accounts/${userId}/points`, { amount: 50, currency: 'EUR', reference: 'booking:new' })
    const deducting = await expectRefusedWithoutToken(app, harness.db, 'loyalty', `/api/loyalty/accounts/${userId}/deductions`, { reference: 'booking:kept' })
    expect(await account(userId)).toMatchObject({ totalPoints: 100, lifetimePoints: 100 })
    expect(await harness.db.loyaltyTransaction.count({ where: { userId } })).toBe(1)

    expect((await earning.withToken()).json().pointsAdded).toBe(50)
    expect((await deducting.withToken()).json().pointsDeducted).toBe(100)
    expect(await account(userId)).toMatchObject({ totalPoints: 50 })
  })

  it('refuses reads too', async () => {
    const userId = newUser()
    await earn(userId, 10)
    expect((await app.inject({ method: 'GET', url: `/api/loyalty/accounts/${userId}` })).statusCode).toBe(401)
  })
})

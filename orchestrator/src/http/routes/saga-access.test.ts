import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { configWith } from '../../../../platform/config.ts'
import { command, isoDateInDays } from '../../../../test/support/participant-harness.ts'
import { startSystem, TOKENS, type TestSystem } from '../../../../test/support/system.ts'
import { mintDevToken } from '../../cli/dev-token.ts'

// Who may start, cancel, read and list which sagas: end users only their own, clients what
// they started, support staff everything; whatever is not yours does not exist (404).

let system: TestSystem
let tourId: string
const clientA = `client-a-${randomUUID()}`
const clientB = `client-b-${randomUUID()}`
const alice = `alice-${randomUUID().slice(0, 8)}`
const bob = `bob-${randomUUID().slice(0, 8)}`
const tokenOf: Record<string, string> = {}

const devConfig = configWith({ NODE_ENV: 'test', AUTH_JWT_SECRET: '', AUTH_JWKS_URL: '', AUTH_JWT_ISSUER: '', AUTH_JWT_AUDIENCE: '' })

beforeAll(async () => {
  system = await startSystem({
    orchestrator: {
      config: configWith({
        NODE_ENV: 'test', RATE_LIMIT_MAX: '0', AUTH_JWT_SECRET: '', AUTH_JWKS_URL: '', AUTH_JWT_ISSUER: '', AUTH_JWT_AUDIENCE: '',
        API_TOKENS: `client:${clientA},client:${clientB},support:dev-support,operator:dev-operator`,
      }),
    },
  })
  for (const user of [alice, bob]) tokenOf[user] = `Bearer ${await mintDevToken({ userId: user, config: devConfig })}`
  tourId = (await command(system.participant('tour-catalog'), 'POST', '/api/tours', {
    name: 'Access tour', date: isoDateInDays(30), capacity: 40, price: 25, currency: 'EUR', cancellationPolicy: { minDays: 1, feePercent: 0 },
  })).json().tourId
})
afterAll(async () => {
  await system?.close()
})

function call(method: 'GET' | 'POST', url: string, authorization: string, payload?: object, key: string = randomUUID()) {
  return system.orchestrator.inject({
    method, url, headers: { authorization, ...(method === 'POST' ? { 'idempotency-key': key } : {}) }, ...(payload ? { payload } : {}),
  })
}

const book = (authorization: string, body: object, key?: string) =>
  call('POST', '/api/orchestrator/bookings', authorization, { tourId, numberOfSpots: 1, paymentMethod: 'pm_card_visa', ...body }, key)

const countSagasOf = async (userId: string) =>
  (await call('GET', `/api/orchestrator/sagas?userId=${userId}&limit=200`, TOKENS.support)).json().items.length as number

describe('an end user starting sagas', () => {
  it('books for itself: userId is taken from the token when absent, and the same body with it spelled out is the same request', async () => {
    const key = randomUUID()
    const implicit = await book(tokenOf[alice]!, {}, key)
    expect(implicit.statusCode).toBe(201)
    expect(implicit.json()).toMatchObject({ status: 'COMPLETED', bookingId: expect.any(String) })
    const explicit = await book(tokenOf[alice]!, { userId: alice }, key)
    expect(explicit.json().sagaId).toBe(implicit.json().sagaId)
    const saga = (await call('GET', `/api/orchestrator/sagas/${implicit.json().sagaId}`, TOKENS.support)).json()
    expect(saga.input.userId).toBe(alice)
  })

  it('is refused 403 USER_MISMATCH for another userId, and no saga is made', async () => {
    const before = await countSagasOf(bob)
    const response = await book(tokenOf[alice]!, { userId: bob })
    expect(response.statusCode).toBe(403)
    expect(response.json().error.code).toBe('USER_MISMATCH')
    const hotel = await call('POST', '/api/orchestrator/hotel-reservations', tokenOf[alice]!, {
      hotelId: randomUUID(), roomType: 'double', userId: bob, checkIn: isoDateInDays(10), checkOut: isoDateInDays(12), guests: 2, paymentMethod: 'pm_card_visa',
    })
    expect(hotel.json().error.code).toBe('USER_MISMATCH')
    expect(await countSagasOf(bob)).toBe(before)
  })

  it('may not use the generic start route (its ownership rules are not written down)', async () => {
    const response = await call('POST', '/api/orchestrator/sagas/tour-booking', tokenOf[alice]!, { tourId, numberOfSpots: 1, paymentMethod: 'pm_card_visa' })
    expect(response.statusCode).toBe(403)
  })

  it('leaves a client obliged to name the user: 400 VALIDATION_FAILED without userId', async () => {
    const response = await book(`Bearer ${clientA}`, {})
    expect(response.statusCode).toBe(400)
    expect(response.json().error.code).toBe('VALIDATION_FAILED')
    expect(JSON.stringify(response.json().error.details)).toMatch(/userId/)
  })
})

describe('an end user cancelling', () => {
  it('cancels its own booking, while another user\'s booking (and an unknown one) is 404 BOOKING_NOT_FOUND', async () => {
    const { bookingId } = (await book(tokenOf[alice]!, {})).json()
    const cancel = (user: string, id: string, body: object = {}) =>
      call('POST', `/api/orchestrator/bookings/${id}/cancellation`, tokenOf[user]!, { reason: 'plans changed', ...body })

    for (const attempt of [await cancel(bob, bookingId), await cancel(bob, bookingId, { userId: bob }), await cancel(bob, randomUUID())]) {
      expect(attempt.statusCode).toBe(404)
      expect(attempt.json().error.code).toBe('BOOKING_NOT_FOUND')
    }
    expect((await cancel(bob, bookingId, { userId: alice })).json().error.code).toBe('USER_MISMATCH')

    const own = await cancel(alice, bookingId)
    expect(own.statusCode).toBe(201)
    expect(own.json()).toMatchObject({ status: 'COMPLETED', bookingId, refundAmount: 25 })
  })
})

describe('an end user reading and listing', () => {
  let aliceSaga: string
  let bobSaga: string
  beforeAll(async () => {
    aliceSaga = (await book(tokenOf[alice]!, {})).json().sagaId
    // Started by a client for bob: it is bob's all the same.
    bobSaga = (await book(`Bearer ${clientA}`, { userId: bob })).json().sagaId
  })

  it('reads its own sagas, and another\'s saga or an unknown id is 404 SAGA_NOT_FOUND (never 403)', async () => {
    expect((await call('GET', `/api/orchestrator/sagas/${aliceSaga}`, tokenOf[alice]!)).json()).toMatchObject({ sagaId: aliceSaga, type: 'tour-booking' })
    expect((await call('GET', `/api/orchestrator/sagas/${bobSaga}`, tokenOf[bob]!)).statusCode).toBe(200)
    for (const [user, sagaId] of [[alice, bobSaga], [bob, aliceSaga], [alice, randomUUID()]] as const) {
      const response = await call('GET', `/api/orchestrator/sagas/${sagaId}`, tokenOf[user]!)
      expect(response.statusCode).toBe(404)
      expect(response.json().error.code).toBe('SAGA_NOT_FOUND')
    }
  })

  it('lists only its own sagas, with mine=1 or without, whatever userId it asks for', async () => {
    for (const query of ['mine=1', '', `userId=${alice}`]) {
      const { items } = (await call('GET', `/api/orchestrator/sagas?${query}&limit=200`, tokenOf[alice]!)).json()
      expect(items.length, query).toBeGreaterThan(0)
      expect(items.every((saga: { userId: string }) => saga.userId === alice), query).toBe(true)
      expect(items.map((saga: { sagaId: string }) => saga.sagaId), query).toContain(aliceSaga)
    }
    expect((await call('GET', `/api/orchestrator/sagas?userId=${bob}`, tokenOf[alice]!)).json()).toEqual({ items: [], nextCursor: null })
    expect((await call('GET', `/api/orchestrator/sagas?bookingId=${(await call('GET', `/api/orchestrator/sagas/${bobSaga}`, TOKENS.support)).json().resources.bookingId}`, tokenOf[alice]!)).json().items).toEqual([])
  })

  it('is refused support and operator actions (403)', async () => {
    expect((await call('GET', '/api/orchestrator/sagas/stats', tokenOf[alice]!)).statusCode).toBe(403)
    expect((await call('GET', `/api/orchestrator/sagas/${aliceSaga}/events`, tokenOf[alice]!)).statusCode).toBe(403)
    expect((await call('POST', `/api/orchestrator/sagas/${aliceSaga}/retry`, tokenOf[alice]!)).statusCode).toBe(403)
    expect((await call('POST', `/api/orchestrator/sagas/${aliceSaga}/abort`, tokenOf[alice]!)).statusCode).toBe(403)
  })
})

describe('a client reading what it started', () => {
  it('follows the Location of its 202 to the saga; another client gets 404; support reads it', async () => {
    // The payment answers 503 a few times, so the saga is still running when the answer comes.
    system.inject({ participant: 'payment', method: 'POST', route: '/api/payments', status: 503, times: 3 })
    const started = await call('POST', '/api/orchestrator/bookings?wait=0', `Bearer ${clientA}`,
      { tourId, userId: `carol-${randomUUID().slice(0, 8)}`, numberOfSpots: 1, paymentMethod: 'pm_card_visa' })
    expect(started.statusCode).toBe(202)
    const location = started.headers.location as string
    expect(location).toBe(`/api/orchestrator/sagas/${started.json().sagaId}`)

    const mine = await call('GET', location, `Bearer ${clientA}`)
    expect(mine.statusCode).toBe(200)
    expect(mine.json().sagaId).toBe(started.json().sagaId)
    const other = await call('GET', location, `Bearer ${clientB}`)
    expect(other.statusCode).toBe(404)
    expect(other.json().error.code).toBe('SAGA_NOT_FOUND')
    expect((await call('GET', location, TOKENS.support)).statusCode).toBe(200)
    // However the header is spelled, it is the same client.
    expect((await call('GET', location, `Bearer \t  ${clientA}`)).statusCode).toBe(200)
    system.clearFaults()
  })

  it('lists the sagas it started with mine=1, and no others; without mine=1 a client may not search', async () => {
    const sagaId = (await book(`Bearer ${clientB}`, { userId: `dan-${randomUUID().slice(0, 8)}` })).json().sagaId
    const listOf = async (token: string) => (await call('GET', '/api/orchestrator/sagas?mine=1&limit=200', `Bearer ${token}`)).json().items.map((s: { sagaId: string }) => s.sagaId)
    expect(await listOf(clientB)).toContain(sagaId)
    expect(await listOf(clientA)).not.toContain(sagaId)
    expect((await call('GET', '/api/orchestrator/sagas', `Bearer ${clientB}`)).statusCode).toBe(403)
    const read = await call('GET', `/api/orchestrator/sagas/${sagaId}`, `Bearer ${clientB}`)
    expect(read.json()).toMatchObject({ sagaId, status: 'COMPLETED' })
  })
})

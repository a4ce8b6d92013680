import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { command, expectRefusedWithoutToken, participantHarness, read } from '../../test/support/participant-harness.ts'
import { buildNotification } from './notification.app.ts'
import type { NotificationMessage, NotificationProvider } from './notification-provider.ts'
import { renderNotification } from './templates.ts'

const harness = participantHarness()
let app: FastifyInstance

beforeAll(async () => {
  app = await buildNotification({ db: harness.db, redis: harness.redis })
})
afterAll(async () => {
  await app.close()
  await harness.close()
})

const newUser = () => `user-${randomUUID()}`
const bookingFacts = { bookingId: 'b-1', tourName: 'Sunrise kayak', totalPrice: 361.5, currency: 'EUR' }

function send(target: FastifyInstance, body: Record<string, unknown>, key?: string) {
  return command(target, 'POST', '/api/notifications', body, key)
}

async function listFor(userId: string) {
  const response = await read(app, `/api/notifications?userId=${encodeURIComponent(userId)}`)
  expect(response.statusCode).toBe(200)
  return response.json()
}

describe('notifications', () => {
  it('renders, records and answers a booking confirmation', async () => {
    const userId = newUser()
    const sagaId = randomUUID()
    const response = await send(app, { userId, type: 'booking-confirmed', sagaId, data: bookingFacts })
    expect(response.statusCode).toBe(201)
    const expected = renderNotification('booking-confirmed', bookingFacts)
    expect(response.json()).toEqual({
      notificationId: expect.any(String), userId, type: 'booking-confirmed', channel: 'in-app',
      subject: expected.subject, body: expected.body, sagaId, createdAt: expect.any(String),
    })
    expect(await listFor(userId)).toEqual([response.json()])
  })

  it('renders each type from its template', async () => {
    const userId = newUser()
    const cases = [
      { type: 'booking-confirmed', data: bookingFacts },
      { type: 'cancellation-confirmed', data: { bookingId: 'b-1', refundAmount: 325.35, currency: 'EUR' } },
      { type: 'hotel-reservation-confirmed', data: { reservationId: 'r-1', checkIn: '2026-07-01', checkOut: '2026-07-04', totalPrice: 269.7, currency: 'EUR', loyaltyPointsAdded: 269 } },
    ] as const
    for (const { type, data } of cases) {
      const response = await send(app, { userId, type, data })
      expect(response.statusCode).toBe(201)
      expect(response.json()).toMatchObject({ type, sagaId: null, ...renderNotification(type, data) })
    }
  })

  it('lists a user\'s notifications newest first, and only theirs', async () => {
    const userId = newUser()
    const other = newUser()
    const sent = []
    for (const type of ['booking-confirmed', 'cancellation-confirmed', 'hotel-reservation-confirmed']) {
      sent.push((await send(app, { userId, type, data: {} })).json())
    }
    await send(app, { userId: other, type: 'booking-confirmed', data: {} })
    const listed = await listFor(userId)
    expect(listed.map((n: { notificationId: string }) => n.notificationId)).toEqual(sent.reverse().map((n) => n.notificationId))
    expect(await listFor(newUser())).toEqual([])
  })

  it('requires the userId to list notifications', async () => {
    const response = await read(app, '/api/notifications')
    expect(response.statusCode).toBe(400)
    expect(response.json().error.code).toBe('VALIDATION_FAILED')
  })

  it('rejects an unknown type with VALIDATION_FAILED and stores nothing', async () => {
    const userId = newUser()
    const response = await send(app, { userId, type: 'birthday-greeting', data: {} })
    expect(response.statusCode).toBe(400)
    expect(response.json().error.code).toBe('VALIDATION_FAILED')
    expect(await listFor(userId)).toEqual([])
  })

  it('hands each notification to an injected provider and records its channel', async () => {
    const delivered: NotificationMessage[] = []
    const email: NotificationProvider = { channel: 'email', deliver: async (message) => { delivered.push(message) } }
    const withEmail = await buildNotification({ db: harness.db, redis: null, provider: email })
    try {
      const userId = newUser()
      const response = await send(withEmail, { userId, type: 'booking-confirmed', data: bookingFacts })
      expect(response.statusCode).toBe(201)
      expect(response.json().channel).toBe('email')
      expect(delivered).toEqual([expect.objectContaining({ notificationId: response.json().notificationId, userId, subject: 'Booking confirmed: Sunrise kayak' })])
    } finally {
      await withEmail.close()
    }
  })

  it('stores nothing and answers 500 when the provider fails, so a retry sends it again', async () => {
    const failing: NotificationProvider = { channel: 'email', deliver: async () => { throw new Error('SMTP server unreachable') } }
    const broken = await buildNotification({ db: harness.db, redis: null, provider: failing })
    try {
      const userId = newUser()
      const key = randomUUID()
      const body = { userId, type: 'booking-confirmed', data: bookingFacts }
      const response = await send(broken, body, key)
      expect(response.statusCode).toBe(500)
      expect(response.json().error.code).toBe('INTERNAL_ERROR')
      expect(await listFor(userId)).toEqual([])

      const retry = await send(app, body, key)
      expect(retry.statusCode).toBe(201)
      expect(await listFor(userId)).toHaveLength(1)
    } finally {
      await broken.close()
    }
  })
})

describe('notifications without a service token', () => {
  it('refuses to send with 401 and records nothing', async () => {
    const userId = newUser()
    const sending = await expectRefusedWithoutToken(app, harness.db, 'notification', '/api/notifications', { userId, type: 'booking-confirmed', data: bookingFacts })
    expect(await listFor(userId)).toEqual([])
    expect((await sending.withToken()).statusCode).toBe(201)
    expect(await listFor(userId)).toHaveLength(1)
  })

  it('refuses reads too', async () => {
    expect((await app.inject({ method: 'GET', url: `/api/notifications?userId=${newUser()}` })).statusCode).toBe(401)
  })
})

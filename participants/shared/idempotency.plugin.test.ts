import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { configWith } from '../../platform/config.ts'
import { AppError } from '../../platform/errors.ts'
import { createRedis, type Redis } from '../../platform/redis.ts'
import { DEV_SERVICE_TOKEN } from '../../platform/service-tokens.ts'
import { command, participantHarness, SERVICE_AUTHORIZATION } from '../../test/support/participant-harness.ts'
import { tourView } from '../tour-catalog/tours.routes.ts'
import { buildParticipant } from './build-participant.ts'

// A test-only participant on the tour_catalog schema. Its one command creates a Tour named
// after the body's `tag` (so a test counts the effect with its own tag) and then does what
// `then` says: answer 201, reject as a business error AFTER writing, crash (plain Error) once
// AFTER writing, or wait until the test releases it.

type Then = 'succeed' | 'reject' | 'crash-once' | 'wait'
interface ProbeBody { tag: string; then?: Then; note?: string }

const probeBody = {
  type: 'object',
  additionalProperties: false,
  required: ['tag'],
  properties: {
    tag: { type: 'string', format: 'uuid' },
    then: { type: 'string', enum: ['succeed', 'reject', 'crash-once', 'wait'] },
    note: { type: 'string' },
  },
} as const

/** Tags whose handler already crashed once: the next run with that tag succeeds. */
const crashed = new Set<string>()
/** Handlers told to wait, by tag: the test learns when one is running and decides when it ends. */
const holds = new Map<string, { reached: () => void; released: Promise<void> }>()

function hold(tag: string) {
  let reached!: () => void
  let release!: () => void
  const whenReached = new Promise<void>((resolve) => { reached = resolve })
  const released = new Promise<void>((resolve) => { release = resolve })
  holds.set(tag, { reached, released })
  return { whenReached, release }
}

async function createTaggedTour(request: FastifyRequest<{ Body: ProbeBody }>, reply: FastifyReply) {
  const { tag, then = 'succeed' } = request.body
  const tour = await request.tx.tour.create({
    data: {
      id: randomUUID(), name: tag, date: new Date('2031-05-01T00:00:00Z'), capacity: 8, availableSpots: 8,
      priceMinor: 9_950, currency: 'EUR', cancellationMinDays: 3, cancellationFeePercent: 20,
    },
  })
  if (then === 'reject') throw new AppError('INSUFFICIENT_SPOTS', undefined, { tag })
  if (then === 'crash-once' && !crashed.has(tag)) {
    crashed.add(tag)
    throw new Error('simulated crash after writing')
  }
  const held = holds.get(tag)
  if (then === 'wait' && held) {
    held.reached()
    await held.released
  }
  reply.code(201)
  // Keys in an order Postgres' jsonb would not keep: replays must still be byte-equal.
  return { tourId: tour.id, tag, view: tourView(tour), createdAt: tour.createdAt.toISOString() }
}

async function probeRoutes(app: FastifyInstance): Promise<void> {
  app.post<{ Body: ProbeBody }>('/probe/tours', { schema: { body: probeBody } }, createTaggedTour)
  app.post<{ Body: ProbeBody }>('/probe/other-tours', { schema: { body: probeBody } }, createTaggedTour)
}

const harness = participantHarness()
let app: FastifyInstance
// Two callers: the orchestrator with the dev token (what `command` sends) and support.
const SUPPORT = 'Bearer support-token-for-tests'
const config = configWith({ SERVICE_TOKENS: `orchestrator:${DEV_SERVICE_TOKEN},support:${SUPPORT.slice(7)}` })

beforeAll(async () => {
  app = await buildParticipant({ name: 'tour-catalog', schema: 'tour_catalog', routes: probeRoutes, db: harness.db, redis: harness.redis, config })
})
afterAll(async () => {
  await app?.close()
  await harness.close()
})

const toursTagged = (tag: string) => harness.db.tour.count({ where: { name: tag } })
const replayed = (response: { headers: Record<string, unknown> }) => response.headers['idempotent-replayed'] === 'true'

describe('idempotency plugin: the key', () => {
  it('refuses a command without a key with 400 IDEMPOTENCY_KEY_REQUIRED, before validating the body', async () => {
    const response = await app.inject({ method: 'POST', url: '/probe/tours', payload: { tag: 'not-a-uuid' }, headers: { authorization: SERVICE_AUTHORIZATION } })
    expect(response.statusCode).toBe(400)
    expect(response.json().error.code).toBe('IDEMPOTENCY_KEY_REQUIRED')

    const withKey = await command(app, 'POST', '/probe/tours', { tag: 'not-a-uuid' })
    expect(withKey.statusCode).toBe(400)
    expect(withKey.json().error.code).toBe('VALIDATION_FAILED')
  })

  it('refuses a valid command without a key and applies nothing', async () => {
    const tag = randomUUID()
    const response = await app.inject({ method: 'POST', url: '/probe/tours', payload: { tag }, headers: { authorization: SERVICE_AUTHORIZATION } })
    expect(response.statusCode).toBe(400)
    expect(response.json().error.code).toBe('IDEMPOTENCY_KEY_REQUIRED')
    expect(await toursTagged(tag)).toBe(0)
  })

  it('accepts X-Idempotency-Key as the same key as Idempotency-Key', async () => {
    const tag = randomUUID()
    const key = randomUUID()
    const first = await app.inject({ method: 'POST', url: '/probe/tours', payload: { tag }, headers: { authorization: SERVICE_AUTHORIZATION, 'x-idempotency-key': key } })
    expect(first.statusCode).toBe(201)
    const again = await command(app, 'POST', '/probe/tours', { tag }, key)
    expect(again.statusCode).toBe(201)
    expect(replayed(again)).toBe(true)
    expect(again.body).toBe(first.body)
    expect(await toursTagged(tag)).toBe(1)
  })

  it('refuses a key longer than 255 characters and accepts one of 255', async () => {
    const tag = randomUUID()
    const tooLong = await command(app, 'POST', '/probe/tours', { tag }, 'k'.repeat(256))
    expect(tooLong.statusCode).toBe(400)
    expect(tooLong.json().error.code).toBe('VALIDATION_FAILED')
    expect(await toursTagged(tag)).toBe(0)

    const longest = await command(app, 'POST', '/probe/tours', { tag }, `${randomUUID()}${'k'.repeat(255 - 36)}`)
    expect(longest.statusCode).toBe(201)
    expect(await toursTagged(tag)).toBe(1)
  })
})

describe('idempotency plugin: replays', () => {
  it('replays a success with the same status and the same bytes, and applies it once', async () => {
    const tag = randomUUID()
    const key = randomUUID()
    const first = await command(app, 'POST', '/probe/tours', { tag }, key)
    expect(first.statusCode).toBe(201)
    expect(replayed(first)).toBe(false)
    expect(first.json()).toMatchObject({ tag, view: { name: tag, availableSpots: 8, price: 99.5 } })

    const second = await command(app, 'POST', '/probe/tours', { tag }, key)
    const third = await command(app, 'POST', '/probe/tours', { tag }, key)
    for (const replay of [second, third]) {
      expect(replay.statusCode).toBe(201)
      expect(replay.headers['idempotent-replayed']).toBe('true')
      expect(replay.headers['content-type']).toBe(first.headers['content-type'])
      expect(replay.body).toBe(first.body)
    }
    expect(await toursTagged(tag)).toBe(1)
  })

  it('treats the same body with its keys in another order as the same command', async () => {
    const tag = randomUUID()
    const key = randomUUID()
    const first = await app.inject({
      method: 'POST', url: '/probe/tours', headers: { authorization: SERVICE_AUTHORIZATION, 'idempotency-key': key, 'content-type': 'application/json' },
      payload: JSON.stringify({ tag, note: 'window seat' }),
    })
    const reordered = await app.inject({
      method: 'POST', url: '/probe/tours', headers: { authorization: SERVICE_AUTHORIZATION, 'idempotency-key': key, 'content-type': 'application/json' },
      payload: JSON.stringify({ note: 'window seat', tag }),
    })
    expect(first.statusCode).toBe(201)
    expect(reordered.statusCode).toBe(201)
    expect(replayed(reordered)).toBe(true)
    expect(reordered.body).toBe(first.body)
    expect(await toursTagged(tag)).toBe(1)
  })

  it('replays a business rejection and keeps none of the writes made before it', async () => {
    const tag = randomUUID()
    const key = randomUUID()
    const first = await command(app, 'POST', '/probe/tours', { tag, then: 'reject' }, key)
    expect(first.statusCode).toBe(422)
    expect(first.json()).toEqual({ error: { code: 'INSUFFICIENT_SPOTS', message: 'Not enough spots left on this tour', tag } })
    expect(await toursTagged(tag)).toBe(0)

    const replay = await command(app, 'POST', '/probe/tours', { tag, then: 'reject' }, key)
    expect(replay.statusCode).toBe(422)
    expect(replayed(replay)).toBe(true)
    expect(replay.body).toBe(first.body)
    expect(await toursTagged(tag)).toBe(0)
  })

  it('stores nothing when the handler crashes, so a retry with the same key runs it again', async () => {
    const tag = randomUUID()
    const key = randomUUID()
    const crash = await command(app, 'POST', '/probe/tours', { tag, then: 'crash-once' }, key)
    expect(crash.statusCode).toBe(500)
    expect(crash.json().error.code).toBe('INTERNAL_ERROR')
    expect(crash.body).not.toContain('simulated crash')
    expect(await toursTagged(tag)).toBe(0)

    const retry = await command(app, 'POST', '/probe/tours', { tag, then: 'crash-once' }, key)
    expect(retry.statusCode).toBe(201)
    expect(replayed(retry)).toBe(false)
    expect(await toursTagged(tag)).toBe(1)

    const replay = await command(app, 'POST', '/probe/tours', { tag, then: 'crash-once' }, key)
    expect(replayed(replay)).toBe(true)
    expect(replay.body).toBe(retry.body)
  })
})

describe('idempotency plugin: scope of a key', () => {
  it('refuses the same key with a different body with 422 IDEMPOTENCY_KEY_REUSED', async () => {
    const tag = randomUUID()
    const key = randomUUID()
    expect((await command(app, 'POST', '/probe/tours', { tag }, key)).statusCode).toBe(201)
    const otherTag = randomUUID()
    const reused = await command(app, 'POST', '/probe/tours', { tag: otherTag }, key)
    expect(reused.statusCode).toBe(422)
    expect(reused.json().error.code).toBe('IDEMPOTENCY_KEY_REUSED')
    expect(await toursTagged(tag)).toBe(1)
    expect(await toursTagged(otherTag)).toBe(0)
  })

  it('refuses the same key on another route with 422 IDEMPOTENCY_KEY_REUSED, even with the same body', async () => {
    const tag = randomUUID()
    const key = randomUUID()
    expect((await command(app, 'POST', '/probe/tours', { tag }, key)).statusCode).toBe(201)
    const there = await command(app, 'POST', '/probe/other-tours', { tag }, key)
    expect(there.statusCode).toBe(422)
    expect(there.json().error.code).toBe('IDEMPOTENCY_KEY_REUSED')
    expect(await toursTagged(tag)).toBe(1)
  })

  it('keeps the same key of another caller independent, whatever X-Client-Id says', async () => {
    const tag = randomUUID()
    const key = randomUUID()
    const orchestrator = await command(app, 'POST', '/probe/tours', { tag }, key, { 'x-client-id': 'support' })
    const support = await command(app, 'POST', '/probe/tours', { tag }, key, { authorization: SUPPORT, 'x-client-id': 'orchestrator' })
    const orchestratorAgain = await command(app, 'POST', '/probe/tours', { tag }, key, { 'x-client-id': 'someone-else' })
    expect([orchestrator.statusCode, support.statusCode]).toEqual([201, 201])
    expect(replayed(support)).toBe(false)
    expect(support.json().tourId).not.toBe(orchestrator.json().tourId)
    expect(replayed(orchestratorAgain)).toBe(true)
    expect(orchestratorAgain.body).toBe(orchestrator.body)
    expect(await toursTagged(tag)).toBe(2)
    // One record per caller under the key.
    const rows = await harness.db.tourCatalogIdempotencyKey.findMany({ where: { key }, orderBy: { caller: 'asc' } })
    expect(rows.map((row) => row.caller)).toEqual(['orchestrator', 'support'])
  })
})

describe('idempotency plugin: concurrent duplicates', () => {
  it('answers 409 REQUEST_IN_PROGRESS to the same key while the first request is still running', async () => {
    const tag = randomUUID()
    const key = randomUUID()
    const { whenReached, release } = hold(tag)
    try {
      const first = command(app, 'POST', '/probe/tours', { tag, then: 'wait' }, key)
      await whenReached
      const duplicate = await command(app, 'POST', '/probe/tours', { tag, then: 'wait' }, key)
      expect(duplicate.statusCode).toBe(409)
      expect(duplicate.json().error.code).toBe('REQUEST_IN_PROGRESS')
      release()
      const answer = await first
      expect(answer.statusCode).toBe(201)

      const later = await command(app, 'POST', '/probe/tours', { tag, then: 'wait' }, key)
      expect(later.statusCode).toBe(201)
      expect(replayed(later)).toBe(true)
      expect(later.body).toBe(answer.body)
      expect(await toursTagged(tag)).toBe(1)
    } finally {
      release()
      holds.delete(tag)
    }
  })

  it('applies 20 simultaneous identical requests once: each gets the 201 or 409, and a later replay the 201', async () => {
    const tag = randomUUID()
    const key = randomUUID()
    const responses = await Promise.all(Array.from({ length: 20 }, () => command(app, 'POST', '/probe/tours', { tag }, key)))

    const originals = responses.filter((r) => r.statusCode === 201 && !replayed(r))
    expect(originals).toHaveLength(1)
    const original = originals[0]!
    for (const response of responses) {
      if (response.statusCode === 201) expect(response.body).toBe(original.body)
      else expect([response.statusCode, response.json().error.code]).toEqual([409, 'REQUEST_IN_PROGRESS'])
    }
    expect(await toursTagged(tag)).toBe(1)

    const later = await command(app, 'POST', '/probe/tours', { tag }, key)
    expect(later.statusCode).toBe(201)
    expect(replayed(later)).toBe(true)
    expect(later.body).toBe(original.body)
  })
})

describe('idempotency plugin: answers live in Postgres alone', () => {
  it('writes nothing to Redis for a command, and replays from Postgres', async () => {
    const tag = randomUUID()
    const key = randomUUID()
    const first = await command(app, 'POST', '/probe/tours', { tag }, key)
    expect(first.statusCode).toBe(201)
    expect(await harness.redis.keys(`*${key}*`)).toEqual([])
    const replay = await command(app, 'POST', '/probe/tours', { tag }, key)
    expect([replay.statusCode, replayed(replay), replay.body]).toEqual([201, true, first.body])
  })

  describe('with Redis down', () => {
    let deadRedis: Redis
    let offline: FastifyInstance

    beforeAll(async () => {
      // Nothing listens on port 1: the client never becomes ready.
      deadRedis = createRedis({ url: 'redis://127.0.0.1:1' })
      offline = await buildParticipant({ name: 'tour-catalog', schema: 'tour_catalog', routes: probeRoutes, db: harness.db, redis: deadRedis, config })
    })
    afterAll(async () => {
      await offline?.close()
      deadRedis?.disconnect()
    })

    it('applies a command and replays it from Postgres without waiting for Redis', async () => {
      const tag = randomUUID()
      const key = randomUUID()
      const first = await command(offline, 'POST', '/probe/tours', { tag }, key)
      expect(first.statusCode).toBe(201)

      const started = Date.now()
      const replay = await command(offline, 'POST', '/probe/tours', { tag }, key)
      // A Redis command would only give up after its 2 s timeout.
      expect(Date.now() - started).toBeLessThan(2_000)
      expect(replay.statusCode).toBe(201)
      expect(replayed(replay)).toBe(true)
      expect(replay.body).toBe(first.body)
      expect(await toursTagged(tag)).toBe(1)
    })

    it('still refuses a reused key from Postgres', async () => {
      const tag = randomUUID()
      const key = randomUUID()
      expect((await command(offline, 'POST', '/probe/tours', { tag }, key)).statusCode).toBe(201)
      const reused = await command(offline, 'POST', '/probe/tours', { tag: randomUUID() }, key)
      expect(reused.statusCode).toBe(422)
      expect(reused.json().error.code).toBe('IDEMPOTENCY_KEY_REUSED')
    })
  })
})

describe('idempotency plugin: the fence', () => {
  const fence = (key: string, authorization?: string) =>
    command(app, 'POST', `/api/idempotency-keys/${encodeURIComponent(key)}/fence`, undefined, undefined, authorization ? { authorization } : {})

  it('answers a key whose command succeeded with the stored answer, and leaves the key answering', async () => {
    const tag = randomUUID()
    const key = randomUUID()
    const first = await command(app, 'POST', '/probe/tours', { tag }, key)
    for (let i = 0; i < 2; i++) {
      const fenced = await fence(key)
      expect(fenced.statusCode).toBe(200)
      expect(fenced.json()).toEqual({ applied: true, status: 201, body: first.json() })
    }
    const replay = await command(app, 'POST', '/probe/tours', { tag }, key)
    expect([replay.statusCode, replayed(replay), replay.body]).toEqual([201, true, first.body])
    expect(await toursTagged(tag)).toBe(1)
  })

  it('answers a key whose command was rejected with the stored rejection', async () => {
    const tag = randomUUID()
    const key = randomUUID()
    const rejected = await command(app, 'POST', '/probe/tours', { tag, then: 'reject' }, key)
    expect(rejected.statusCode).toBe(422)
    expect((await fence(key)).json()).toEqual({ applied: true, status: 422, body: rejected.json() })
  })

  it('fences an unused key: the command under it then answers 409 IDEMPOTENCY_KEY_FENCED and changes nothing, for good', async () => {
    const tag = randomUUID()
    const key = randomUUID()
    expect((await fence(key)).json()).toEqual({ applied: false })
    for (let i = 0; i < 2; i++) {
      const refused = await command(app, 'POST', '/probe/tours', { tag }, key)
      expect(refused.statusCode).toBe(409)
      expect(refused.json().error.code).toBe('IDEMPOTENCY_KEY_FENCED')
    }
    // Fencing again says the same, and the refusal is not a stored answer to replay.
    expect((await fence(key)).json()).toEqual({ applied: false })
    expect(await toursTagged(tag)).toBe(0)
    const records = await harness.db.tourCatalogIdempotencyKey.findMany({ where: { key } })
    expect(records.map((record) => [record.status, record.fencedAt === null])).toEqual([[null, false]])
  })

  it('answers 409 REQUEST_IN_PROGRESS while the command holds its key mid-transaction, and the stored answer once it committed', async () => {
    const tag = randomUUID()
    const key = randomUUID()
    const { whenReached, release } = hold(tag)
    try {
      const running = command(app, 'POST', '/probe/tours', { tag, then: 'wait' }, key)
      await whenReached
      const during = await fence(key)
      expect(during.statusCode).toBe(409)
      expect(during.json().error.code).toBe('REQUEST_IN_PROGRESS')
      release()
      const answered = await running
      expect(answered.statusCode).toBe(201)
      expect((await fence(key)).json()).toEqual({ applied: true, status: 201, body: answered.json() })
    } finally {
      release()
      holds.delete(tag)
    }
  })

  it('answers applied:false after a command that crashed and rolled back, and the retry is then refused', async () => {
    const tag = randomUUID()
    const key = randomUUID()
    expect((await command(app, 'POST', '/probe/tours', { tag, then: 'crash-once' }, key)).statusCode).toBe(500)
    expect((await fence(key)).json()).toEqual({ applied: false })
    // Without the fence this retry would succeed (the crash happens once).
    const retry = await command(app, 'POST', '/probe/tours', { tag, then: 'crash-once' }, key)
    expect(retry.statusCode).toBe(409)
    expect(retry.json().error.code).toBe('IDEMPOTENCY_KEY_FENCED')
    expect(await toursTagged(tag)).toBe(0)
  })

  it('keeps callers apart: another caller\'s fence neither sees nor blocks this caller\'s key', async () => {
    const tag = randomUUID()
    const key = randomUUID()
    expect((await fence(key, SUPPORT)).json()).toEqual({ applied: false })
    const applied = await command(app, 'POST', '/probe/tours', { tag }, key)
    expect(applied.statusCode).toBe(201)
    expect((await fence(key, SUPPORT)).json()).toEqual({ applied: false })
    expect((await fence(key)).json()).toEqual({ applied: true, status: 201, body: applied.json() })
    expect((await command(app, 'POST', '/probe/tours', { tag }, key, { authorization: SUPPORT })).json().error.code).toBe('IDEMPOTENCY_KEY_FENCED')
    expect(await toursTagged(tag)).toBe(1)
  })

  it('needs a service token and no Idempotency-Key of its own, and takes any key a command may have', async () => {
    const key = `${randomUUID()}:reserveTour:forward/${'k'.repeat(255 - 57)}`
    expect(key).toHaveLength(255)
    const anonymous = await app.inject({ method: 'POST', url: `/api/idempotency-keys/${encodeURIComponent(key)}/fence` })
    expect(anonymous.statusCode).toBe(401)
    const bare = await app.inject({ method: 'POST', url: `/api/idempotency-keys/${encodeURIComponent(key)}/fence`, headers: { authorization: SERVICE_AUTHORIZATION } })
    expect(bare.statusCode).toBe(200)
    expect(bare.json()).toEqual({ applied: false })
    expect((await command(app, 'POST', '/probe/tours', { tag: randomUUID() }, key)).json().error.code).toBe('IDEMPOTENCY_KEY_FENCED')
    const tooLong = await fence('k'.repeat(256))
    expect(tooLong.statusCode).toBe(400)
    expect(tooLong.json().error.code).toBe('VALIDATION_FAILED')
  })
})

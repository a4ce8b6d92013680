import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { configWith } from '../../platform/config.ts'
import { command, participantHarness, read, SERVICE_AUTHORIZATION } from '../../test/support/participant-harness.ts'
import { buildParticipant } from './build-participant.ts'

// Service identity on a test-only participant: a read, and a command that answers who called.
// Every real participant's own suite checks that its commands apply nothing without a token.

async function probeRoutes(app: FastifyInstance): Promise<void> {
  app.get('/probe/whoami', async (request) => ({ caller: request.caller }))
  app.post('/probe/commands', async (request, reply) => {
    reply.code(201)
    return { caller: request.caller }
  })
}

const harness = participantHarness()
const build = (env: Record<string, string>) =>
  buildParticipant({ name: 'tour-catalog', schema: 'tour_catalog', routes: probeRoutes, db: harness.db, redis: null, config: configWith(env) })

afterAll(async () => {
  await harness.close()
})

describe('service identity', () => {
  let app: FastifyInstance
  beforeAll(async () => {
    app = await build({ SERVICE_TOKENS: 'orchestrator:orchestrator-token-1,support:support-token-1' })
  })
  afterAll(async () => {
    await app?.close()
  })

  it('names the caller its token is listed under, on reads and commands', async () => {
    expect((await read(app, '/probe/whoami', { authorization: 'Bearer support-token-1' })).json()).toEqual({ caller: 'support' })
    const applied = await command(app, 'POST', '/probe/commands', {}, undefined, { authorization: 'Bearer orchestrator-token-1' })
    expect(applied.statusCode).toBe(201)
    expect(applied.json()).toEqual({ caller: 'orchestrator' })
  })

  it('reads the header as the orchestrator does: any run of spaces or tabs after Bearer, trailing blanks', async () => {
    for (const authorization of ['Bearer\tsupport-token-1', 'Bearer \t support-token-1 ', 'Bearer  support-token-1\t']) {
      expect((await read(app, '/probe/whoami', { authorization })).json(), JSON.stringify(authorization)).toEqual({ caller: 'support' })
    }
  })

  it.each([
    ['no authorization', undefined],
    ['an unknown token', 'Bearer not-a-token'],
    ['a known token in another scheme', 'Basic orchestrator-token-1'],
    ['a known token with something after it', 'Bearer orchestrator-token-1 extra'],
    ['a prefix of a known token', 'Bearer orchestrator-token-'],
    ['the dev token, once SERVICE_TOKENS is set', SERVICE_AUTHORIZATION],
  ])('answers 401 UNAUTHORIZED in the contract shape to %s, on reads and commands', async (_case, authorization) => {
    const headers: Record<string, string> = authorization === undefined ? {} : { authorization }
    for (const response of [
      await app.inject({ method: 'GET', url: '/probe/whoami', headers }),
      await app.inject({ method: 'POST', url: '/probe/commands', headers: { ...headers, 'idempotency-key': 'k-1' }, payload: {} }),
    ]) {
      expect(response.statusCode).toBe(401)
      expect(response.headers['www-authenticate']).toBe('Bearer')
      expect(response.json()).toEqual({ error: { code: 'UNAUTHORIZED', message: expect.any(String) } })
    }
  })

  it('refuses a command without a token before looking at its key or its body', async () => {
    const response = await app.inject({ method: 'POST', url: '/probe/commands', payload: '{not json', headers: { 'content-type': 'application/json' } })
    expect(response.statusCode).toBe(401)
  })

  it('keeps /health, /ready and /metrics open to callers without a token', async () => {
    for (const url of ['/health', '/ready', '/metrics']) expect((await app.inject({ method: 'GET', url })).statusCode, url).toBe(200)
  })

  it('accepts the dev token as caller orchestrator while SERVICE_TOKENS is unset', async () => {
    const dev = await build({ SERVICE_TOKENS: '' })
    try {
      expect((await read(dev, '/probe/whoami')).json()).toEqual({ caller: 'orchestrator' })
    } finally {
      await dev.close()
    }
  })

  it('refuses to start in production without SERVICE_TOKENS', async () => {
    await expect(build({ NODE_ENV: 'production', SERVICE_TOKENS: '' })).rejects.toThrow(/SERVICE_TOKENS must be set in production/)
  })
})

describe('service rate limits', () => {
  let app: FastifyInstance
  beforeAll(async () => {
    // Two tokens for the orchestrator (a rotation in progress): one principal, one budget.
    app = await build({
      SERVICE_TOKENS: 'orchestrator:orchestrator-token-old,orchestrator:orchestrator-token-new,support:support-token-1',
      SERVICE_RATE_LIMIT_MAX: '3',
      RATE_LIMIT_WINDOW_MS: '60000',
    })
  })
  afterAll(async () => {
    await app?.close()
  })

  const whoami = (authorization?: string) =>
    app.inject({ method: 'GET', url: '/probe/whoami', headers: authorization ? { authorization } : {} })

  it('limits a storm of bogus tokens per client address with 429 RATE_LIMITED, without touching any caller\'s budget', async () => {
    const statuses: number[] = []
    for (let i = 0; i < 6; i++) statuses.push((await whoami(`Bearer bogus-${i}`)).statusCode)
    expect(statuses).toEqual([401, 401, 401, 429, 429, 429])
    const limited = await whoami()
    expect(limited.statusCode).toBe(429)
    expect(limited.json().error.code).toBe('RATE_LIMITED')
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0)
    // The same address, authenticated: its caller's budget is its own.
    expect((await whoami('Bearer support-token-1')).statusCode).toBe(200)
  })

  it('answers 429 with Retry-After once a caller spends its budget, however its token is spelled, and only for that caller', async () => {
    const statuses = [
      (await whoami('Bearer orchestrator-token-old')).statusCode,
      (await whoami('Bearer orchestrator-token-new')).statusCode,
      (await command(app, 'POST', '/probe/commands', {}, undefined, { authorization: 'Bearer orchestrator-token-old' })).statusCode,
    ]
    expect(statuses).toEqual([200, 200, 201])
    const limited = await command(app, 'POST', '/probe/commands', {}, undefined, { authorization: 'Bearer orchestrator-token-new' })
    expect(limited.statusCode).toBe(429)
    expect(limited.json()).toEqual({ error: { code: 'RATE_LIMITED', message: expect.stringMatching(/at most 3 per/) } })
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0)
    // support spent one request in the test above.
    expect((await whoami('Bearer support-token-1')).statusCode).toBe(200)
    // Health checks are never limited.
    for (let i = 0; i < 5; i++) expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200)
  })

  it('does not limit at all with SERVICE_RATE_LIMIT_MAX=0', async () => {
    const unlimited = await build({ SERVICE_TOKENS: 'orchestrator:orchestrator-token-1', SERVICE_RATE_LIMIT_MAX: '0' })
    try {
      const statuses = new Set<number>()
      for (let i = 0; i < 20; i++) statuses.add((await unlimited.inject({ method: 'GET', url: '/probe/whoami', headers: { authorization: 'Bearer x' } })).statusCode)
      expect([...statuses]).toEqual([401])
    } finally {
      await unlimited.close()
    }
  })
})

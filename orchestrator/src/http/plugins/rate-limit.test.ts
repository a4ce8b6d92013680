import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { configWith } from '../../../../platform/config.ts'
import { createLogger } from '../../../../platform/logger.ts'
import { participantHarness } from '../../../../test/support/participant-harness.ts'
import { mintDevToken } from '../../cli/dev-token.ts'
import { buildOrchestratorApp } from '../app.ts'

const shared = participantHarness()
const quiet = createLogger({ service: 'test', level: 'silent', format: 'json' })
const apps: FastifyInstance[] = []
const support = `support-${randomUUID()}`
const operator = `operator-${randomUUID()}`

/** An app whose budget is `max` requests a minute (counted in its own process). */
async function appLimitedTo(max: number): Promise<FastifyInstance> {
  const app = await buildOrchestratorApp({
    db: shared.db,
    redis: null,
    logger: quiet,
    config: configWith({ NODE_ENV: 'test', API_TOKENS: `support:${support},operator:${operator}`, RATE_LIMIT_MAX: String(max), RATE_LIMIT_WINDOW_MS: '60000', AUTH_JWT_SECRET: '', AUTH_JWKS_URL: '' }),
  })
  apps.push(app)
  return app
}

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()))
})
afterAll(async () => {
  await shared.close()
})

const get = (app: FastifyInstance, url: string, authorization?: string, remoteAddress = '127.0.0.1') =>
  app.inject({ method: 'GET', url, remoteAddress, headers: authorization === undefined ? {} : { authorization } })

function expectLimited(response: Awaited<ReturnType<typeof get>>) {
  expect(response.statusCode).toBe(429)
  expect(response.json().error.code).toBe('RATE_LIMITED')
  expect(Number(response.headers['retry-after'])).toBeGreaterThan(0)
}

describe('rate limits', () => {
  it('answers 429 RATE_LIMITED with Retry-After once a token spends its budget, and only for that token', async () => {
    const app = await appLimitedTo(3)
    const statuses: number[] = []
    for (let i = 0; i < 3; i++) statuses.push((await get(app, '/api/orchestrator/me', `Bearer ${support}`)).statusCode)
    expect(statuses).toEqual([200, 200, 200])
    expectLimited(await get(app, '/api/orchestrator/me', `Bearer ${support}`))
    expect((await get(app, '/api/orchestrator/me', `Bearer ${operator}`)).statusCode).toBe(200)
  })

  it('counts a principal once however its header is spelled (the spacing trick)', async () => {
    const app = await appLimitedTo(50)
    const statuses = new Map<number, number>()
    for (let i = 0; i < 120; i++) {
      const spelling = `Bearer${' '.repeat(1 + (i % 7))}${'\t'.repeat(i % 3)}${support}${' '.repeat(i % 4)}`
      const { statusCode } = await get(app, '/api/orchestrator/me', spelling)
      statuses.set(statusCode, (statuses.get(statusCode) ?? 0) + 1)
    }
    expect(Object.fromEntries(statuses)).toEqual({ 200: 50, 429: 70 })
    expectLimited(await get(app, '/api/orchestrator/me', `Bearer ${support}`))
  })

  it('counts every token of one end user as that user', async () => {
    const app = await appLimitedTo(3)
    const config = configWith({ NODE_ENV: 'test', AUTH_JWT_SECRET: '', AUTH_JWKS_URL: '' })
    for (let i = 0; i < 3; i++) {
      const token = await mintDevToken({ userId: 'erin', ttlSeconds: 60 + i, config })
      expect((await get(app, '/api/orchestrator/me', `Bearer ${token}`)).statusCode).toBe(200)
    }
    expectLimited(await get(app, '/api/orchestrator/me', `Bearer ${await mintDevToken({ userId: 'erin', ttlSeconds: 600, config })}`))
    expect((await get(app, '/api/orchestrator/me', `Bearer ${await mintDevToken({ userId: 'frank', config })}`)).statusCode).toBe(200)
  })

  it('limits requests with missing or unknown credentials per client address: a storm of random bogus tokens too', async () => {
    const app = await appLimitedTo(5)
    const storm = [] as number[]
    for (let i = 0; i < 20; i++) {
      const bogus = i % 2 ? randomUUID() : `eyJhbGciOiJIUzI1NiJ9.${Buffer.from(randomUUID()).toString('base64url')}.c2ln`
      storm.push((await get(app, '/api/orchestrator/me', `Bearer ${bogus}`, '10.0.0.7')).statusCode)
    }
    expect(storm.slice(0, 5)).toEqual([401, 401, 401, 401, 401])
    expect(storm.slice(5).every((status) => status === 429)).toBe(true)
    expectLimited(await get(app, '/api/orchestrator/me', undefined, '10.0.0.7'))
    // Another address, and a real token from the same address, have their own budgets.
    expect((await get(app, '/api/orchestrator/me', `Bearer ${randomUUID()}`, '10.0.0.8')).statusCode).toBe(401)
    expect((await get(app, '/api/orchestrator/me', `Bearer ${support}`, '10.0.0.7')).statusCode).toBe(200)
  })

  it('never limits /health, /ready and /metrics', async () => {
    const app = await appLimitedTo(1)
    for (let i = 0; i < 5; i++) {
      for (const url of ['/health', '/health?probe=1', '/ready', '/metrics']) {
        expect((await get(app, url, `Bearer ${randomUUID()}`)).statusCode, url).toBe(200)
      }
    }
  })

  it('is off with RATE_LIMIT_MAX=0', async () => {
    const app = await appLimitedTo(0)
    for (let i = 0; i < 30; i++) expect((await get(app, '/api/orchestrator/me', `Bearer ${support}`)).statusCode).toBe(200)
  })
})

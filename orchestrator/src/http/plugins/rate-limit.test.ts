import { randomUUID } from 'node:crypto'
import { configWith } from '../../../../platform/config.ts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startSystem, type TestSystem } from '../../../../test/support/system.ts'

let system: TestSystem
// Fresh tokens: budgets are counted in Redis per token, across processes and test runs.
const support = `support-${randomUUID()}`
const operator = `operator-${randomUUID()}`

beforeAll(async () => {
  system = await startSystem({
    orchestrator: { config: configWith({ NODE_ENV: 'test', API_TOKENS: `support:${support},operator:${operator}`, RATE_LIMIT_MAX: '3', RATE_LIMIT_WINDOW_MS: '60000' }) },
  })
})
afterAll(async () => {
  await system?.close()
})

describe('rate limits', () => {
  it('answers 429 RATE_LIMITED with Retry-After once a token spends its budget, and only for that token', async () => {
    const read = (token: string) => system.orchestrator.inject({ method: 'GET', url: '/api/orchestrator/sagas?limit=1', headers: { authorization: `Bearer ${token}` } })
    const statuses: number[] = []
    for (let i = 0; i < 3; i++) statuses.push((await read(support)).statusCode)
    expect(statuses).toEqual([200, 200, 200])
    const limited = await read(support)
    expect(limited.statusCode).toBe(429)
    expect(limited.json().error.code).toBe('RATE_LIMITED')
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0)
    expect((await read(operator)).statusCode).toBe(200)
    // Health checks are never limited.
    for (let i = 0; i < 5; i++) expect((await system.orchestrator.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200)
  })
})

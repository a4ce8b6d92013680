import { afterAll, describe, expect, it } from 'vitest'
import { buildOrchestratorApp } from '../orchestrator/src/http/app.ts'
import { buildParticipant } from '../participants/shared/build-participant.ts'
import { captureLogs } from '../test/support/log-capture.ts'
import { configWith } from './config.ts'
import { createDatabase } from './database.ts'
import { createRedis, REDIS_DISABLED, redisFromConfig } from './redis.ts'

// REDIS_URL=disabled: the explicit degraded mode (no mirror, no cache; reads and live updates
// from Postgres), said at start and in /ready.

const db = createDatabase({ poolSize: 2 })
afterAll(async () => {
  await db.$disconnect()
})

describe('REDIS_URL=disabled', () => {
  it('gives no Redis client, and says so once at start', () => {
    const logs = captureLogs()
    expect(redisFromConfig({ REDIS_URL: REDIS_DISABLED }, logs.logger)).toBeUndefined()
    expect(logs.lines()).toMatchObject([{ level: 40, msg: expect.stringContaining('Redis disabled (REDIS_URL=disabled)') }])
  })

  it('is refused by createRedis, which would otherwise retry a host named "disabled" forever', () => {
    expect(() => createRedis({ url: REDIS_DISABLED })).toThrow(/redisFromConfig/)
  })

  it('makes the orchestrator and the participants ready without Redis, reporting it as disabled', async () => {
    const config = configWith({ REDIS_URL: REDIS_DISABLED, NODE_ENV: 'test', LOG_LEVEL: 'silent' })
    const orchestrator = await buildOrchestratorApp({ db, config, logger: captureLogs().logger })
    const participant = await buildParticipant({ name: 'loyalty', schema: 'loyalty', config, db, logger: captureLogs().logger, routes: async () => {} })
    try {
      for (const app of [orchestrator, participant]) {
        const response = await app.inject({ url: '/ready' })
        expect(response.statusCode).toBe(200)
        expect(response.json()).toEqual({ status: 'ready', postgres: 'up', redis: 'disabled' })
      }
    } finally {
      await orchestrator.close()
      await participant.close()
    }
  })
})

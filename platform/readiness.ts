import type { FastifyInstance } from 'fastify'
import type { PrismaClient } from './database.ts'
import { errorBody } from './errors.ts'
import type { Redis } from './redis.ts'

export interface ReadinessOptions {
  /** Name in the /health answer. */
  service: string
  db: PrismaClient
  /** Undefined: the service runs without Redis ("disabled" in /ready). */
  redis: Redis | undefined
}

/**
 * `GET /health` (the process is alive) and `GET /ready` (its dependencies answer), the same on
 * every service. Not ready answers 503 in the contract's error shape, with what is down beside it.
 */
export function registerReadiness(app: FastifyInstance, options: ReadinessOptions): void {
  app.get('/health', { schema: { summary: 'The process is alive', tags: ['health'] } }, async () => ({ status: 'ok', service: options.service }))

  app.get('/ready', { schema: { summary: 'Postgres and Redis are reachable', tags: ['health'] } }, async (_request, reply) => {
    const postgres = await options.db.$queryRawUnsafe('SELECT 1').then(() => 'up', () => 'down')
    const redis = options.redis ? await options.redis.ping().then(() => 'up', () => 'down') : 'disabled'
    if (postgres === 'up' && redis !== 'down') return { status: 'ready', postgres, redis }
    return reply.code(503).send({ status: 'unavailable', postgres, redis, ...errorBody('SERVICE_UNAVAILABLE', 'Postgres or Redis is unreachable') })
  })
}

import type { FastifyInstance } from 'fastify'
import { errorBody } from '../../../../platform/errors.ts'

export default async function healthRoutes(app: FastifyInstance): Promise<void> {
  app.get('/health', { schema: { summary: 'The process is alive', tags: ['health'] } }, async () => ({ status: 'ok', service: 'orchestrator' }))

  app.get('/ready', { schema: { summary: 'Postgres and Redis are reachable', tags: ['health'] } }, async (_request, reply) => {
    const postgres = await app.db.$queryRawUnsafe('SELECT 1').then(() => 'up', () => 'down')
    const redis = app.redis ? await app.redis.ping().then(() => 'up', () => 'down') : 'disabled'
    const ready = postgres === 'up' && redis !== 'down'
    if (ready) return { status: 'ready', postgres, redis }
    // A 503 like any other: in the contract's error shape, with what is down beside it.
    return reply.code(503).send({ status: 'unavailable', postgres, redis, ...errorBody('SERVICE_UNAVAILABLE', 'Postgres or Redis is unreachable') })
  })

  app.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['health'] } }, async (_request, reply) => {
    app.metrics.sagasInFlight.set(app.orchestrator.runner.inFlight)
    return reply.type(app.metrics.registry.contentType).send(await app.metrics.registry.metrics())
  })
}

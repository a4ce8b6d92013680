import type { FastifyInstance } from 'fastify'

export default async function healthRoutes(app: FastifyInstance): Promise<void> {
  app.get('/health', { schema: { summary: 'The process is alive', tags: ['health'] } }, async () => ({ status: 'ok', service: 'orchestrator' }))

  app.get('/ready', { schema: { summary: 'Postgres and Redis are reachable', tags: ['health'] } }, async (_request, reply) => {
    const postgres = await app.db.$queryRawUnsafe('SELECT 1').then(() => 'up', () => 'down')
    const redis = app.redis ? await app.redis.ping().then(() => 'up', () => 'down') : 'disabled'
    const ready = postgres === 'up' && redis !== 'down'
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'unavailable', postgres, redis })
  })

  app.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['health'] } }, async (_request, reply) => {
    app.metrics.sagasInFlight.set(app.orchestrator.runner.inFlight)
    return reply.type(app.metrics.registry.contentType).send(await app.metrics.registry.metrics())
  })
}

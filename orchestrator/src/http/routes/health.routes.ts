import type { FastifyInstance } from 'fastify'
import { registerReadiness } from '../../../../platform/readiness.ts'

export default async function healthRoutes(app: FastifyInstance): Promise<void> {
  registerReadiness(app, { service: 'orchestrator', db: app.db, redis: app.redis })

  app.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['health'] } }, async (_request, reply) => {
    app.metrics.sagasInFlight.set(app.orchestrator.runner.inFlight)
    return reply.type(app.metrics.registry.contentType).send(await app.metrics.registry.metrics())
  })
}

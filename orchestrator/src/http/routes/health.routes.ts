import type { FastifyInstance } from 'fastify'
import type { PrismaClient } from '../../../../platform/database.ts'
import { registerReadiness } from '../../../../platform/readiness.ts'
import type { Redis } from '../../../../platform/redis.ts'

export interface HealthOptions {
  db: PrismaClient
  redis: Redis | undefined
}

export default async function healthRoutes(app: FastifyInstance, options: HealthOptions): Promise<void> {
  registerReadiness(app, { service: 'orchestrator', db: options.db, redis: options.redis })

  app.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['health'] } }, async (_request, reply) => {
    app.metrics.sagasInFlight.set(app.orchestrator.inFlight)
    // Read at scrape time from Postgres: a gauge kept in memory would only count this process's sagas.
    const { counts } = await app.orchestrator.stats().catch(() => ({ counts: undefined }))
    if (counts) for (const status of ['PARKED', 'COMPENSATION_FAILED'] as const) app.metrics.sagasWaiting.set({ status }, counts[status])
    return reply.type(app.metrics.registry.contentType).send(await app.metrics.registry.metrics())
  })
}

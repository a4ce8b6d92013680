import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

/** OpenAPI generated from the route schemas, served as JSON at /docs/json and as a page at /docs. */
async function docsPlugin(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Saga orchestrator',
        version: '1.0.0',
        description: 'Starts tour booking, booking cancellation and hotel reservation sagas; lets support staff follow them and operators retry or abort them.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      tags: [
        { name: 'sagas', description: 'Start sagas (role client)' },
        { name: 'support', description: 'Read and search sagas (role support)' },
        { name: 'operations', description: 'Retry and abort sagas (role operator)' },
        { name: 'health', description: 'Liveness, readiness, metrics' },
      ],
    },
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })
}

export default fp(docsPlugin, { name: 'docs', fastify: '5.x' })

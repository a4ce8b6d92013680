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
  // Swagger UI's own policy, for its pages only (the app's stricter one covers everything else):
  // its bundle sets inline styles and shows data: images.
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; " +
      "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'; object-src 'none'",
  })
}

export default fp(docsPlugin, { name: 'docs', fastify: '5.x' })

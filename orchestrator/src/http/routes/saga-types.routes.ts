import type { FastifyInstance } from 'fastify'
import { registerStartRoute } from './start-saga.routes.ts'

/**
 * `POST /api/orchestrator/sagas/{type}` for every registered saga type, validated by the
 * type's own input schema: a saga added to the registry is reachable through the API with
 * no route written for it.
 */
export default async function sagaTypeRoutes(app: FastifyInstance): Promise<void> {
  for (const type of app.orchestrator.sagaTypes()) {
    registerStartRoute(app, {
      url: `/api/orchestrator/sagas/${type}`,
      type,
      summary: `Start a ${type} saga`,
      body: app.orchestrator.inputSchemaOf(type),
      toInput: (request) => request.body,
    })
  }
}

import type { FastifyInstance } from 'fastify'
import { AppError } from '../../../../platform/errors.ts'
import type { SagaStatus } from '../../engine/saga-instance.ts'
import { errorSchema, sagaIdParams, sagaStatusEnum, sagaViewSchema } from '../schemas/common.ts'

interface ListQuery {
  status?: SagaStatus
  type?: string
  userId?: string
  bookingId?: string
  reservationId?: string
  incidentCode?: string
  step?: string
  createdFrom?: string
  createdTo?: string
  limit: number
  cursor?: string
}

const text = (maxLength: number) => ({ type: 'string', maxLength }) as const

export default async function sagaRoutes(app: FastifyInstance): Promise<void> {
  app.get<{ Params: { sagaId: string } }>('/api/orchestrator/sagas/:sagaId', {
    schema: {
      summary: 'A saga with its step timeline, incident and the operator actions it allows',
      tags: ['support'],
      security: [{ bearer: [] }],
      params: sagaIdParams,
      response: { 200: sagaViewSchema, 404: errorSchema },
    },
    preHandler: app.requireRole('support'),
  }, async (request) => {
    const view = await app.orchestrator.getSagaView(request.params.sagaId)
    if (!view) throw new AppError('SAGA_NOT_FOUND')
    return view
  })

  app.get<{ Params: { sagaId: string } }>('/api/orchestrator/sagas/:sagaId/log', {
    schema: {
      summary: 'The saga\'s event log: every transition and every operator action, with who and why',
      tags: ['support'],
      security: [{ bearer: [] }],
      params: sagaIdParams,
      response: { 404: errorSchema },
    },
    preHandler: app.requireRole('support'),
  }, async (request) => ({ events: await app.orchestrator.events(request.params.sagaId) }))

  app.get<{ Querystring: ListQuery }>('/api/orchestrator/sagas', {
    schema: {
      summary: 'Search sagas, newest first',
      tags: ['support'],
      security: [{ bearer: [] }],
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          status: { type: 'string', enum: sagaStatusEnum },
          type: text(100),
          userId: text(200),
          bookingId: text(100),
          reservationId: text(100),
          incidentCode: { ...text(100), description: 'waiting sagas with this incident code, e.g. PAUSED' },
          step: { ...text(100), description: 'waiting sagas parked at this step' },
          createdFrom: { type: 'string', format: 'date-time' },
          createdTo: { type: 'string', format: 'date-time' },
          limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
          cursor: text(200),
        },
      },
    },
    preHandler: app.requireRole('support'),
  }, async (request) => {
    const { createdFrom, createdTo, ...q } = request.query
    return app.orchestrator.listSagas({
      ...q,
      ...(createdFrom ? { createdFrom: new Date(createdFrom) } : {}),
      ...(createdTo ? { createdTo: new Date(createdTo) } : {}),
    })
  })
}

import type { FastifyInstance } from 'fastify'
import { AppError } from '../../../../platform/errors.ts'
import { sagaSummary } from '../../application/saga-view.ts'
import type { SagaStatus } from '../../engine/saga-instance.ts'
import { decodeCursor } from '../../persistence/prisma-saga-store.ts'
import { errorSchema, sagaIdParams, sagaStatusEnum, sagaViewSchema } from '../schemas/common.ts'

interface ListQuery {
  status?: SagaStatus
  type?: string
  userId?: string
  bookingId?: string
  reservationId?: string
  createdFrom?: string
  createdTo?: string
  limit: number
  cursor?: string
}

export default async function sagaRoutes(app: FastifyInstance): Promise<void> {
  app.get<{ Params: { sagaId: string } }>('/api/orchestrator/sagas/:sagaId', {
    schema: {
      summary: 'A saga with its step timeline',
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
          type: { type: 'string', maxLength: 100 },
          userId: { type: 'string', maxLength: 100 },
          bookingId: { type: 'string', maxLength: 100 },
          reservationId: { type: 'string', maxLength: 100 },
          createdFrom: { type: 'string', format: 'date-time' },
          createdTo: { type: 'string', format: 'date-time' },
          limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
          cursor: { type: 'string', maxLength: 200 },
        },
      },
    },
    preHandler: app.requireRole('support'),
  }, async (request) => {
    const q = request.query
    if (q.cursor) {
      try {
        decodeCursor(q.cursor)
      } catch {
        throw new AppError('VALIDATION_FAILED', 'cursor is not one this API returned')
      }
    }
    const page = await app.orchestrator.listSagas({
      ...(q.status ? { status: q.status } : {}),
      ...(q.type ? { type: q.type } : {}),
      ...(q.userId ? { userId: q.userId } : {}),
      ...(q.bookingId ? { bookingId: q.bookingId } : {}),
      ...(q.reservationId ? { reservationId: q.reservationId } : {}),
      ...(q.createdFrom ? { createdFrom: new Date(q.createdFrom) } : {}),
      ...(q.createdTo ? { createdTo: new Date(q.createdTo) } : {}),
      ...(q.cursor ? { cursor: q.cursor } : {}),
      limit: q.limit,
    })
    return { items: page.items.map(sagaSummary), nextCursor: page.nextCursor }
  })

  // The operator's two verbs: same route shape, same answer (202 + Location), one operation each.
  const operatorActions = [
    { verb: 'retry', summary: 'Resume a stuck or COMPENSATION_FAILED saga', run: (id: string) => app.orchestrator.retry(id), extra: {} },
    { verb: 'abort', summary: 'Compensate a RUNNING saga now (before its pivot)', run: (id: string) => app.orchestrator.abort(id), extra: { abortRequested: true } },
  ]
  for (const action of operatorActions) {
    app.post<{ Params: { sagaId: string } }>(`/api/orchestrator/sagas/:sagaId/${action.verb}`, {
      schema: {
        summary: action.summary,
        tags: ['operations'],
        security: [{ bearer: [] }],
        params: sagaIdParams,
        response: { 404: errorSchema, 409: errorSchema },
      },
      preHandler: app.requireRole('operator'),
    }, async (request, reply) => {
      const saga = await action.run(request.params.sagaId)
      return reply.code(202).header('location', `/api/orchestrator/sagas/${saga.id}`)
        .send({ sagaId: saga.id, status: saga.status, state: saga.state, ...action.extra })
    })
  }
}

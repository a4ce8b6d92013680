import type { FastifyInstance } from 'fastify'
import { AppError } from '../../../../platform/errors.ts'
import { sagaSummary, sagaView } from '../../application/saga-view.ts'
import type { SagaInstance, SagaStatus } from '../../engine/saga-instance.ts'
import { decodeCursor } from '../../persistence/prisma-saga-store.ts'
import type { Principal } from '../plugins/auth.plugin.ts'
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
  mine?: '1' | 'true' | '0' | 'false'
}

const isStaff = (principal: Principal) => principal.role === 'support' || principal.role === 'operator'

/**
 * Whether a caller without the support role may read this saga: the client that started it,
 * or the end user it is for. Anyone else is told it does not exist (404, never 403), so saga
 * ids cannot be probed.
 */
function mayRead(principal: Principal, saga: SagaInstance): boolean {
  if (principal.role === 'user') return saga.userId === principal.userId
  return saga.startedBy === principal.id
}

export default async function sagaRoutes(app: FastifyInstance): Promise<void> {
  app.get<{ Params: { sagaId: string } }>('/api/orchestrator/sagas/:sagaId', {
    schema: {
      summary: 'A saga with its step timeline',
      description: 'Support and operators read every saga; a client the sagas it started (the Location of its 202); an end user the sagas for its userId. Any other saga is 404.',
      tags: ['support'],
      security: [{ bearer: [] }],
      params: sagaIdParams,
      response: { 200: sagaViewSchema, 404: errorSchema },
    },
    preHandler: app.requireRole('support', 'client', 'user'),
  }, async (request) => {
    const principal = request.principal!
    if (isStaff(principal)) {
      const view = await app.orchestrator.getSagaView(request.params.sagaId)
      if (!view) throw new AppError('SAGA_NOT_FOUND')
      return view
    }
    // From Postgres, where who started it and whom it is for are recorded.
    const saga = await app.orchestrator.getSaga(request.params.sagaId)
    if (!mayRead(principal, saga)) throw new AppError('SAGA_NOT_FOUND')
    return sagaView(saga)
  })

  app.get<{ Querystring: ListQuery }>('/api/orchestrator/sagas', {
    schema: {
      summary: 'Search sagas, newest first',
      description: '`mine=1`: only the sagas the caller started (a client). An end user always sees only its own sagas (those for its userId), with or without `mine=1`.',
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
          mine: { type: 'string', enum: ['1', 'true', '0', 'false'], description: 'Only the sagas the caller started (1 or true). Default: all the caller may see' },
        },
      },
    },
    preHandler: app.requireRole('support', 'client', 'user'),
  }, async (request) => {
    const principal = request.principal!
    const q = request.query
    const mine = q.mine === '1' || q.mine === 'true'
    // A client searches only what it started; an end user only what is for it.
    if (principal.role === 'client' && !mine) throw new AppError('FORBIDDEN', 'A client lists only the sagas it started: add mine=1')
    const scope = principal.role === 'user'
      ? { userId: principal.userId }
      : mine ? { startedBy: principal.id } : {}
    // A user asking for another user's sagas gets none (not a 403: the answer is the same as for a user with no sagas).
    if (principal.role === 'user' && q.userId && q.userId !== principal.userId) return { items: [], nextCursor: null }
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
      ...scope,
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

import type { FastifyInstance } from 'fastify'
import { AppError } from '../../../../platform/errors.ts'
import type { SagaQuery } from '../../engine/ports.ts'
import type { SagaInstance } from '../../engine/saga-instance.ts'
import type { Principal } from '../plugins/auth.plugin.ts'
import { errorSchema, sagaIdParams, sagaStatusEnum, sagaViewSchema } from '../schemas/common.ts'

/** The search's query string: the support query's filters, and the page and time bounds as sent. */
interface ListQuery extends Pick<SagaQuery, 'status' | 'type' | 'userId' | 'bookingId' | 'reservationId' | 'incidentCode' | 'step'> {
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

const text = (maxLength: number) => ({ type: 'string', maxLength }) as const

export default async function sagaRoutes(app: FastifyInstance): Promise<void> {
  app.get<{ Params: { sagaId: string } }>('/api/orchestrator/sagas/:sagaId', {
    schema: {
      summary: 'A saga with its step timeline, incident and the operator actions it allows',
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
    // From Postgres, where who started it and whom it is for are recorded. Operator actions
    // are not theirs to take, so none are offered.
    const saga = await app.orchestrator.getSaga(request.params.sagaId)
    if (!mayRead(principal, saga)) throw new AppError('SAGA_NOT_FOUND')
    return { ...app.orchestrator.viewOf(saga), actions: [] }
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
          mine: { type: 'string', enum: ['1', 'true', '0', 'false'], description: 'Only the sagas the caller started (1 or true). Default: all the caller may see' },
        },
      },
    },
    preHandler: app.requireRole('support', 'client', 'user'),
  }, async (request) => {
    const principal = request.principal!
    const { createdFrom, createdTo, mine: mineParam, ...q } = request.query
    const mine = mineParam === '1' || mineParam === 'true'
    // A client searches only what it started; an end user only what is for it.
    if (principal.role === 'client' && !mine) throw new AppError('FORBIDDEN', 'A client lists only the sagas it started: add mine=1')
    // A user asking for another user's sagas gets none (not a 403: the same answer as for a user with no sagas).
    if (principal.role === 'user' && q.userId && q.userId !== principal.userId) return { items: [], nextCursor: null }
    const scope = principal.role === 'user' ? { userId: principal.userId } : mine ? { startedBy: principal.id } : {}
    return app.orchestrator.listSagas({
      ...q,
      ...(createdFrom ? { createdFrom: new Date(createdFrom) } : {}),
      ...(createdTo ? { createdTo: new Date(createdTo) } : {}),
      ...scope,
    })
  })
}

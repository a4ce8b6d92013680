import type { FastifyInstance, FastifyRequest } from 'fastify'
import { AppError } from '../../../../platform/errors.ts'
import { reason } from '../../../../platform/vocabulary.ts'
import { BULK_ACTIONS, OPERATOR_ACTIONS, type OperatorAction, requiresReason } from '../../engine/operator-actions.ts'
import type { SagaStatus } from '../../engine/saga-instance.ts'
import { errorSchema, sagaIdParams, sagaStatusEnum, sagaViewSchema } from '../schemas/common.ts'

const SUMMARIES: Record<OperatorAction, string> = {
  retry: 'Re-run the parked step (a new generation of its command after a definitive rejection), or take over a saga whose owner died',
  abort: 'Before the pivot: compensate (a pivot in flight is settled first, then the saga turns back or goes forward)',
  skip: 'Mark the parked forward step done by hand (body may add `result`) and go on',
  resolve: 'Close a COMPENSATION_FAILED step as undone by hand and go on compensating',
  pause: 'Stop driving a RUNNING or COMPENSATING saga: it becomes PARKED with incident PAUSED',
  resume: 'Take a paused saga up again',
}

interface ActionBody {
  reason?: string
  result?: unknown
}

interface BulkBody {
  reason?: string
  filter: { status?: SagaStatus; type?: string; step?: string; incidentCode?: string }
  dryRun?: boolean
}

const actionBody = (action: OperatorAction) => ({
  type: 'object',
  additionalProperties: false,
  ...(requiresReason(action) ? { required: ['reason'] } : {}),
  properties: {
    reason: { ...reason, minLength: 1, description: requiresReason(action) ? 'Required: why, for the saga\'s event log' : 'Why, for the saga\'s event log' },
    ...(action === 'skip' ? { result: { description: 'Recorded as the skipped step\'s result (later steps may read it)' } } : {}),
  },
})

/** Who acts, as the event log keeps it: the principal's role and id, never its token. */
const actorOf = (request: FastifyRequest) => request.principal!.id

/**
 * The operators' way out of every state a saga can reach: one route per action on one saga
 * (202 with the saga as it is right after), and bulk actions by filter with a dry run.
 */
export default async function operatorRoutes(app: FastifyInstance): Promise<void> {
  for (const action of OPERATOR_ACTIONS) {
    app.post<{ Params: { sagaId: string }; Body: ActionBody }>(`/api/orchestrator/sagas/:sagaId/${action}`, {
      schema: {
        summary: SUMMARIES[action],
        tags: ['operations'],
        security: [{ bearer: [] }],
        params: sagaIdParams,
        body: actionBody(action),
        response: { 202: sagaViewSchema, 404: errorSchema, 409: errorSchema },
      },
      // A bodiless POST (curl -X POST) is an action without a reason.
      preValidation: [app.requireRole('operator'), async (request) => { request.body ??= {} }],
    }, async (request, reply) => {
      const { reason: why, result } = request.body
      const saga = await app.orchestrator.act(request.params.sagaId, action, { actor: actorOf(request), ...(why ? { reason: why } : {}), ...(result !== undefined ? { result } : {}) })
      return reply.code(202).header('location', `/api/orchestrator/sagas/${saga.id}`).send(app.orchestrator.viewOf(saga))
    })
  }

  app.post<{ Params: { action: OperatorAction }; Body: BulkBody }>('/api/orchestrator/sagas/bulk/:action', {
    schema: {
      summary: 'One action on every saga matching a filter (at most 1000); dryRun says what it would do',
      tags: ['operations'],
      security: [{ bearer: [] }],
      params: { type: 'object', required: ['action'], properties: { action: { type: 'string', enum: BULK_ACTIONS } } },
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['filter'],
        properties: {
          reason: { ...reason, minLength: 1 },
          dryRun: { type: 'boolean', default: false },
          filter: {
            type: 'object',
            additionalProperties: false,
            minProperties: 1,
            properties: {
              status: { type: 'string', enum: sagaStatusEnum },
              type: { type: 'string', maxLength: 100 },
              step: { type: 'string', maxLength: 100 },
              incidentCode: { type: 'string', maxLength: 100 },
            },
          },
        },
      },
      response: { 400: errorSchema },
    },
    preValidation: app.requireRole('operator'),
  }, async (request) => {
    const { action } = request.params
    const { reason: why, filter, dryRun = false } = request.body
    if (requiresReason(action) && !why) {
      throw new AppError('VALIDATION_FAILED', `reason is required for ${action}`, { details: [{ location: 'body', path: '/reason', message: 'is required' }] })
    }
    return app.orchestrator.bulk(action, filter, { actor: actorOf(request), ...(why ? { reason: why } : {}) }, dryRun)
  })
}

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { AppError } from '../../../../platform/errors.ts'
import { idempotencyKeyOf } from '../../../../platform/request-context.ts'
import type { SagaInstance } from '../../engine/saga-instance.ts'
import { idempotencyHeaders, startResponses, waitQuery } from '../schemas/common.ts'

export interface StartRoute {
  url: string
  /** Saga type to start; for the generic route it comes from the body. */
  type: string
  summary: string
  body: Record<string, unknown>
  params?: Record<string, unknown>
  /** The saga's input from the validated request. */
  toInput(request: FastifyRequest): unknown
}

/**
 * A start endpoint (role client): Idempotency-Key required, body validated before any saga
 * exists, then `?wait` ms for a terminal state (contract: 201 / 202 + Location / 422).
 */
export function registerStartRoute(app: FastifyInstance, route: StartRoute): void {
  app.post(route.url, {
    schema: {
      summary: route.summary,
      tags: ['sagas'],
      security: [{ bearer: [] }],
      headers: idempotencyHeaders,
      querystring: waitQuery,
      body: route.body,
      ...(route.params ? { params: route.params } : {}),
      response: startResponses,
    },
    preValidation: [app.requireRole('client'), requireIdempotencyKey],
  }, async (request, reply) => {
    const { saga } = await app.orchestrator.start({
      type: route.type,
      input: route.toInput(request),
      idempotencyKey: idempotencyKeyOf(request.raw)!,
      callerId: request.principal!.id,
    })
    const wait = (request.query as { wait: number }).wait
    const current = await app.orchestrator.waitForOutcome(saga.id, wait)
    return sendOutcome(app, reply, current ?? saga)
  })
}

async function requireIdempotencyKey(request: FastifyRequest): Promise<void> {
  const key = idempotencyKeyOf(request.raw)
  if (!key) throw new AppError('IDEMPOTENCY_KEY_REQUIRED')
  if (key.length > 255) throw new AppError('VALIDATION_FAILED', 'Idempotency-Key must be at most 255 characters')
}

export function sendOutcome(app: FastifyInstance, reply: FastifyReply, saga: SagaInstance) {
  switch (saga.status) {
    case 'COMPLETED':
      return reply.code(201).send({ sagaId: saga.id, status: saga.status, state: saga.state, ...app.orchestrator.resultOf(saga) })
    case 'FAILED':
    case 'COMPENSATION_FAILED':
      // COMPENSATION_FAILED carries its incident: the saga waits for an operator.
      return reply.code(422).send({
        sagaId: saga.id,
        status: saga.status,
        state: saga.state,
        error: saga.error ?? { code: 'INTERNAL_ERROR', message: 'The saga failed', step: '' },
        ...(saga.compensationError ? { compensationError: saga.compensationError } : {}),
        ...(saga.incident ? { incident: saga.incident } : {}),
      })
    default:
      // RUNNING, COMPENSATING, or PARKED (past the pivot, waiting for an operator, with its incident).
      return reply.code(202).header('location', `/api/orchestrator/sagas/${saga.id}`)
        .send({ sagaId: saga.id, status: saga.status, state: saga.state, ...(saga.incident ? { incident: saga.incident } : {}) })
  }
}

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
  /**
   * Who may start it beyond the role: refuses the request before any saga exists (throw an
   * AppError). Business preconditions belong to the saga definition's own `guard`, which every
   * route that starts the saga runs.
   */
  authorize?: (request: FastifyRequest) => Promise<void>
  /**
   * End users (role user) may start it too, only for themselves: the body's `userId` is their
   * `sub` (taken from it when absent, 403 USER_MISMATCH when another). Default: false, clients
   * only; a saga exposed to end users needs its ownership rules written down (see `authorize`).
   */
  endUsers?: boolean
}

/**
 * A start endpoint (role client, and user when `endUsers`): Idempotency-Key required, body
 * validated before any saga exists, then `?wait` ms for a terminal state (contract: 201 /
 * 202 + Location / 422).
 */
export function registerStartRoute(app: FastifyInstance, route: StartRoute): void {
  const roles = route.endUsers ? ['client', 'user'] as const : ['client'] as const
  app.post(route.url, {
    schema: {
      summary: route.summary,
      ...(route.endUsers ? { description: 'An end user (a JWT) may leave `userId` out: it is the token\'s `sub`. A client must send it.' } : {}),
      tags: ['sagas'],
      security: [{ bearer: [] }],
      headers: idempotencyHeaders,
      querystring: waitQuery,
      body: route.body,
      ...(route.params ? { params: route.params } : {}),
      response: startResponses,
    },
    // Before validation, so the schema checks the userId a user's body will carry, and a
    // client's body without one is refused like any invalid body (400 VALIDATION_FAILED).
    preValidation: [app.requireRole(...roles), requireIdempotencyKey, actForTheUser],
  }, async (request, reply) => {
    await route.authorize?.(request)
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

/** An end user starts sagas only for itself: its `sub` is the body's userId. */
async function actForTheUser(request: FastifyRequest): Promise<void> {
  const principal = request.principal
  if (principal?.role !== 'user') return
  const body = request.body
  // Not an object: nothing to fill in; validation refuses it.
  if (!body || typeof body !== 'object' || Array.isArray(body)) return
  const claimed = (body as { userId?: unknown }).userId
  if (claimed === undefined) (body as { userId: string }).userId = principal.userId
  else if (typeof claimed === 'string' && claimed !== principal.userId) {
    throw new AppError('USER_MISMATCH', 'A user may start sagas only for itself: leave userId out or send your own')
  }
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

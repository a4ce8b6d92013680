import type { FastifyBaseLogger, FastifyInstance, FastifyPluginAsync } from 'fastify'
import type { Prisma } from '../../platform/database.ts'
import { eventsToEmit } from '../../platform/events/outbox.ts'
import { idempotencyKeyOf, sagaIdOf } from '../../platform/request-context.ts'
import type { Infer, ObjectSchema } from './schema.ts'

/** What a command answers: its status and body, stored with its key and replayed as they are. */
export interface Answer {
  status: number
  body: unknown
}

/** 201: the command created something now. */
export const created = (body: unknown): Answer => ({ status: 201, body })
/** 200: the command changed the state of something, or found it already in the state asked for. */
export const ok = (body: unknown): Answer => ({ status: 200, body })

/** What a command's rule gets: its validated input and the transaction its effect commits in. */
export interface CommandInput<Params, Body> {
  /** The command's transaction; its answer is stored in it (see idempotency.plugin.ts). */
  tx: Prisma.TransactionClient
  params: Params
  body: Body
  /** Who sent the command (its service token's caller), and its Idempotency-Key: the two say
   * which command this is, e.g. for the keys a payment provider is called with. */
  caller: string
  idempotencyKey: string
  log: FastifyBaseLogger
  /**
   * States a fact the command makes true (contract: Domain events), e.g.
   * `emit('refund.processed', { refundId, amount, … })`. Written to the service's outbox in
   * the command's transaction once the rule returns, so a refused or failed command emits
   * nothing, and a replay (the stored answer) emits nothing again. Correlated with the
   * request's `x-saga-id` (else its Idempotency-Key).
   */
  emit(type: string, data: Record<string, unknown>, options?: { version?: number }): void
}

export interface CommandDefinition<P extends ObjectSchema | undefined, B extends ObjectSchema | undefined> {
  /** The route, e.g. '/api/tours/:tourId/reservations'. Every command is a POST. */
  url: string
  /** Path parameters, built from the vocabulary. Default: none. */
  params?: P
  /**
   * The body, built from the vocabulary; a request without a body is validated as `{}`.
   * Default: none (any body is accepted and ignored, e.g. by a release).
   */
  body?: B
  /**
   * The business rule. Runs inside the command's idempotent transaction: throw an AppError
   * below 500 to refuse (the writes made so far are rolled back and the refusal is stored),
   * anything else to fail without storing anything (the caller's retry runs it again).
   *
   * By convention, an undo (a saga's compensation) answers 2xx when the state it restores
   * already holds, so that a compensation retried under a new key, or run after a forward
   * step that never happened, settles instead of failing.
   */
  run(input: CommandInput<Infer<P>, Infer<B>>): Promise<Answer>
}

/**
 * A participant command as a Fastify plugin (`await app.register(reserveSpots)`): the route,
 * its schemas and its rule, and nothing else. Service authentication, the Idempotency-Key,
 * the transaction and the stored answer come from the shared plugins every participant has.
 */
export function defineCommand<const P extends ObjectSchema | undefined = undefined, const B extends ObjectSchema | undefined = undefined>(
  definition: CommandDefinition<P, B>,
): FastifyPluginAsync {
  return async function command(app: FastifyInstance): Promise<void> {
    app.post(definition.url, {
      schema: {
        ...(definition.params ? { params: definition.params } : {}),
        ...(definition.body ? { body: definition.body } : {}),
      },
      preValidation: async (request) => {
        if (definition.body && request.body === undefined) request.body = {}
      },
    }, async (request, reply) => {
      const events = eventsToEmit()
      // Both present: the service-auth and idempotency plugins refused the request otherwise.
      const idempotencyKey = idempotencyKeyOf(request.raw)!
      const answer = await definition.run({
        tx: request.tx,
        params: request.params as Infer<P>,
        body: request.body as Infer<B>,
        caller: request.caller!,
        idempotencyKey,
        log: request.log,
        emit: events.emit,
      })
      if (await events.write(request.tx, app.domainEvents.schema, sagaIdOf(request.raw) ?? idempotencyKey)) request.eventsEmitted = true
      reply.code(answer.status)
      return answer.body
    })
  }
}

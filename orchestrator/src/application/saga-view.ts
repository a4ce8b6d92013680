import { availableActions, type OperatorAction } from '../engine/operator-actions.ts'
import type { SagaSummary } from '../engine/ports.ts'
import type { SagaDefinition } from '../engine/saga-definition.ts'
import type { SagaInstance } from '../engine/saga-instance.ts'

/**
 * The saga as support staff see it (contract: GET /api/orchestrator/sagas/{sagaId}), with the
 * operator actions it allows now. `definition` is undefined when this process does not have
 * the version the saga started on: then no action is offered, and the view says so.
 */
export function sagaView(saga: SagaInstance, definition: SagaDefinition<any> | undefined) {
  return {
    sagaId: saga.id,
    type: saga.type,
    definitionVersion: saga.definitionVersion,
    ...(definition ? {} : { definitionKnown: false }),
    status: saga.status,
    state: saga.state,
    input: redactInput(saga.input),
    resources: resourcesOf(saga),
    ...(saga.error ? { error: saga.error } : {}),
    ...(saga.compensationError ? { compensationError: saga.compensationError } : {}),
    ...(saga.incident ? { incident: saga.incident } : {}),
    actions: definition ? availableActions(definition, saga) : ([] as OperatorAction[]),
    ...(saga.abortRequested ? { abortRequested: true } : {}),
    ...(saga.pauseRequest ? { pauseRequested: true } : {}),
    steps: saga.steps,
    version: saga.version,
    createdAt: saga.createdAt.toISOString(),
    updatedAt: saga.updatedAt.toISOString(),
    deadlineAt: saga.deadlineAt.toISOString(),
    ...(saga.completedAt ? { completedAt: saga.completedAt.toISOString() } : {}),
  }
}

export type SagaView = ReturnType<typeof sagaView>

/** One line of a search result (the list reads no JSON documents, hence ids from columns). */
export function sagaSummary(row: SagaSummary) {
  return {
    sagaId: row.id,
    type: row.type,
    status: row.status,
    state: row.state,
    ...(row.error ? { error: row.error } : {}),
    ...(row.incident ? { incident: row.incident } : {}),
    userId: row.userId,
    resources: {
      ...(row.bookingId ? { bookingId: row.bookingId } : {}),
      ...(row.reservationId ? { reservationId: row.reservationId } : {}),
    },
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    ...(row.completedAt ? { completedAt: row.completedAt.toISOString() } : {}),
  }
}

export type SagaSummaryView = ReturnType<typeof sagaSummary>

// Ids of what the saga created, collected from step results under well-known names.
const RESOURCE_FIELDS = ['bookingId', 'reservationId', 'paymentId', 'refundId', 'notificationId'] as const

export function resourcesOf(saga: SagaInstance): Record<string, string> {
  const resources: Record<string, string> = {}
  for (const [step, result] of Object.entries(saga.results)) {
    if (!result || typeof result !== 'object') continue
    for (const field of RESOURCE_FIELDS) {
      const value = (result as Record<string, unknown>)[field]
      if (typeof value === 'string' && !(field in resources)) resources[field] = value
      else if (typeof value === 'string' && resources[field] !== value) resources[`${step}.${field}`] = value
    }
  }
  return resources
}

/** Payment-method ids are not for support staff's eyes. */
function redactInput(input: unknown): unknown {
  if (!input || typeof input !== 'object' || Array.isArray(input)) return input
  const copy: Record<string, unknown> = { ...(input as Record<string, unknown>) }
  if ('paymentMethod' in copy) copy.paymentMethod = '[Redacted]'
  return copy
}

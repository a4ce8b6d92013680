import type { SagaDefinition } from './saga-definition.ts'
import type { Actor, SagaEvent, SagaInstance } from './saga-instance.ts'

// What an operator may do to a saga, decided as a pure function of the saga: an event to apply
// (the saga waits for an operator, so whoever claims it may write), a request for the runner
// that drives it (abort and pause of a saga that is moving), or a refusal that says why and
// what can be done instead. The application performs the decision; the UI and the CLI show
// `availableActions` so nobody is offered what would be refused.

export const OPERATOR_ACTIONS = ['retry', 'abort', 'skip', 'resolve', 'pause', 'resume'] as const
export type OperatorAction = (typeof OPERATOR_ACTIONS)[number]
/** Actions `POST /sagas/bulk/{action}` accepts (abort is one saga at a time). */
export const BULK_ACTIONS = ['retry', 'skip', 'resolve', 'pause', 'resume'] as const satisfies readonly OperatorAction[]

export type OperatorDecision =
  | { kind: 'event'; event: SagaEvent }
  /** Flag the saga; its runner (here or in another process) acts at its next decision. */
  | { kind: 'request'; request: 'abort' | 'pause' }
  /** An active saga no live runner drives: take it over and drive it on. */
  | { kind: 'take-over' }
  | { kind: 'refused'; code: RefusalCode; message: string }

export type RefusalCode = 'SAGA_NOT_RETRIABLE' | 'SAGA_NOT_ABORTABLE' | 'SAGA_NOT_SKIPPABLE' | 'SAGA_NOT_RESOLVABLE' | 'SAGA_NOT_PAUSABLE' | 'SAGA_NOT_PAUSED'

export interface ActionInput extends Actor {
  /** skip: the result recorded for the skipped step (later steps may read it). */
  result?: unknown
}

const refused = (code: RefusalCode, message: string): OperatorDecision => ({ kind: 'refused', code, message })

export function decideOperatorAction(definition: SagaDefinition<any>, saga: SagaInstance, action: OperatorAction, input: ActionInput): OperatorDecision {
  const step = definition.steps[Math.max(0, Math.min(saga.cursor, definition.steps.length - 1))]!
  const actor: Actor = { actor: input.actor, ...(input.reason ? { reason: input.reason } : {}) }
  const finished = saga.status === 'COMPLETED' || saga.status === 'FAILED'
  switch (action) {
    case 'retry':
      if (finished) return refused('SAGA_NOT_RETRIABLE', `The saga is ${saga.status}: there is nothing left to retry`)
      if (saga.status === 'PARKED' || saga.status === 'COMPENSATION_FAILED') return { kind: 'event', event: { type: 'OPERATOR_RETRY', ...actor } }
      return { kind: 'take-over' }
    case 'abort':
      if (saga.pivotPassed) {
        return refused('SAGA_NOT_ABORTABLE', `The saga is past its point of no return (${definition.steps.find((s) => s.kind === 'pivot')?.name ?? 'the pivot'} went through): skip or retry the parked step instead`)
      }
      if (saga.status === 'RUNNING') return { kind: 'request', request: 'abort' }
      if (saga.status === 'PARKED') return { kind: 'event', event: { type: 'ABORT_REQUESTED', fenceCursor: true, ...actor } }
      return refused('SAGA_NOT_ABORTABLE', `The saga is ${saga.status}${saga.status === 'COMPENSATION_FAILED' ? ': retry or resolve its compensation' : ''}`)
    case 'skip':
      if (saga.status !== 'PARKED' || saga.phase !== 'forward') return refused('SAGA_NOT_SKIPPABLE', `Only a PARKED saga going forward has a step to skip; this one is ${saga.status}`)
      if (step.critical && step.kind !== 'retriable') {
        return refused('SAGA_NOT_SKIPPABLE', `${step.name} comes before the point of no return: resume or abort the saga instead`)
      }
      return { kind: 'event', event: { type: 'OPERATOR_SKIP', ...actor, ...(input.result !== undefined ? { result: input.result } : {}) } }
    case 'resolve':
      if (saga.status !== 'COMPENSATION_FAILED') return refused('SAGA_NOT_RESOLVABLE', `Only a COMPENSATION_FAILED saga has an undo to resolve; this one is ${saga.status}`)
      return { kind: 'event', event: { type: 'OPERATOR_RESOLVE', ...actor } }
    case 'pause':
      if (saga.status === 'RUNNING' || saga.status === 'COMPENSATING') return { kind: 'request', request: 'pause' }
      return refused('SAGA_NOT_PAUSABLE', `Only a RUNNING or COMPENSATING saga can be paused; this one is ${saga.status}`)
    case 'resume':
      if (saga.status === 'PARKED' && saga.incident?.kind === 'paused') return { kind: 'event', event: { type: 'OPERATOR_RESUME', ...actor } }
      return refused('SAGA_NOT_PAUSED', saga.status === 'PARKED'
        ? `The saga is parked by ${saga.incident?.code ?? 'an incident'}, not paused: retry or skip the step`
        : `The saga is ${saga.status}, not paused`)
  }
}

/** The actions an operator may take on the saga now. */
export function availableActions(definition: SagaDefinition<any>, saga: SagaInstance): OperatorAction[] {
  return OPERATOR_ACTIONS.filter((action) => decideOperatorAction(definition, saga, action, { actor: 'probe' }).kind !== 'refused')
}

/** Whether an action needs a reason (contract: required for skip, resolve, pause). */
export function requiresReason(action: OperatorAction): boolean {
  return action === 'skip' || action === 'resolve' || action === 'pause'
}

import type { SagaDefinition } from './saga-definition.ts'
import type { Phase, SagaFailure, SagaInstance, StepError, StepRecord } from './saga-instance.ts'

// The engine's decisions, as pure functions: given a saga, what to do next (`nextAction`), and
// given what happened, what the saga becomes (`applyEvent`). No I/O, no clock, no randomness:
// the runner supplies `now` and performs every action.

export type Action =
  | { type: 'invoke'; step: number }
  /** Re-send an UNKNOWN step's forward command (same key) to learn whether it was applied. */
  | { type: 'settle'; step: number }
  | { type: 'compensate'; step: number }
  /** The deadline passed before the pivot: turn back. */
  | { type: 'expire' }
  /** An operator asked to abort before the pivot: turn back. */
  | { type: 'abort' }
  /** Nothing to do: terminal, or waiting for an operator. */
  | { type: 'none' }

/** `attempts` in step events counts every attempt of that step and phase so far, across restarts. */
export type SagaEvent =
  | { type: 'STEP_SUCCEEDED'; step: number; phase: Phase; result?: unknown; attempts: number; startedAt: Date }
  | { type: 'STEP_REJECTED'; step: number; error: StepError; attempts: number; startedAt: Date }
  /** `error` is why the saga turns back; `lastError`, the participant's own last answer. */
  | { type: 'STEP_EXHAUSTED'; step: number; phase: Phase; error: StepError; lastError?: StepError; attempts: number; startedAt: Date }
  | { type: 'STEP_RETRYING'; step: number; phase: Phase; error: StepError; attempts: number; startedAt: Date }
  | { type: 'STEP_SETTLED'; step: number; applied: boolean; result?: unknown; attempts: number; startedAt: Date }
  | { type: 'DEADLINE_PASSED' }
  | { type: 'ABORT_REQUESTED' }
  | { type: 'RESUME_REQUESTED' }

export interface Options {
  /**
   * False when a command of the current step may already be in flight (after a takeover):
   * it is re-sent with its key to learn its outcome before the deadline or an abort request
   * can turn the saga back, so no effect is left behind unseen. Default: true
   */
  checkDeadline?: boolean
}

export function nextAction(definition: SagaDefinition<any>, saga: SagaInstance, now: Date, options: Options = {}): Action {
  if (saga.status === 'RUNNING') {
    if (saga.cursor >= definition.steps.length) return { type: 'none' }
    const step = definition.steps[saga.cursor]!
    if (!saga.pivotPassed && step.kind !== 'retriable' && (options.checkDeadline ?? true)) {
      if (saga.abortRequested) return { type: 'abort' }
      if (now.getTime() > saga.deadlineAt.getTime()) return { type: 'expire' }
    }
    return { type: 'invoke', step: saga.cursor }
  }
  if (saga.status === 'COMPENSATING') {
    if (saga.cursor < 0) return { type: 'none' }
    const forward = findRecord(saga, definition.steps[saga.cursor]!.name, 'forward')
    return forward?.status === 'UNKNOWN' ? { type: 'settle', step: saga.cursor } : { type: 'compensate', step: saga.cursor }
  }
  return { type: 'none' }
}

export function applyEvent(definition: SagaDefinition<any>, saga: SagaInstance, event: SagaEvent, now: Date): SagaInstance {
  const next = { ...saga, results: { ...saga.results }, steps: saga.steps.map((s) => ({ ...s })), updatedAt: now }
  const stepOf = (index: number) => definition.steps[index]!
  switch (event.type) {
    case 'STEP_SUCCEEDED': {
      const step = stepOf(event.step)
      record(next, step.name, event.phase, { status: 'SUCCEEDED', attempts: event.attempts, startedAt: event.startedAt, finishedAt: now })
      if (event.phase === 'forward') {
        next.results[step.name] = event.result ?? null
        next.state = step.state
        if (step.kind === 'pivot') next.pivotPassed = true
        next.cursor = event.step + 1
        return finishIfDone(definition, next, now)
      }
      if (step.compensatedState) next.state = step.compensatedState
      next.cursor = previousToUndo(definition, next, event.step)
      return finishIfDone(definition, next, now)
    }
    case 'STEP_REJECTED': {
      const step = stepOf(event.step)
      record(next, step.name, 'forward', { status: step.critical ? 'REJECTED' : 'FAILED', attempts: event.attempts, startedAt: event.startedAt, finishedAt: now, lastError: event.error })
      if (!step.critical) return advancePastNonCritical(definition, next, event.step, now)
      return turnBack(definition, next, { ...event.error, step: step.name }, event.step, now)
    }
    case 'STEP_EXHAUSTED': {
      const step = stepOf(event.step)
      // Giving up on a settle is giving up on a compensation; the step stays UNKNOWN so that a
      // resume settles it again rather than undoing what may never have happened.
      if (event.phase === 'compensation' || isSettle(saga, event.phase)) {
        record(next, step.name, event.phase, { status: event.phase === 'forward' ? 'UNKNOWN' : 'FAILED', attempts: event.attempts, startedAt: event.startedAt, finishedAt: now, lastError: event.lastError ?? event.error })
        next.status = 'COMPENSATION_FAILED'
        next.compensationError = { ...event.error, step: step.name }
        return next
      }
      if (!step.critical) {
        record(next, step.name, 'forward', { status: 'FAILED', attempts: event.attempts, startedAt: event.startedAt, finishedAt: now, lastError: event.lastError ?? event.error })
        return advancePastNonCritical(definition, next, event.step, now)
      }
      // The command may have been applied: keep the step in the undo set, to be settled first.
      record(next, step.name, 'forward', { status: 'UNKNOWN', attempts: event.attempts, startedAt: event.startedAt, finishedAt: now, lastError: event.lastError ?? event.error })
      return turnBack(definition, next, { ...event.error, step: step.name }, event.step + 1, now)
    }
    case 'STEP_RETRYING': {
      const step = stepOf(event.step)
      // A settle being retried must leave the step UNKNOWN: after a crash, `nextAction` settles it again.
      record(next, step.name, event.phase, { status: isSettle(saga, event.phase) ? 'UNKNOWN' : 'RETRYING', attempts: event.attempts, startedAt: event.startedAt, lastError: event.error })
      return next
    }
    case 'STEP_SETTLED': {
      const step = stepOf(event.step)
      if (!event.applied) {
        record(next, step.name, 'forward', { status: 'SETTLED', attempts: event.attempts, startedAt: event.startedAt, finishedAt: now })
        next.cursor = previousToUndo(definition, next, event.step)
        return finishIfDone(definition, next, now)
      }
      record(next, step.name, 'forward', { status: 'SUCCEEDED', attempts: event.attempts, startedAt: event.startedAt, finishedAt: now })
      next.results[step.name] = event.result ?? null
      if (step.kind === 'pivot') {
        // The charge went through after all: past the point of no return, so go forward.
        next.status = 'RUNNING'
        next.phase = 'forward'
        next.pivotPassed = true
        next.state = step.state
        next.cursor = event.step + 1
        delete next.error
        return finishIfDone(definition, next, now)
      }
      return next // cursor stays: now undo it like any succeeded step
    }
    case 'DEADLINE_PASSED':
      return turnBack(definition, next, { code: 'SAGA_TIMEOUT', message: `The saga passed its deadline of ${definition.deadlineMs} ms`, step: stepOf(saga.cursor).name }, saga.cursor, now)
    case 'ABORT_REQUESTED':
      return turnBack(definition, next, { code: 'SAGA_ABORTED', message: 'An operator aborted the saga', step: stepOf(Math.min(saga.cursor, definition.steps.length - 1)).name }, saga.cursor, now)
    case 'RESUME_REQUESTED':
      if (next.status === 'COMPENSATION_FAILED') {
        next.status = 'COMPENSATING'
        delete next.compensationError
      }
      return next
  }
}

/** Forward commands are only sent while compensating to settle an UNKNOWN step. */
function isSettle(saga: SagaInstance, phase: Phase): boolean {
  return saga.status === 'COMPENSATING' && phase === 'forward'
}

/** Starts compensating from the last undoable step below `below`, keeping the first error. */
function turnBack(definition: SagaDefinition<any>, saga: SagaInstance, error: SagaFailure, below: number, now: Date): SagaInstance {
  saga.status = 'COMPENSATING'
  saga.phase = 'compensation'
  saga.error ??= error
  saga.cursor = previousToUndo(definition, saga, below)
  return finishIfDone(definition, saga, now)
}

function advancePastNonCritical(definition: SagaDefinition<any>, saga: SagaInstance, index: number, now: Date): SagaInstance {
  saga.cursor = index + 1
  return finishIfDone(definition, saga, now)
}

/**
 * The highest step below `below` that may hold an effect to undo: a compensatable step that
 * succeeded, or one whose outcome is UNKNOWN (and a pivot in that state, to be settled).
 * -1 when nothing is left.
 */
export function previousToUndo(definition: SagaDefinition<any>, saga: SagaInstance, below: number): number {
  for (let index = Math.min(below, definition.steps.length) - 1; index >= 0; index--) {
    const step = definition.steps[index]!
    const forward = findRecord(saga, step.name, 'forward')
    if (!forward) continue
    if (forward.status === 'UNKNOWN' && step.kind !== 'retriable' && step.critical) return index
    if (forward.status === 'SUCCEEDED' && step.kind === 'compensatable' && step.compensate) {
      const undo = findRecord(saga, step.name, 'compensation')
      if (undo?.status !== 'SUCCEEDED') return index
    }
  }
  return -1
}

/** Folds the terminal transition into the step's own write: no extra write per saga. */
function finishIfDone(definition: SagaDefinition<any>, saga: SagaInstance, now: Date): SagaInstance {
  if (saga.status === 'RUNNING' && saga.cursor >= definition.steps.length) {
    saga.status = 'COMPLETED'
    saga.state = definition.completedState
    saga.completedAt = now
  } else if (saga.status === 'COMPENSATING' && saga.cursor < 0) {
    saga.status = 'FAILED'
    saga.state = definition.compensatedState
    saga.completedAt = now
  }
  return saga
}

export function findRecord(saga: SagaInstance, name: string, phase: Phase): StepRecord | undefined {
  return saga.steps.find((s) => s.name === name && s.phase === phase)
}

function record(saga: SagaInstance, name: string, phase: Phase, update: { status: StepRecord['status']; attempts: number; startedAt: Date; finishedAt?: Date; lastError?: StepError }): void {
  const existing = saga.steps.find((s) => s.name === name && s.phase === phase)
  const entry: StepRecord = {
    name,
    phase,
    status: update.status,
    attempts: update.attempts,
    startedAt: existing?.startedAt ?? update.startedAt.toISOString(),
    ...(update.finishedAt ? { finishedAt: update.finishedAt.toISOString() } : {}),
    ...(update.lastError ?? existing?.lastError ? { lastError: update.lastError ?? existing!.lastError! } : {}),
  }
  if (existing) Object.assign(existing, entry)
  else saga.steps.push(entry)
}


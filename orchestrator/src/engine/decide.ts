import type { FenceOutcome, Outcome } from './classify.ts'
import { backoffDelay, hasAttemptsLeft } from './retry-policy.ts'
import type { SagaDefinition, StepDefinition } from './saga-definition.ts'
import type { Incident, Phase, SagaEvent, SagaFailure, SagaInstance, StepError, StepRecord } from './saga-instance.ts'

// The engine's decisions, as pure functions: given a saga, what to do next (`nextAction`);
// given a participant's answer, what that attempt means (`afterAttempt`); given what
// happened, what the saga becomes (`applyEvent`). No I/O, no clock, no randomness: the runner
// supplies `now` and `random` and performs every action. Operator actions are decided in
// operator-actions.ts, on the same events.

export type Action =
  | { type: 'invoke'; step: number }
  /** Ask the participant's fence about an UNKNOWN step: applied, or never will be. */
  | { type: 'settle'; step: number }
  | { type: 'compensate'; step: number }
  /**
   * The deadline passed before the pivot: turn back. `fenceCursor`: the current step's command
   * may have been sent, so it is settled before anything below it is undone.
   */
  | { type: 'expire'; fenceCursor: boolean }
  /** An operator asked to abort before the pivot: turn back (see `expire`). */
  | { type: 'abort'; fenceCursor: boolean }
  /** An operator asked to pause: park the saga. */
  | { type: 'pause' }
  /** Nothing to do: terminal, or waiting for an operator. */
  | { type: 'none' }

export interface Options {
  /**
   * The saga was just taken over from another owner: its current step's command may be in
   * flight. Going forward it is re-sent under its key (a replay if it was applied); turning
   * back, it is settled first. Default: false
   */
  takenOver?: boolean
}

/** The deterministic key of a step's command: re-sent after a crash, it is a replay. */
export function commandKey(sagaId: string, step: string, phase: Phase, generation = 0): string {
  return `${sagaId}:${step}:${phase}${generation ? `:g${generation}` : ''}`
}

export function nextAction(definition: SagaDefinition<any>, saga: SagaInstance, now: Date, options: Options = {}): Action {
  if (saga.status !== 'RUNNING' && saga.status !== 'COMPENSATING') return { type: 'none' }
  if (saga.pauseRequest) return { type: 'pause' }
  if (saga.status === 'RUNNING') {
    if (saga.cursor >= definition.steps.length) return { type: 'none' }
    const step = definition.steps[saga.cursor]!
    if (!saga.pivotPassed && step.kind !== 'retriable') {
      const fenceCursor = cursorInDoubt(definition, saga, options)
      if (saga.abortRequested) return { type: 'abort', fenceCursor }
      if (now.getTime() > saga.deadlineAt.getTime()) return { type: 'expire', fenceCursor }
    }
    return { type: 'invoke', step: saga.cursor }
  }
  if (saga.cursor < 0) return { type: 'none' }
  const forward = findRecord(saga, definition.steps[saga.cursor]!.name, 'forward')
  return forward?.status === 'UNKNOWN' ? { type: 'settle', step: saga.cursor } : { type: 'compensate', step: saga.cursor }
}

/**
 * Whether the current step's command may have been sent without its outcome recorded: it was
 * attempted before (RETRYING), or a previous owner may have sent it.
 */
function cursorInDoubt(definition: SagaDefinition<any>, saga: SagaInstance, options: Options): boolean {
  const step = definition.steps[saga.cursor]
  if (!step || !step.critical || step.kind === 'retriable') return false
  const record = findRecord(saga, step.name, 'forward')
  return options.takenOver === true || record?.status === 'RETRYING' || record?.status === 'UNKNOWN'
}

/**
 * Between two attempts of a step: stop retrying and let `nextAction` decide, because the saga
 * is to be paused, or (before the pivot) aborted or past its deadline.
 */
export function shouldYield(definition: SagaDefinition<any>, saga: SagaInstance, index: number, now: Date): boolean {
  if (saga.pauseRequest) return true
  if (saga.status !== 'RUNNING' || saga.pivotPassed || definition.steps[index]?.kind === 'retriable') return false
  return saga.abortRequested || now.getTime() > saga.deadlineAt.getTime()
}

export type Mode = 'invoke' | 'compensate' | 'settle'

export interface AttemptContext {
  /** Attempts of this step and phase so far, this one included, across restarts. */
  attempts: number
  /** Attempts made by this run of the step: the retry budget counts these. */
  made: number
  startedAt: Date
  /** In [0, 1): the jitter of the next delay. */
  random: number
}

export type AttemptDecision =
  | { type: 'record'; event: SagaEvent }
  /** Record that the step is being retried (support staff see why), then try again after `delayMs`. */
  | { type: 'retry'; event: SagaEvent; delayMs: number }

/** What one attempt's outcome means for the saga, by the step's kind and retry policy. */
export function afterAttempt(definition: SagaDefinition<any>, index: number, mode: Mode, outcome: Outcome | FenceOutcome, context: AttemptContext): AttemptDecision {
  const step = definition.steps[index]!
  const { attempts, startedAt } = context
  const phase: Phase = mode === 'compensate' ? 'compensation' : 'forward'
  const policy = mode === 'invoke' ? step.retry : step.compensationRetry

  if (mode === 'settle') {
    const fence = outcome as FenceOutcome
    if (fence.kind === 'applied') return { type: 'record', event: { type: 'STEP_SETTLED', step: index, applied: true, result: fence.body, attempts, startedAt } }
    if (fence.kind === 'not-applied') return { type: 'record', event: { type: 'STEP_SETTLED', step: index, applied: false, attempts, startedAt } }
  } else {
    const answer = outcome as Outcome
    if (answer.kind === 'applied' || answer.kind === 'already') {
      return { type: 'record', event: { type: 'STEP_SUCCEEDED', step: index, phase, ...(mode === 'invoke' ? { result: answer.kind === 'applied' ? answer.body : null } : {}), ...(answer.kind === 'already' ? { alreadyUndone: true } : {}), attempts, startedAt } }
    }
    if (answer.kind === 'rejected') return { type: 'record', event: { type: 'STEP_REJECTED', step: index, phase, error: answer.error, attempts, startedAt } }
  }

  const unknown = outcome as Extract<Outcome, { kind: 'unknown' }>
  if (hasAttemptsLeft(policy, context.made)) {
    return {
      type: 'retry',
      event: { type: 'STEP_RETRYING', step: index, phase, error: unknown.error, attempts, startedAt },
      delayMs: backoffDelay(policy, context.made, context.random, unknown.retryAfterMs),
    }
  }
  const participant = unknown.error.participant
  const reason: StepError = mode === 'invoke'
    ? { code: 'PARTICIPANT_UNAVAILABLE', message: `${participant ?? 'the participant'} did not answer ${step.name} within ${attempts} attempts: ${unknown.error.message}`, ...(participant ? { participant } : {}), ...(unknown.error.status ? { status: unknown.error.status } : {}) }
    : unknown.error
  return { type: 'record', event: { type: 'STEP_EXHAUSTED', step: index, phase, error: reason, lastError: unknown.error, attempts, startedAt } }
}

export function applyEvent(definition: SagaDefinition<any>, saga: SagaInstance, event: SagaEvent, now: Date): SagaInstance {
  const next: SagaInstance = { ...saga, results: { ...saga.results }, steps: saga.steps.map((s) => ({ ...s })), updatedAt: now }
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
      if (event.phase === 'compensation') {
        record(next, step.name, 'compensation', { status: 'FAILED', attempts: event.attempts, startedAt: event.startedAt, finishedAt: now, lastError: event.error })
        return waitForOperator(next, 'COMPENSATION_FAILED', step, 'compensation', 'rejected', event.error, event.attempts, now)
      }
      if (!step.critical) {
        record(next, step.name, 'forward', { status: 'FAILED', attempts: event.attempts, startedAt: event.startedAt, finishedAt: now, lastError: event.error })
        return advance(definition, next, event.step, now)
      }
      record(next, step.name, 'forward', { status: 'REJECTED', attempts: event.attempts, startedAt: event.startedAt, finishedAt: now, lastError: event.error })
      // After the pivot nothing is undone: a step refused for good needs an operator.
      if (step.kind === 'retriable') return waitForOperator(next, 'PARKED', step, 'forward', 'rejected', event.error, event.attempts, now)
      return turnBack(definition, next, { ...event.error, step: step.name }, event.step, now)
    }
    case 'STEP_EXHAUSTED': {
      const step = stepOf(event.step)
      const lastError = event.lastError ?? event.error
      // Giving up on a settle is giving up on a compensation; the step stays UNKNOWN so that a
      // retry settles it again rather than undoing what may never have happened.
      if (event.phase === 'compensation' || isSettle(saga, event.phase)) {
        record(next, step.name, event.phase, { status: event.phase === 'forward' ? 'UNKNOWN' : 'FAILED', attempts: event.attempts, startedAt: event.startedAt, finishedAt: now, lastError })
        return waitForOperator(next, 'COMPENSATION_FAILED', step, event.phase, 'unavailable', lastError, event.attempts, now, event.error)
      }
      if (!step.critical) {
        record(next, step.name, 'forward', { status: 'FAILED', attempts: event.attempts, startedAt: event.startedAt, finishedAt: now, lastError })
        return advance(definition, next, event.step, now)
      }
      // The command may have been applied.
      record(next, step.name, 'forward', { status: 'UNKNOWN', attempts: event.attempts, startedAt: event.startedAt, finishedAt: now, lastError })
      if (step.kind === 'retriable') return waitForOperator(next, 'PARKED', step, 'forward', 'unavailable', lastError, event.attempts, now)
      // Keep the step in the undo set: it is settled before anything below it is undone.
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
        // The pivot went through after all: past the point of no return, so go forward.
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
      return turnBackFromCursor(definition, next, event.fenceCursor, { code: 'SAGA_TIMEOUT', message: `The saga passed its deadline of ${definition.deadlineMs} ms` }, now)
    case 'ABORT_REQUESTED':
      next.abortRequested = false
      delete next.incident
      return turnBackFromCursor(definition, next, event.fenceCursor, { code: 'SAGA_ABORTED', message: event.reason ? `An operator aborted the saga: ${event.reason}` : 'An operator aborted the saga' }, now)
    case 'PAUSED': {
      const step = stepOf(Math.max(0, Math.min(saga.cursor, definition.steps.length - 1)))
      const attempts = findRecord(saga, step.name, saga.phase)?.attempts ?? 0
      delete next.pauseRequest
      return waitForOperator(next, 'PARKED', step, saga.phase, 'paused', { code: 'PAUSED', message: event.reason ? `Paused by ${event.actor}: ${event.reason}` : `Paused by ${event.actor}` }, attempts, now)
    }
    case 'OPERATOR_RESUME':
      return resume(next)
    case 'OPERATOR_RETRY': {
      // A definitive rejection is stored under the key: only a new generation (a new key) can
      // get another answer, and that is safe because nothing was applied under the old one.
      const incident = saga.incident
      if (incident?.kind === 'rejected') {
        const existing = next.steps.find((s) => s.name === incident.step && s.phase === incident.phase)
        if (existing) existing.generation = (existing.generation ?? 0) + 1
      }
      return resume(next)
    }
    case 'OPERATOR_SKIP': {
      const step = stepOf(saga.cursor)
      const attempts = findRecord(saga, step.name, 'forward')?.attempts ?? 0
      record(next, step.name, 'forward', { status: 'SKIPPED', attempts, startedAt: now, finishedAt: now })
      next.results[step.name] = event.result ?? null
      next.state = step.state
      resume(next)
      return advance(definition, next, saga.cursor, now)
    }
    case 'OPERATOR_RESOLVE': {
      const step = stepOf(saga.cursor)
      const phase = saga.incident?.phase ?? 'compensation'
      const attempts = findRecord(saga, step.name, phase)?.attempts ?? 0
      record(next, step.name, phase, { status: 'RESOLVED', attempts, startedAt: now, finishedAt: now })
      if (phase === 'compensation' && step.compensatedState) next.state = step.compensatedState
      resume(next)
      next.cursor = previousToUndo(definition, next, saga.cursor)
      return finishIfDone(definition, next, now)
    }
  }
}

/** Forward commands are only sent while compensating to settle an UNKNOWN step. */
function isSettle(saga: SagaInstance, phase: Phase): boolean {
  return saga.status === 'COMPENSATING' && phase === 'forward'
}

/** Parks the saga (no lease, no calls) with an incident saying why. */
function waitForOperator(saga: SagaInstance, status: 'PARKED' | 'COMPENSATION_FAILED', step: StepDefinition<any>, phase: Phase, kind: Incident['kind'], error: StepError, attempts: number, now: Date, reason: StepError = error): SagaInstance {
  saga.status = status
  saga.incident = {
    step: step.name,
    phase,
    kind,
    code: error.code,
    message: error.message,
    ...(error.participant ? { participant: error.participant } : {}),
    ...(error.status ? { participantStatus: error.status } : {}),
    attempts,
    since: now.toISOString(),
  }
  if (status === 'COMPENSATION_FAILED') saga.compensationError = { ...reason, step: step.name }
  return saga
}

/** Back to being driven, in the direction the saga was going. */
function resume(saga: SagaInstance): SagaInstance {
  saga.status = saga.phase === 'compensation' ? 'COMPENSATING' : 'RUNNING'
  delete saga.incident
  delete saga.compensationError
  return saga
}

/** Turns back at the current step, settling it first when its command may have been sent. */
function turnBackFromCursor(definition: SagaDefinition<any>, saga: SagaInstance, fenceCursor: boolean, error: StepError, now: Date): SagaInstance {
  const index = Math.min(saga.cursor, definition.steps.length - 1)
  const step = definition.steps[index]!
  if (fenceCursor) {
    const existing = findRecord(saga, step.name, 'forward')
    record(saga, step.name, 'forward', { status: 'UNKNOWN', attempts: existing?.attempts ?? 0, startedAt: existing ? new Date(existing.startedAt) : now, finishedAt: now })
  }
  return turnBack(definition, saga, { ...error, step: step.name }, fenceCursor ? index + 1 : index, now)
}

/** Starts compensating from the last undoable step below `below`, keeping the first error. */
function turnBack(definition: SagaDefinition<any>, saga: SagaInstance, error: SagaFailure, below: number, now: Date): SagaInstance {
  saga.status = 'COMPENSATING'
  saga.phase = 'compensation'
  saga.error ??= error
  saga.cursor = previousToUndo(definition, saga, below)
  return finishIfDone(definition, saga, now)
}

function advance(definition: SagaDefinition<any>, saga: SagaInstance, index: number, now: Date): SagaInstance {
  saga.cursor = index + 1
  return finishIfDone(definition, saga, now)
}

/**
 * The highest step below `below` that may hold an effect to undo: a compensatable step that
 * succeeded and is not undone yet, or a critical step whose outcome is UNKNOWN (to be settled).
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
      if (undo?.status !== 'SUCCEEDED' && undo?.status !== 'RESOLVED') return index
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
    ...(existing?.generation ? { generation: existing.generation } : {}),
  }
  if (existing) {
    // A retried step is in progress again: its old finish time no longer applies.
    delete existing.finishedAt
    Object.assign(existing, entry)
  } else {
    saga.steps.push(entry)
  }
}

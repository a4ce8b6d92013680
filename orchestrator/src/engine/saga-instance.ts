/**
 * - RUNNING: going forward.
 * - COMPENSATING: undoing completed steps in reverse order.
 * - COMPLETED: every critical step succeeded.
 * - FAILED: a step failed and everything done before it was undone.
 * - COMPENSATION_FAILED: an undo cannot make progress (rejected for good, or its retry budget
 *   spent); an operator retries or resolves it.
 * - PARKED: forward progress needs an operator: a step after the pivot was rejected for good,
 *   or an operator paused the saga. It is retried, skipped, resumed (or, before the pivot, aborted).
 *
 * The one list of statuses: schemas, the CLI and the API's stats take it from here.
 */
export const SAGA_STATUSES = ['RUNNING', 'COMPENSATING', 'COMPLETED', 'FAILED', 'COMPENSATION_FAILED', 'PARKED'] as const
export type SagaStatus = (typeof SAGA_STATUSES)[number]
export type Phase = 'forward' | 'compensation'

export const TERMINAL_STATUSES: readonly SagaStatus[] = ['COMPLETED', 'FAILED']
/** Statuses a runner drives on its own. */
export const ACTIVE_STATUSES: readonly SagaStatus[] = ['RUNNING', 'COMPENSATING']
/** Statuses that wait for an operator: no lease, no participant calls, an incident. */
export const WAITING_STATUSES: readonly SagaStatus[] = ['PARKED', 'COMPENSATION_FAILED']

export function isTerminal(status: SagaStatus): boolean {
  return status === 'COMPLETED' || status === 'FAILED'
}

export function isActive(status: SagaStatus): boolean {
  return status === 'RUNNING' || status === 'COMPENSATING'
}

export function isWaiting(status: SagaStatus): boolean {
  return status === 'PARKED' || status === 'COMPENSATION_FAILED'
}

export function isSagaStatus(value: string): value is SagaStatus {
  return (SAGA_STATUSES as readonly string[]).includes(value)
}

/** A participant's error as the saga keeps it: its code, message and where it came from. */
export interface StepError {
  code: string
  message: string
  /** HTTP status of the participant's answer, when there was one. */
  status?: number
  participant?: string
}

/** Why a saga failed: the first error, with the step it happened at. */
export interface SagaFailure extends StepError {
  step: string
}

/**
 * Why a saga waits for an operator (contract: `incident`).
 * - rejected: the participant refused the step for good (its answer is stored under the key).
 * - unavailable: the step's retry budget is spent without a definitive answer.
 * - paused: an operator paused the saga.
 */
export interface Incident {
  step: string
  phase: Phase
  kind: 'rejected' | 'unavailable' | 'paused'
  code: string
  message: string
  participant?: string
  participantStatus?: number
  attempts: number
  /** ISO time the saga started waiting. */
  since: string
}

/**
 * - SUCCEEDED: done (for a forward step, its result is in `results`).
 * - REJECTED: a participant refused the command for good (a business error).
 * - UNKNOWN: no definitive answer; the command may have been applied. Settled (by the
 *   participant's fence) before anything below it is undone.
 * - RETRYING: attempts failed transiently and more will follow.
 * - FAILED: a non-critical step gave up, or an undo gave up.
 * - SETTLED: an UNKNOWN step turned out, by its fence, never to have been applied.
 * - SKIPPED: an operator marked a parked step done by hand.
 * - RESOLVED: an operator closed a failed undo as done by hand.
 */
export type StepStatus = 'SUCCEEDED' | 'REJECTED' | 'UNKNOWN' | 'RETRYING' | 'FAILED' | 'SETTLED' | 'SKIPPED' | 'RESOLVED'

/** One line of the timeline support staff see. */
export interface StepRecord {
  name: string
  phase: Phase
  status: StepStatus
  attempts: number
  startedAt: string
  finishedAt?: string
  lastError?: StepError
  /**
   * Bumped by an operator retry after a definitive rejection: the command is sent under a new
   * idempotency key (`…:g<generation>`), since the old key's answer is stored for good.
   * Absent: 0, the original key.
   */
  generation?: number
}

export interface PauseRequest {
  actor: string
  reason?: string
}

export interface SagaInstance<Input = unknown> {
  id: string
  type: string
  /** The version of the saga type's definition this saga started on; it finishes on it. */
  definitionVersion: string
  status: SagaStatus
  state: string
  phase: Phase
  /** Forward: the next step to run. Compensation: the step being undone. */
  cursor: number
  pivotPassed: boolean
  input: Input
  /** Results of succeeded forward steps, by step name. */
  results: Record<string, unknown>
  steps: StepRecord[]
  error?: SagaFailure
  compensationError?: SagaFailure
  /** Why a PARKED or COMPENSATION_FAILED saga waits. */
  incident?: Incident
  /** Bumped by every write; a write with a stale version is refused. */
  version: number
  /** Grows on every takeover; a write with a stale epoch is refused (fencing). */
  leaseEpoch: number
  /** An operator asked for an abort; the runner turns back at its next decision. */
  abortRequested: boolean
  /** An operator asked for a pause (who, and why); the runner parks the saga at its next decision. */
  pauseRequest?: PauseRequest
  /** The principal that started it (a client's or a user's id): a client reads what it started. */
  startedBy?: string
  /** The end user the saga is for (its `userId` reference): that user may read it. */
  userId?: string
  deadlineAt: Date
  createdAt: Date
  updatedAt: Date
  completedAt?: Date
}

/** Who asked for an operator action, and why: kept in the saga's event log. */
export interface Actor {
  actor: string
  reason?: string
}

/** `attempts` in step events counts every attempt of that step and phase so far, across restarts. */
export type SagaEvent =
  | { type: 'STEP_SUCCEEDED'; step: number; phase: Phase; result?: unknown; attempts: number; startedAt: Date; alreadyUndone?: boolean }
  /** Refused for good: forward, a turn back (or a park after the pivot); compensation, an incident. */
  | { type: 'STEP_REJECTED'; step: number; phase: Phase; error: StepError; attempts: number; startedAt: Date }
  /** `error` is why the saga turns back or waits; `lastError`, the participant's own last answer. */
  | { type: 'STEP_EXHAUSTED'; step: number; phase: Phase; error: StepError; lastError?: StepError; attempts: number; startedAt: Date }
  | { type: 'STEP_RETRYING'; step: number; phase: Phase; error: StepError; attempts: number; startedAt: Date }
  | { type: 'STEP_SETTLED'; step: number; applied: boolean; result?: unknown; attempts: number; startedAt: Date }
  | { type: 'DEADLINE_PASSED'; fenceCursor: boolean }
  | ({ type: 'ABORT_REQUESTED'; fenceCursor: boolean } & Partial<Actor>)
  | ({ type: 'PAUSED' } & Actor)
  | ({ type: 'OPERATOR_RESUME' } & Actor)
  | ({ type: 'OPERATOR_RETRY' } & Actor)
  | ({ type: 'OPERATOR_SKIP'; result?: unknown } & Actor)
  | ({ type: 'OPERATOR_RESOLVE' } & Actor)

/**
 * - RUNNING: going forward.
 * - COMPENSATING: undoing completed steps in reverse order.
 * - COMPLETED: every critical step succeeded.
 * - FAILED: a step failed and everything done before it was undone.
 * - COMPENSATION_FAILED: an undo failed past its budget; an operator must resume it.
 */
export type SagaStatus = 'RUNNING' | 'COMPENSATING' | 'COMPLETED' | 'FAILED' | 'COMPENSATION_FAILED'
export type Phase = 'forward' | 'compensation'

export const TERMINAL_STATUSES: readonly SagaStatus[] = ['COMPLETED', 'FAILED']
/** Statuses a runner drives on its own (COMPENSATION_FAILED waits for an operator). */
export const ACTIVE_STATUSES: readonly SagaStatus[] = ['RUNNING', 'COMPENSATING']

export function isTerminal(status: SagaStatus): boolean {
  return status === 'COMPLETED' || status === 'FAILED'
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
 * - SUCCEEDED: done (for a forward step, its result is in `results`).
 * - REJECTED: a participant refused the command (a business error).
 * - UNKNOWN: no definitive answer within the budget; the command may have been applied.
 * - RETRYING: attempts failed transiently and more will follow.
 * - FAILED: a non-critical step gave up, or an undo gave up.
 * - SETTLED: an UNKNOWN step, re-sent during compensation, turned out not to have been applied.
 */
export type StepStatus = 'SUCCEEDED' | 'REJECTED' | 'UNKNOWN' | 'RETRYING' | 'FAILED' | 'SETTLED'

/** One line of the timeline support staff see. */
export interface StepRecord {
  name: string
  phase: Phase
  status: StepStatus
  attempts: number
  startedAt: string
  finishedAt?: string
  lastError?: StepError
}

export interface SagaInstance<Input = unknown> {
  id: string
  type: string
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
  /** Bumped by every write; a write with a stale version is refused. */
  version: number
  /** Grows on every takeover; a write with a stale epoch is refused (fencing). */
  leaseEpoch: number
  abortRequested: boolean
  deadlineAt: Date
  /** The end user the saga is for (its `userId` reference): that user may read it. */
  userId?: string
  /** The principal that started it (a client's or a user's id): a client reads what it started. */
  startedBy?: string
  createdAt: Date
  updatedAt: Date
  completedAt?: Date
}

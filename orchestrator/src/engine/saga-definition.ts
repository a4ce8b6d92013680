import { createHash } from 'node:crypto'
import { DEFAULT_COMPENSATION_RETRY, DEFAULT_RETRY, RETRY_FOREVER, type RetryPolicy } from './retry-policy.ts'

/**
 * A command to a participant: which service, which route, which body. The transport adds the
 * idempotency key, the saga id and the trace context.
 */
export interface Command {
  participant: string
  method: 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  path: string
  body?: unknown
}

/**
 * - `compensatable`: has an undo, run in reverse order when a later step fails.
 * - `pivot`: the point of no return. Before it the saga can still be undone; after it, it
 *   can only go forward.
 * - `retriable`: after the pivot; never undone. Transient failures are retried (by default
 *   forever, with capped backoff); a definitive rejection, or a finite budget spent, parks the
 *   saga for an operator.
 */
export type StepKind = 'compensatable' | 'pivot' | 'retriable'

/** What a step's builders see: the saga's input and the results of earlier steps. */
export interface StepContext<Input = unknown> {
  sagaId: string
  input: Input
  results: Record<string, any>
}

export interface StepDefinition<Input = unknown> {
  /** Unique within the saga; part of the idempotency key, so never rename a live step. */
  name: string
  kind: StepKind
  /** Non-critical steps (notifications) may fail for good: the saga still completes. Default: true */
  critical: boolean
  /** State the saga enters when the step succeeds, e.g. TOUR_RESERVED. */
  state: string
  /** State the saga enters when the step's undo succeeds, e.g. TOUR_RELEASED. */
  compensatedState?: string
  invoke: (context: StepContext<Input>) => Command
  compensate?: (context: StepContext<Input>) => Command
  /**
   * Error codes with which the participant answers the undo when its target state already
   * holds (e.g. BOOKING_ALREADY_CANCELLED for cancelling a booking): the undo is done.
   * Default: none (an undo that finds nothing to do should answer 2xx).
   */
  alreadyUndone?: readonly string[]
  /** Attempts of `invoke`. Default: 3 attempts (pivot and retriable steps: until definitive). */
  retry: RetryPolicy
  /** Attempts of `compensate`. Default: 8 attempts, capped at 5 s apart. */
  compensationRetry: RetryPolicy
  /** Per-attempt timeout. Default: 5000 ms */
  timeoutMs: number
}

export interface SagaDefinition<Input = unknown> {
  /** e.g. "tour-booking"; stored with every instance. */
  type: string
  /**
   * Stored with every instance, which finishes on the version it started on. Default: a hash
   * of the step list (names, kinds, order, criticality, states), so adding, removing or
   * reordering a step makes a new version.
   */
  version: string
  /** Time allowed to get past the pivot; then the saga compensates with SAGA_TIMEOUT. */
  deadlineMs: number
  steps: StepDefinition<Input>[]
  /** State of a saga that has not finished a step yet. Default: STARTED */
  initialState: string
  /** State of a completed saga. Default: COMPLETED */
  completedState: string
  /** State of a fully compensated saga. Default: COMPENSATED */
  compensatedState: string
  /** Fields added to the answer of a completed saga (contract: "...result"). */
  result: (context: StepContext<Input>) => Record<string, unknown>
  /** Ids support staff search by, taken from input and results as they appear. */
  references?: (context: StepContext<Input>) => SagaReferences
  /** JSON schema of the input; the API validates start requests against it. */
  inputSchema?: Record<string, unknown>
  /**
   * Business facts the saga makes true when it completes (contract: Domain events), written to
   * the outbox in the same transaction as the completing transition, so they are published
   * exactly when — and only if — the saga completed. Default: none
   */
  onCompleted?: (context: StepContext<Input> & { completedAt: Date }) => DomainEventDraft[]
  /**
   * Checked before a saga of this type is created (by every route that starts one): throws to
   * refuse the request, e.g. a cancellation while the booking's own saga is unfinished.
   */
  guard?: (input: Input, sagas: SagaLookup) => Promise<void>
  /**
   * At most one saga of this type per business key, e.g. one cancellation per booking: a
   * second start returns the first saga instead of creating another.
   */
  businessKey?: (input: Input) => string | undefined
}

/** A domain event as a saga definition states it; the engine adds its id, time and correlation. */
export interface DomainEventDraft {
  /** e.g. "booking.canceled" */
  type: string
  /** Version of the event's data shape. Default: 1 */
  version?: number
  data: Record<string, unknown>
}

/** What a guard may ask about other sagas. */
export interface SagaLookup {
  /** The id of an unfinished saga (not COMPLETED or FAILED) of `type` about that booking or reservation. */
  findUnfinished(query: { type: string; bookingId?: string; reservationId?: string }): Promise<string | undefined>
}

export interface SagaReferences {
  userId?: string
  bookingId?: string
  reservationId?: string
}

export type StepSpec<Input> = Omit<StepDefinition<Input>, 'critical' | 'retry' | 'compensationRetry' | 'timeoutMs'> &
  Partial<Pick<StepDefinition<Input>, 'critical' | 'retry' | 'compensationRetry' | 'timeoutMs'>>

export type SagaSpec<Input> = Omit<SagaDefinition<Input>, 'steps' | 'version' | 'initialState' | 'completedState' | 'compensatedState'> &
  Partial<Pick<SagaDefinition<Input>, 'version' | 'initialState' | 'completedState' | 'compensatedState'>> & { steps: StepSpec<Input>[] }

/** Fills in step defaults and checks the shape: fails at start-up, not mid-saga. */
export function defineSaga<Input>(spec: SagaSpec<Input>): SagaDefinition<Input> {
  const steps = spec.steps.map((step): StepDefinition<Input> => ({
    ...step,
    critical: step.critical ?? true,
    retry: step.retry ?? (step.kind === 'compensatable' ? DEFAULT_RETRY : RETRY_FOREVER),
    compensationRetry: step.compensationRetry ?? DEFAULT_COMPENSATION_RETRY,
    timeoutMs: step.timeoutMs ?? 5_000,
  }))
  const problems: string[] = []
  const names = new Set<string>()
  steps.forEach((step, index) => {
    if (names.has(step.name)) problems.push(`step name "${step.name}" is used twice`)
    names.add(step.name)
    if (step.kind === 'compensatable' && !step.compensate && step.critical) problems.push(`compensatable step "${step.name}" has no compensate`)
    if (step.kind !== 'compensatable' && step.compensate) problems.push(`${step.kind} step "${step.name}" cannot have a compensate`)
    const pivot = steps.findIndex((s) => s.kind === 'pivot')
    if (step.kind === 'compensatable' && pivot !== -1 && index > pivot) problems.push(`compensatable step "${step.name}" comes after the pivot`)
    if (step.kind === 'retriable' && (pivot === -1 || index < pivot)) problems.push(`retriable step "${step.name}" must come after a pivot`)
    if (step.alreadyUndone?.length && !step.compensate) problems.push(`step "${step.name}" lists alreadyUndone codes but has no compensate`)
  })
  if (steps.filter((s) => s.kind === 'pivot').length > 1) problems.push('a saga has at most one pivot')
  if (!steps.length) problems.push('a saga needs at least one step')
  if (!(spec.deadlineMs > 0)) problems.push('deadlineMs must be positive')
  if (problems.length) throw new Error(`Saga "${spec.type}" is not valid: ${problems.join('; ')}`)
  const states = {
    initialState: spec.initialState ?? 'STARTED',
    completedState: spec.completedState ?? 'COMPLETED',
    compensatedState: spec.compensatedState ?? 'COMPENSATED',
  }
  return { ...spec, ...states, steps, version: spec.version ?? structuralVersion(spec.type, steps, states) }
}

/**
 * A short hash of what a running instance depends on: its step list (a step's cursor position,
 * name and kind) and its states. Changing a command's body or a retry policy keeps the
 * version; adding, removing, renaming or reordering a step changes it.
 */
export function structuralVersion(type: string, steps: readonly StepDefinition<any>[], states: Record<string, string>): string {
  const shape = [type, states, steps.map((s) => [s.name, s.kind, s.critical, s.state, s.compensatedState ?? null, Boolean(s.compensate)])]
  return createHash('sha256').update(JSON.stringify(shape)).digest('hex').slice(0, 12)
}

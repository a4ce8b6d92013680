import type { Command, SagaReferences } from './saga-definition.ts'
import type { SagaEvent } from './decide.ts'
import type { SagaInstance, StepError } from './saga-instance.ts'

// The engine's boundary: everything it needs from the outside world, as small interfaces.
// Adapters (persistence/, transport/) implement them; tests can too.

/** What a participant answered to one attempt of a command. */
export type CommandOutcome =
  | { kind: 'success'; status: number; body: unknown }
  /** A business rejection (4xx other than 408/409-in-progress/429): final. */
  | { kind: 'rejected'; status: number; error: StepError }
  /** Worth retrying: network error, timeout, 408, 429, 5xx, 409 REQUEST_IN_PROGRESS. */
  | { kind: 'transient'; error: StepError; status?: number; retryAfterMs?: number }

export interface CommandMetadata {
  idempotencyKey: string
  sagaId: string
  sagaType: string
  step: string
  timeoutMs: number
}

export interface CommandTransport {
  /** One attempt; never throws for a participant's answer or a network failure. */
  send(command: Command, metadata: CommandMetadata): Promise<CommandOutcome>
}

/** A transition to persist: the saga after it, and the event that caused it. */
export interface Transition {
  saga: SagaInstance
  event: SagaEvent | { type: 'SAGA_STARTED' }
  /** The version the saga had before: the write only happens if it is still that. */
  expectedVersion: number
  /** Name of the step the event is about, for the event log. */
  stepName?: string
  /** Ids support staff search by, as known after this transition. */
  references?: SagaReferences
}

export interface RecordResult {
  /** An operator asked for an abort meanwhile. */
  abortRequested: boolean
}

/** Postgres, the source of truth. */
export interface SagaStore {
  /** Persists a transition if the saga is still at `expectedVersion` and this owner's epoch; throws LeaseLostError otherwise. */
  recordTransition(transition: Transition, owner: LeaseOwner): Promise<RecordResult>
}

/**
 * Best-effort copy of each transition for fast reads and live updates (Redis). Never throws,
 * and fails fast while its server is down: it must never stop a saga.
 */
export interface SagaMirror {
  publish(transition: Transition): Promise<void> | void
}

/** Who is allowed to write a saga: the process holding its lease at this epoch. */
export interface LeaseOwner {
  ownerId: string
  epoch: number
}

export interface Clock {
  now(): Date
  sleep(ms: number, signal?: AbortSignal): Promise<void>
  random(): number
}

export interface EngineObserver {
  started?(saga: SagaInstance): void
  stepAttempt?(info: { saga: SagaInstance; step: string; phase: string; outcome: CommandOutcome['kind']; durationMs: number }): void
  transition?(info: { saga: SagaInstance; event: Transition['event']; stepName?: string }): void
  compensationFailed?(saga: SagaInstance): void
}

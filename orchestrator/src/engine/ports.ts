import type { Command, SagaReferences } from './saga-definition.ts'
import type { Incident, PauseRequest, SagaEvent, SagaFailure, SagaInstance, SagaStatus, StepError } from './saga-instance.ts'

// The engine's boundary: everything it needs from the outside world, as small interfaces.
// Adapters (persistence/, transport/) implement them; tests can too.

// ------------------------------------------------------------------ participants

/**
 * What came back from one attempt of a command, before the engine judges it (engine/classify.ts
 * does, in one place): an HTTP answer, or none at all.
 */
export type ParticipantReply =
  | { kind: 'answer'; status: number; body: unknown; retryAfterMs?: number }
  /** Timeout, refused or dropped connection: the command may or may not have been applied. */
  | { kind: 'no-answer'; error: StepError }

export interface CommandMetadata {
  idempotencyKey: string
  sagaId: string
  sagaType: string
  step: string
  timeoutMs: number
}

export interface CommandTransport {
  /** One attempt; never throws for a participant's answer or a network failure. */
  send(command: Command, metadata: CommandMetadata): Promise<ParticipantReply>
  /**
   * Asks the participant to settle a key (contract: `POST /api/idempotency-keys/{key}/fence`):
   * it answers the stored outcome of the command sent under the key, or records that no command
   * under it will ever be applied. Never throws.
   */
  fence(participant: string, metadata: CommandMetadata): Promise<ParticipantReply>
}

// ------------------------------------------------------------------ storage

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
  /** Domain events the transition makes true: stored in the outbox with it, atomically. */
  events?: DomainEvent[]
}

/**
 * A business fact for the rest of the business (contract: Domain events). The same shape as the
 * event kit's (platform/events/domain-event.ts); persistence/postgres-saga-store.ts checks it.
 */
export interface DomainEvent {
  eventId: string
  eventType: string
  eventVersion: number
  /** ISO time the fact became true. */
  timestamp: string
  /** The saga the fact came from. */
  correlationId: string
  data: Record<string, unknown>
}

/** Operator requests the runner honours at its next decision (set by another process, maybe). */
export interface PendingRequests {
  abortRequested: boolean
  pauseRequest?: PauseRequest
}

/** Who is allowed to write a saga: the process holding its lease at this epoch. */
export interface LeaseOwner {
  ownerId: string
  epoch: number
}

export interface NewSaga {
  id: string
  type: string
  definitionVersion: string
  state: string
  input: unknown
  deadlineAt: Date
  /** "caller:key" of the start request: the same key never creates a second saga. */
  startKey?: string
  requestFingerprint?: string
  businessKey?: string
  startedBy?: string
  references: SagaReferences
}

export type CreateResult =
  | { saga: SagaInstance; created: true }
  /** An earlier saga holds the start key (a retried request) or the business key. */
  | { saga: SagaInstance; created: false; matchedBy: 'startKey' | 'businessKey'; requestFingerprint: string | null }

export interface Orphan {
  id: string
  type: string
  definitionVersion: string
  status: SagaStatus
  ownerId: string | null
}

/** One line of the saga's audit log: an operator's request, with who asked and why. */
export interface AuditEntry {
  type: string
  actor: string
  reason?: string
  detail?: Record<string, unknown>
}

/** A saga definition the caller can run: recovery only takes sagas it has the version of. */
export interface DefinitionRef {
  type: string
  version: string
}

/**
 * Postgres, the source of truth, in domain verbs. Every write of a saga is conditional on its
 * version and on the writer's lease (owner and epoch): a runner that lost its lease can no
 * longer write (fencing). Implemented by persistence/postgres-saga-store.ts and, for tests,
 * persistence/in-memory-saga-store.ts; one contract suite runs against both.
 */
export interface SagaRepository {
  /** Inserts a saga owned by `owner`, unless its start key or business key exists already. */
  createSaga(draft: NewSaga, owner: LeaseOwner): Promise<CreateResult>
  /**
   * Persists a transition if the saga is still at `expectedVersion` and this owner's epoch;
   * throws LeaseLostError otherwise. A transition into a status no runner drives gives the
   * lease up. Answers the operator requests pending on the saga. Throws StoreUnavailableError
   * when the store cannot be reached (the runner retries only that).
   */
  recordTransition(transition: Transition, owner: LeaseOwner): Promise<PendingRequests>
  findSaga(id: string): Promise<SagaInstance | undefined>
  /** The operator requests pending on a saga this owner holds (read after a retry's sleep); StoreUnavailableError as above. */
  pendingRequests(id: string): Promise<PendingRequests>
  /**
   * Takes a saga over: new owner, epoch + 1, so the previous owner's next write fails. Only
   * sagas in `statuses` (default: RUNNING, COMPENSATING) whose lease expired or that have no
   * owner, unless `force`.
   */
  claimSaga(id: string, ownerId: string, options?: { statuses?: readonly SagaStatus[]; force?: boolean }): Promise<{ saga: SagaInstance; owner: LeaseOwner } | undefined>
  /** Extends the leases this owner holds on these active sagas; one statement per call. */
  renewLeases(ownerId: string, sagaIds: string[]): Promise<number>
  /** Lets every active saga this owner holds be taken over now (graceful shutdown). */
  releaseLeases(ownerId: string): Promise<number>
  /** Active sagas whose owner stopped renewing, of the given definitions only. */
  listOrphanedSagas(options: { olderThanMs?: number; limit?: number; definitions?: readonly DefinitionRef[] }): Promise<Orphan[]>
  /** Orphans of the types in `definitions` whose version is not among them: what this process must leave alone. */
  countOrphansOutside(definitions: readonly DefinitionRef[]): Promise<number>
  /**
   * Flags an abort or a pause on a saga that may be driven by any process, and appends the
   * request to its audit log. False when the saga is not in `statuses`.
   */
  request(id: string, kind: 'abort' | 'pause', statuses: readonly SagaStatus[], audit: AuditEntry): Promise<boolean>
  /** Appends an operator's action to the saga's event log. */
  appendAudit(id: string, audit: AuditEntry): Promise<void>
}

// ------------------------------------------------------------------ support reads

export interface SagaQuery {
  status?: SagaStatus
  type?: string
  userId?: string
  bookingId?: string
  reservationId?: string
  /** Sagas waiting on this incident code (e.g. PAUSED, VALIDATION_FAILED). */
  incidentCode?: string
  /** Sagas waiting at this step. */
  step?: string
  startedBy?: string
  createdFrom?: Date
  createdTo?: Date
  limit: number
  /** Opaque cursor from a previous page. */
  cursor?: string
}

/** One line of a search result. */
export interface SagaSummary {
  id: string
  type: string
  status: SagaStatus
  state: string
  error: SagaFailure | null
  incident: Incident | null
  userId: string | null
  bookingId: string | null
  reservationId: string | null
  createdAt: Date
  updatedAt: Date
  completedAt: Date | null
}

export interface SagaEventRecord {
  version: number
  type: string
  status: string
  state: string
  step: string | null
  phase: string | null
  detail: Record<string, unknown> | null
  createdAt: Date
}

/** What support staff read: search, counts and a saga's event log. */
export interface SagaQueries {
  /** Newest first, keyset-paginated; throws InvalidCursorError for a cursor it did not make. */
  listSagas(query: SagaQuery): Promise<{ items: SagaSummary[]; nextCursor: string | null }>
  countByStatus(): Promise<Record<SagaStatus, number>>
  /** Waiting sagas per incident code. */
  countIncidents(): Promise<Record<string, number>>
  listEvents(sagaId: string): Promise<SagaEventRecord[]>
}

/**
 * Best-effort copy of each transition for fast reads and live updates (Redis). Never throws,
 * and fails fast while its server is down: it must never stop a saga.
 */
export interface SagaMirror {
  publish(transition: Transition): Promise<void> | void
}

// ------------------------------------------------------------------ time and observation

export interface Clock {
  now(): Date
  sleep(ms: number, signal?: AbortSignal): Promise<void>
  random(): number
}

export interface EngineObserver {
  started?(saga: SagaInstance): void
  stepAttempt?(info: { saga: SagaInstance; step: string; phase: string; outcome: string; durationMs: number }): void
  transition?(info: { saga: SagaInstance; event: Transition['event']; stepName?: string }): void
  /** The saga now waits for an operator (PARKED or COMPENSATION_FAILED). */
  incident?(saga: SagaInstance & { incident: Incident }): void
}

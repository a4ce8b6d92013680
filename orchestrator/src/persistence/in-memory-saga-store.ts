import { LeaseLostError } from '../engine/engine-errors.ts'
import type {
  AuditEntry, CreateResult, DefinitionRef, DomainEvent, LeaseOwner, NewSaga, Orphan, PendingRequests, SagaEventRecord, SagaQueries,
  SagaQuery, SagaRepository, SagaSummary, Transition,
} from '../engine/ports.ts'
import { LEGACY_VERSION } from '../engine/saga-registry.ts'
import { ACTIVE_STATUSES, SAGA_STATUSES, type SagaInstance, type SagaStatus } from '../engine/saga-instance.ts'
import { eventDetail } from './postgres-saga-store.ts'
import { decodeCursor, encodeCursor } from './saga-cursor.ts'

interface Stored {
  saga: SagaInstance
  ownerId: string | null
  leaseExpiresAt: number | null
  startKey?: string
  businessKey?: string
  requestFingerprint: string | null
  references: { userId?: string; bookingId?: string; reservationId?: string }
  events: SagaEventRecord[]
}

export interface InMemoryStoreOptions {
  leaseTtlMs?: number
  /** Default: Date.now */
  now?: () => number
}

/**
 * The saga store in memory, for tests of the runner and the application: the same rules as
 * PostgresSagaStore (versions, lease owner and epoch, requests, keys), checked by the same
 * contract suite (saga-store.contract.ts), so it cannot drift from the real one.
 */
export class InMemorySagaStore implements SagaRepository, SagaQueries {
  readonly leaseTtlMs: number
  readonly #now: () => number
  readonly #sagas = new Map<string, Stored>()
  /** Every transition written, in order (tests read the engine's writes from it). */
  readonly transitions: Transition[] = []
  /** The outbox: domain events written with their transitions, in order. */
  readonly outbox: DomainEvent[] = []
  /** Makes the nth write from now (1-based) fail with LeaseLostError, as when another runner took over. */
  loseLeaseAtWrite?: number

  constructor(options: InMemoryStoreOptions = {}) {
    this.leaseTtlMs = options.leaseTtlMs ?? 15_000
    this.#now = options.now ?? Date.now
  }

  async createSaga(draft: NewSaga, owner: LeaseOwner): Promise<CreateResult> {
    for (const stored of this.#sagas.values()) {
      if (draft.startKey && stored.startKey === draft.startKey) return { saga: clone(stored.saga), created: false, matchedBy: 'startKey', requestFingerprint: stored.requestFingerprint }
    }
    for (const stored of this.#sagas.values()) {
      if (draft.businessKey && stored.businessKey === draft.businessKey) {
        if (stored.saga.status !== 'FAILED') return { saga: clone(stored.saga), created: false, matchedBy: 'businessKey', requestFingerprint: stored.requestFingerprint }
        delete stored.businessKey
      }
    }
    const now = new Date(this.#now())
    const saga: SagaInstance = {
      id: draft.id, type: draft.type, definitionVersion: draft.definitionVersion, status: 'RUNNING', state: draft.state, phase: 'forward',
      cursor: 0, pivotPassed: false, input: draft.input, results: {}, steps: [], version: 0, leaseEpoch: owner.epoch,
      abortRequested: false, ...(draft.startedBy ? { startedBy: draft.startedBy } : {}), ...(draft.references.userId ? { userId: draft.references.userId } : {}), deadlineAt: draft.deadlineAt, createdAt: now, updatedAt: now,
    }
    this.#sagas.set(draft.id, {
      saga, ownerId: owner.ownerId, leaseExpiresAt: this.#now() + this.leaseTtlMs,
      ...(draft.startKey ? { startKey: draft.startKey } : {}), ...(draft.businessKey ? { businessKey: draft.businessKey } : {}),
      requestFingerprint: draft.requestFingerprint ?? null, references: { ...draft.references },
      events: [{ version: 0, type: 'SAGA_STARTED', status: 'RUNNING', state: draft.state, step: null, phase: null, detail: null, createdAt: now }],
    })
    return { saga: clone(saga), created: true }
  }

  async recordTransition(transition: Transition, owner: LeaseOwner): Promise<PendingRequests> {
    const stored = this.#sagas.get(transition.saga.id)
    if (this.loseLeaseAtWrite !== undefined && --this.loseLeaseAtWrite === 0) throw new LeaseLostError(transition.saga.id)
    if (!stored || stored.saga.version !== transition.expectedVersion || stored.saga.leaseEpoch !== owner.epoch || stored.ownerId !== owner.ownerId) {
      throw new LeaseLostError(transition.saga.id)
    }
    const { saga, event } = transition
    const abortRequested = stored.saga.abortRequested && event.type !== 'ABORT_REQUESTED'
    const pauseRequest = event.type === 'PAUSED' ? undefined : stored.saga.pauseRequest
    stored.saga = { ...clone(saga), version: transition.expectedVersion + 1, leaseEpoch: stored.saga.leaseEpoch, abortRequested, ...(pauseRequest ? { pauseRequest } : {}) }
    if (!pauseRequest) delete stored.saga.pauseRequest
    if (stored.saga.startedBy === undefined && saga.startedBy) stored.saga.startedBy = saga.startedBy
    stored.references.bookingId ??= transition.references?.bookingId
    stored.references.reservationId ??= transition.references?.reservationId
    if (!ACTIVE_STATUSES.includes(saga.status)) {
      stored.ownerId = null
      stored.leaseExpiresAt = null
    }
    const phase = 'phase' in event ? event.phase : event.type === 'STEP_SETTLED' ? 'forward' : null
    stored.events.push({ version: stored.saga.version, type: event.type, status: saga.status, state: saga.state, step: transition.stepName ?? null, phase, detail: eventDetail(event) ?? null, createdAt: saga.updatedAt })
    this.transitions.push(structuredClone(transition))
    this.outbox.push(...structuredClone(transition.events ?? []))
    return { abortRequested, ...(pauseRequest ? { pauseRequest } : {}) }
  }

  async findSaga(id: string): Promise<SagaInstance | undefined> {
    const stored = this.#sagas.get(id)
    return stored ? clone(stored.saga) : undefined
  }

  async pendingRequests(id: string): Promise<PendingRequests> {
    const saga = this.#sagas.get(id)?.saga
    return { abortRequested: saga?.abortRequested ?? false, ...(saga?.pauseRequest ? { pauseRequest: saga.pauseRequest } : {}) }
  }

  async claimSaga(id: string, ownerId: string, options: { statuses?: readonly SagaStatus[]; force?: boolean } = {}): Promise<{ saga: SagaInstance; owner: LeaseOwner } | undefined> {
    const stored = this.#sagas.get(id)
    if (!stored || !(options.statuses ?? ACTIVE_STATUSES).includes(stored.saga.status)) return undefined
    const free = options.force || stored.ownerId === null || stored.leaseExpiresAt === null || stored.leaseExpiresAt < this.#now() || stored.ownerId === ownerId
    if (!free) return undefined
    stored.ownerId = ownerId
    stored.saga.leaseEpoch++
    stored.leaseExpiresAt = this.#now() + this.leaseTtlMs
    return { saga: clone(stored.saga), owner: { ownerId, epoch: stored.saga.leaseEpoch } }
  }

  async renewLeases(ownerId: string, sagaIds: string[]): Promise<number> {
    let renewed = 0
    for (const id of sagaIds) {
      const stored = this.#sagas.get(id)
      if (stored?.ownerId === ownerId && ACTIVE_STATUSES.includes(stored.saga.status)) {
        stored.leaseExpiresAt = this.#now() + this.leaseTtlMs
        renewed++
      }
    }
    return renewed
  }

  async releaseLeases(ownerId: string): Promise<number> {
    let released = 0
    for (const stored of this.#sagas.values()) {
      if (stored.ownerId === ownerId && ACTIVE_STATUSES.includes(stored.saga.status)) {
        stored.leaseExpiresAt = this.#now()
        released++
      }
    }
    return released
  }

  #orphans(olderThanMs = 0): Stored[] {
    const now = this.#now()
    return [...this.#sagas.values()].filter((s) => ACTIVE_STATUSES.includes(s.saga.status)
      && (s.leaseExpiresAt === null || s.leaseExpiresAt < now) && s.saga.updatedAt.getTime() < now - olderThanMs)
  }

  async listOrphanedSagas(options: { olderThanMs?: number; limit?: number; definitions?: readonly DefinitionRef[] } = {}): Promise<Orphan[]> {
    return this.#orphans(options.olderThanMs)
      .filter((s) => !options.definitions || runs(options.definitions, s.saga))
      .sort((a, b) => (a.leaseExpiresAt ?? -Infinity) - (b.leaseExpiresAt ?? -Infinity))
      .slice(0, options.limit ?? 1000)
      .map((s) => ({ id: s.saga.id, type: s.saga.type, definitionVersion: s.saga.definitionVersion, status: s.saga.status, ownerId: s.ownerId }))
  }

  async countOrphansOutside(definitions: readonly DefinitionRef[]): Promise<number> {
    return this.#orphans().filter((s) => definitions.some((d) => d.type === s.saga.type) && !runs(definitions, s.saga)).length
  }

  async request(id: string, kind: 'abort' | 'pause', statuses: readonly SagaStatus[], audit: AuditEntry): Promise<boolean> {
    const stored = this.#sagas.get(id)
    if (!stored || !statuses.includes(stored.saga.status) || (kind === 'abort' && stored.saga.pivotPassed)) return false
    if (kind === 'abort') stored.saga.abortRequested = true
    else stored.saga.pauseRequest = { actor: audit.actor, ...(audit.reason ? { reason: audit.reason } : {}) }
    await this.appendAudit(id, audit)
    return true
  }

  async appendAudit(id: string, audit: AuditEntry): Promise<void> {
    const stored = this.#sagas.get(id)
    if (!stored) return
    stored.events.push({
      version: stored.saga.version, type: audit.type, status: stored.saga.status, state: stored.saga.state, step: null, phase: null,
      detail: { actor: audit.actor, ...(audit.reason ? { reason: audit.reason } : {}), ...audit.detail }, createdAt: new Date(this.#now()),
    })
  }

  async listSagas(query: SagaQuery): Promise<{ items: SagaSummary[]; nextCursor: string | null }> {
    const after = query.cursor ? decodeCursor(query.cursor) : undefined
    const matches = [...this.#sagas.values()].filter(({ saga, references }) =>
      (!query.status || saga.status === query.status) && (!query.type || saga.type === query.type)
      && (!query.userId || references.userId === query.userId) && (!query.bookingId || references.bookingId === query.bookingId)
      && (!query.reservationId || references.reservationId === query.reservationId)
      && (!query.incidentCode || saga.incident?.code === query.incidentCode) && (!query.step || saga.incident?.step === query.step)
      && (!query.startedBy || saga.startedBy === query.startedBy)
      && (!query.createdFrom || saga.createdAt >= query.createdFrom) && (!query.createdTo || saga.createdAt < query.createdTo)
      && (!after || saga.createdAt < after.createdAt || (saga.createdAt.getTime() === after.createdAt.getTime() && saga.id < after.id)))
      .sort((a, b) => b.saga.createdAt.getTime() - a.saga.createdAt.getTime() || (a.saga.id < b.saga.id ? 1 : -1))
    const items = matches.slice(0, query.limit).map(({ saga, references }): SagaSummary => ({
      id: saga.id, type: saga.type, status: saga.status, state: saga.state, error: saga.error ?? null, incident: saga.incident ?? null,
      userId: references.userId ?? null, bookingId: references.bookingId ?? null, reservationId: references.reservationId ?? null,
      createdAt: saga.createdAt, updatedAt: saga.updatedAt, completedAt: saga.completedAt ?? null,
    }))
    const last = items.at(-1)
    return { items, nextCursor: matches.length > query.limit && last ? encodeCursor(last.createdAt, last.id) : null }
  }

  async countByStatus(): Promise<Record<SagaStatus, number>> {
    const counts = Object.fromEntries(SAGA_STATUSES.map((status) => [status, 0])) as Record<SagaStatus, number>
    for (const { saga } of this.#sagas.values()) counts[saga.status]++
    return counts
  }

  async countIncidents(): Promise<Record<string, number>> {
    const counts: Record<string, number> = {}
    for (const { saga } of this.#sagas.values()) if (saga.incident) counts[saga.incident.code] = (counts[saga.incident.code] ?? 0) + 1
    return counts
  }

  async listEvents(sagaId: string): Promise<SagaEventRecord[]> {
    return structuredClone(this.#sagas.get(sagaId)?.events ?? [])
  }

  /** Test helper: stores a saga as it is given (e.g. as a crashed runner left it), owned by `owner` (null: none). */
  seed(saga: SagaInstance, owner: LeaseOwner | null, references: Stored['references'] = {}): void {
    this.#sagas.set(saga.id, {
      saga: { ...clone(saga), ...(owner ? { leaseEpoch: owner.epoch } : {}) }, ownerId: owner?.ownerId ?? null,
      leaseExpiresAt: owner ? this.#now() + this.leaseTtlMs : null, requestFingerprint: null, references: { ...references }, events: [],
    })
  }

  /** Test helper: lets a saga's lease expire now, as if its owner died. */
  expireLease(id: string): void {
    const stored = this.#sagas.get(id)
    if (stored) stored.leaseExpiresAt = this.#now() - 1
  }
}

function runs(definitions: readonly DefinitionRef[], saga: SagaInstance): boolean {
  return definitions.some((d) => d.type === saga.type && (d.version === saga.definitionVersion || saga.definitionVersion === LEGACY_VERSION))
}

function clone(saga: SagaInstance): SagaInstance {
  return structuredClone(saga)
}


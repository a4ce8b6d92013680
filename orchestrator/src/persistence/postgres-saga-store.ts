import type pg from 'pg'
import type { DomainEvent as PublishedEvent } from '../../../platform/events/domain-event.ts'
import { sql, type Sql } from '../../../platform/sql.ts'
import { isDatabaseUnavailable, isTransientConflict } from '../../../platform/database-errors.ts'
import { LeaseLostError, StoreUnavailableError } from '../engine/engine-errors.ts'
import type {
  AuditEntry, CreateResult, DefinitionRef, DomainEvent, LeaseOwner, NewSaga, Orphan, PendingRequests, SagaEventRecord, SagaQueries,
  SagaQuery, SagaRepository, SagaSummary, Transition,
} from '../engine/ports.ts'
import { ACTIVE_STATUSES, SAGA_STATUSES, TERMINAL_STATUSES, type SagaInstance, type SagaStatus } from '../engine/saga-instance.ts'
import { GroupCommit, type GroupCommitOptions, type Outcomes } from './group-commit.ts'
import { decodeCursor, encodeCursor } from './saga-cursor.ts'
import { SAGA_COLUMNS, type SagaRow, toInstance } from './saga-rows.ts'

export interface StoreOptions {
  /** How long a runner owns a saga without renewing. Default: 15000 ms */
  leaseTtlMs?: number
  /** See GroupCommitOptions. Default: 2 batches in flight, 64 transitions each */
  groupCommit?: GroupCommitOptions
  /** Called once a batch that wrote domain events to the outbox committed (nudges the relay). Default: none */
  onEventsCommitted?: () => void
}

const SAGAS = sql.identifier('orchestrator', 'sagas')
const EVENTS = sql.identifier('orchestrator', 'saga_events')
const OUTBOX = sql.identifier('orchestrator', 'outbox')

// The engine's event type (its port: the engine imports nothing outside itself) and the event
// kit's are one contract: this store writes the outbox rows the kit's relay publishes. A field
// one of them gains or loses fails the type check here, so the two cannot drift apart.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
const ONE_EVENT_SHAPE: Same<DomainEvent, PublishedEvent> = true
void ONE_EVENT_SHAPE
const COLUMNS = sql.raw(SAGA_COLUMNS)
const ACTIVE = [...ACTIVE_STATUSES]
const TERMINAL = [...TERMINAL_STATUSES]

/** A finished saga and the transition that finished it (see finishedNear). */
export interface FinishedSaga {
  saga: SagaInstance
  eventType: string
  stepName: string | undefined
}

/**
 * Sagas in Postgres, the source of truth, in one SQL style: statements written as `sql`
 * templates on the pg pool, the per-step ones as named prepared statements (parsed and planned
 * once per connection). A transition is committed — its row, its event log entry and its
 * domain events in one statement, with the transitions of other sagas that arrived meanwhile
 * (group commit) — before the runner sends the next command.
 */
export class PostgresSagaStore implements SagaRepository, SagaQueries {
  readonly leaseTtlMs: number
  readonly #onEventsCommitted: (() => void) | undefined
  readonly #groupCommit: GroupCommit<{ transition: Transition; owner: LeaseOwner }, PendingRequests>

  constructor(private readonly pool: pg.Pool, options: StoreOptions = {}) {
    this.leaseTtlMs = options.leaseTtlMs ?? 15_000
    this.#onEventsCommitted = options.onEventsCommitted
    this.#groupCommit = new GroupCommit((batch) => this.#writeTransitions(batch), ({ transition }) => transition.saga.id, options.groupCommit)
  }

  async #rows<T>(statement: Sql, name?: string): Promise<T[]> {
    return (await this.pool.query(name ? statement.named(name) : statement.query())).rows as T[]
  }

  async createSaga(draft: NewSaga, owner: LeaseOwner): Promise<CreateResult> {
    for (let attempt = 0; ; attempt++) {
      const result = await this.#insertSaga(draft, owner)
      // A FAILED saga does not keep its business key: the customer may try again (e.g. a
      // cancellation refused while a participant was down). Free the key once, then insert.
      if (result.created || result.matchedBy !== 'businessKey' || result.saga.status !== 'FAILED' || attempt > 0) return result
      await this.#rows(sql`UPDATE ${SAGAS} SET business_key = NULL WHERE id = ${result.saga.id}::uuid AND status = 'FAILED'`)
    }
  }

  async #insertSaga(draft: NewSaga, owner: LeaseOwner): Promise<CreateResult> {
    const { userId = null, bookingId = null, reservationId = null } = draft.references
    const inserted = await this.#rows<{ created_at: Date }>(sql`
      WITH inserted AS (
        INSERT INTO ${SAGAS} (id, type, definition_version, status, state, input, data, steps, version, start_key,
                              request_fingerprint, business_key, started_by, user_id, booking_id, reservation_id,
                              owner_id, lease_epoch, lease_expires_at, deadline_at, created_at, updated_at)
        VALUES (${draft.id}::uuid, ${draft.type}, ${draft.definitionVersion}, 'RUNNING', ${draft.state}, ${JSON.stringify(draft.input ?? null)}::jsonb,
                '{"results":{}}'::jsonb, '[]'::jsonb, 0, ${draft.startKey ?? null}, ${draft.requestFingerprint ?? null},
                ${draft.businessKey ?? null}, ${draft.startedBy ?? null}, ${userId}, ${bookingId}, ${reservationId},
                ${owner.ownerId}, ${owner.epoch}, now() + make_interval(secs => ${this.leaseTtlMs}::double precision / 1000),
                ${draft.deadlineAt}, now(), now())
        ON CONFLICT DO NOTHING
        RETURNING id, status, state, created_at
      ), event AS (
        INSERT INTO ${EVENTS} (saga_id, version, type, status, state) SELECT id, 0, 'SAGA_STARTED', status, state FROM inserted
      )
      SELECT created_at FROM inserted`, 'saga-create')
    // Built from what was written rather than read back: one statement per new saga.
    if (inserted[0]) return { saga: newInstance(draft, owner, inserted[0].created_at), created: true }
    for (const [matchedBy, column, value] of [['startKey', 'start_key', draft.startKey], ['businessKey', 'business_key', draft.businessKey]] as const) {
      if (!value) continue
      const [row] = await this.#rows<SagaRow & { request_fingerprint: string | null }>(
        sql`SELECT ${COLUMNS}, request_fingerprint FROM ${SAGAS} WHERE ${sql.identifier(column)} = ${value}`)
      if (row) return { saga: toInstance(row), created: false, matchedBy, requestFingerprint: row.request_fingerprint }
    }
    throw new Error(`Saga ${draft.id} was neither inserted nor found`)
  }

  /**
   * Persists a transition: through the group commit, with the transitions of other sagas that
   * arrive meanwhile, in one statement (see #writeTransitions).
   */
  recordTransition(transition: Transition, owner: LeaseOwner): Promise<PendingRequests> {
    return this.#groupCommit.submit({ transition, owner }).catch(asStoreError)
  }

  /**
   * ONE statement for a batch of transitions: the conditional update of each saga row (version,
   * lease owner and epoch must match: optimistic concurrency and fencing in one), the insert of
   * each applied transition into the event log and of its domain events into the outbox. A row
   * whose condition fails is not written, and its writer gets LeaseLostError; the others commit.
   */
  async #writeTransitions(batch: { transition: Transition; owner: LeaseOwner }[]): Promise<Outcomes<PendingRequests>> {
    // In id order: every statement that locks several saga rows (this one, the lease renewal)
    // takes them in the same order, so two of them never wait for each other (a deadlock).
    // (A batch holds one transition per saga, so no two ids are equal.)
    const ordered = [...batch].sort((a, b) => (a.transition.saga.id < b.transition.saga.id ? -1 : 1))
    const rows = ordered.map(({ transition: { saga, event, expectedVersion, stepName, references = {}, events = [] }, owner }) => ({
      id: saga.id,
      expected: expectedVersion,
      owner_id: owner.ownerId,
      epoch: owner.epoch,
      status: saga.status,
      state: saga.state,
      phase: saga.phase,
      cursor: saga.cursor,
      pivot_passed: saga.pivotPassed,
      data: { results: saga.results },
      steps: saga.steps,
      error: saga.error ?? null,
      compensation_error: saga.compensationError ?? null,
      incident: saga.incident ?? null,
      incident_code: saga.incident?.code ?? null,
      incident_step: saga.incident?.step ?? null,
      updated_at: saga.updatedAt,
      completed_at: saga.completedAt ?? null,
      booking_id: references.bookingId ?? null,
      reservation_id: references.reservationId ?? null,
      // A request is cleared only by the transition that honours it: one that arrives meanwhile
      // from another process must not be lost.
      clears_abort: event.type === 'ABORT_REQUESTED',
      clears_pause: event.type === 'PAUSED',
      // Only active sagas keep a lease: one that waits for an operator or is finished has no owner.
      releases: !ACTIVE.includes(saga.status),
      event_type: event.type,
      step: stepName ?? null,
      event_phase: 'phase' in event ? event.phase : event.type === 'STEP_SETTLED' ? 'forward' : null,
      detail: eventDetail(event) ?? null,
      events,
    }))
    const written = await this.#rows<{ id: string; abort_requested: boolean; pause_request: PendingRequests['pauseRequest'] | null }>(sql`
      WITH input AS (
        SELECT * FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS i(
          id uuid, expected int, owner_id text, epoch int, status text, state text, phase text, cursor int, pivot_passed boolean,
          data jsonb, steps jsonb, error jsonb, compensation_error jsonb, incident jsonb, incident_code text, incident_step text,
          updated_at timestamptz, completed_at timestamptz, booking_id text, reservation_id text, clears_abort boolean,
          clears_pause boolean, releases boolean, event_type text, step text, event_phase text, detail jsonb, events jsonb)
      ), updated AS (
        UPDATE ${SAGAS} s SET status = i.status, state = i.state, phase = i.phase, cursor = i.cursor, pivot_passed = i.pivot_passed,
               data = i.data, steps = i.steps, error = NULLIF(i.error, 'null'), compensation_error = NULLIF(i.compensation_error, 'null'),
               incident = NULLIF(i.incident, 'null'), incident_code = i.incident_code, incident_step = i.incident_step,
               version = i.expected + 1, updated_at = i.updated_at, completed_at = i.completed_at,
               booking_id = COALESCE(s.booking_id, i.booking_id), reservation_id = COALESCE(s.reservation_id, i.reservation_id),
               abort_requested = s.abort_requested AND NOT i.clears_abort,
               pause_request = CASE WHEN i.clears_pause THEN NULL ELSE s.pause_request END,
               owner_id = CASE WHEN i.releases THEN NULL ELSE s.owner_id END,
               -- The lease is left alone (the renewal loop extends it): a transition that changes
               -- no indexed column is a HOT update, with no new index entries to write.
               lease_expires_at = CASE WHEN i.releases THEN NULL ELSE s.lease_expires_at END
          FROM input i
         WHERE s.id = i.id AND s.version = i.expected AND s.lease_epoch = i.epoch AND s.owner_id = i.owner_id
         RETURNING s.id, s.abort_requested, s.pause_request
      ), event AS (
        INSERT INTO ${EVENTS} (saga_id, version, type, status, state, step, phase, detail, created_at)
        SELECT i.id, i.expected + 1, i.event_type, i.status, i.state, i.step, i.event_phase, NULLIF(i.detail, 'null'), i.updated_at
          FROM input i JOIN updated u ON u.id = i.id
      ), outbox AS (
        -- The domain events a transition makes true: committed with it, or not at all.
        INSERT INTO ${OUTBOX} (event_id, event_type, event_version, correlation_id, data, occurred_at)
        SELECT e."eventId", e."eventType", e."eventVersion", e."correlationId", e.data, e.timestamp
          FROM input i JOIN updated u ON u.id = i.id,
               jsonb_to_recordset(i.events) AS e("eventId" uuid, "eventType" text, "eventVersion" int, "correlationId" text, data jsonb, timestamp timestamptz)
      )
      SELECT id::text AS id, abort_requested, pause_request FROM updated`, 'saga-record-transitions')
    const byId = new Map(written.map((row) => [row.id, row]))
    if (this.#onEventsCommitted && batch.some(({ transition }) => transition.events?.length && byId.has(transition.saga.id))) this.#onEventsCommitted()
    return batch.map(({ transition }) => {
      const row = byId.get(transition.saga.id)
      return row ? requestsOf(row) : new LeaseLostError(transition.saga.id)
    })
  }

  async findSaga(id: string): Promise<SagaInstance | undefined> {
    const [row] = await this.#rows<SagaRow>(sql`SELECT ${COLUMNS} FROM ${SAGAS} WHERE id = ${id}::uuid`, 'saga-find')
    return row ? toInstance(row) : undefined
  }

  async pendingRequests(id: string): Promise<PendingRequests> {
    const [row] = await this.#rows<{ abort_requested: boolean; pause_request: PendingRequests['pauseRequest'] | null }>(
      sql`SELECT abort_requested, pause_request FROM ${SAGAS} WHERE id = ${id}::uuid`).catch(asStoreError)
    return row ? requestsOf(row) : { abortRequested: false }
  }

  async claimSaga(id: string, ownerId: string, options: { statuses?: readonly SagaStatus[]; force?: boolean } = {}): Promise<{ saga: SagaInstance; owner: LeaseOwner } | undefined> {
    const [row] = await this.#rows<SagaRow>(sql`
      UPDATE ${SAGAS} SET owner_id = ${ownerId}, lease_epoch = lease_epoch + 1,
             lease_expires_at = now() + make_interval(secs => ${this.leaseTtlMs}::double precision / 1000)
       WHERE id = ${id}::uuid AND status = ANY(${[...(options.statuses ?? ACTIVE)]}::text[])
         AND (${options.force ?? false} OR owner_id IS NULL OR lease_expires_at IS NULL OR lease_expires_at < now() OR owner_id = ${ownerId})
       RETURNING ${COLUMNS}`)
    return row ? { saga: toInstance(row), owner: { ownerId, epoch: row.lease_epoch } } : undefined
  }

  async renewLeases(ownerId: string, sagaIds: string[]): Promise<number> {
    // The rows locked in id order, as the transitions lock theirs (see #writeTransitions).
    const result = await this.pool.query(sql`
      UPDATE ${SAGAS} s SET lease_expires_at = now() + make_interval(secs => ${this.leaseTtlMs}::double precision / 1000)
        FROM (SELECT id FROM ${SAGAS} WHERE owner_id = ${ownerId} AND id = ANY(${sagaIds}::uuid[]) AND status = ANY(${ACTIVE}::text[])
               ORDER BY id FOR UPDATE) AS locked
       WHERE s.id = locked.id`.named('saga-renew-leases'))
    return result.rowCount ?? 0
  }

  async releaseLeases(ownerId: string): Promise<number> {
    const result = await this.pool.query(sql`
      UPDATE ${SAGAS} s SET lease_expires_at = now()
        FROM (SELECT id FROM ${SAGAS} WHERE owner_id = ${ownerId} AND status = ANY(${ACTIVE}::text[]) ORDER BY id FOR UPDATE) AS locked
       WHERE s.id = locked.id`.query())
    return result.rowCount ?? 0
  }

  async listOrphanedSagas(options: { olderThanMs?: number; limit?: number; definitions?: readonly DefinitionRef[] } = {}): Promise<Orphan[]> {
    const rows = await this.#rows<{ id: string; type: string; definition_version: string | null; status: SagaStatus; owner_id: string | null }>(sql`
      SELECT id::text AS id, type, definition_version, status, owner_id FROM ${SAGAS}
       WHERE status = ANY(${ACTIVE}::text[])
         AND (lease_expires_at IS NULL OR lease_expires_at < now())
         AND updated_at < now() - make_interval(secs => ${options.olderThanMs ?? 0}::double precision / 1000)
         AND ${options.definitions ? definitionFilter(options.definitions) : sql`true`}
       ORDER BY lease_expires_at NULLS FIRST LIMIT ${options.limit ?? 1000}`)
    return rows.map((row) => ({ id: row.id, type: row.type, definitionVersion: row.definition_version ?? 'legacy', status: row.status, ownerId: row.owner_id }))
  }

  async countOrphansOutside(definitions: readonly DefinitionRef[]): Promise<number> {
    const types = [...new Set(definitions.map((d) => d.type))]
    const [row] = await this.#rows<{ count: number }>(sql`
      SELECT count(*)::int AS count FROM ${SAGAS}
       WHERE status = ANY(${ACTIVE}::text[]) AND (lease_expires_at IS NULL OR lease_expires_at < now())
         AND type = ANY(${types}::text[]) AND NOT ${definitionFilter(definitions)}`)
    return row?.count ?? 0
  }

  async request(id: string, kind: 'abort' | 'pause', statuses: readonly SagaStatus[], audit: AuditEntry): Promise<boolean> {
    const change = kind === 'abort'
      ? sql`abort_requested = true`
      : sql`pause_request = ${JSON.stringify({ actor: audit.actor, ...(audit.reason ? { reason: audit.reason } : {}) })}::jsonb`
    const rows = await this.#rows<{ id: string }>(sql`
      WITH updated AS (
        UPDATE ${SAGAS} SET ${change}
         WHERE id = ${id}::uuid AND status = ANY(${[...statuses]}::text[]) ${kind === 'abort' ? sql`AND NOT pivot_passed` : sql``}
         RETURNING id, version, status, state
      ), audit AS (
        INSERT INTO ${EVENTS} (saga_id, version, type, status, state, detail)
        SELECT id, version, ${audit.type}, status, state, ${JSON.stringify(auditDetail(audit))}::jsonb FROM updated
      )
      SELECT id::text FROM updated`)
    return rows.length === 1
  }

  async appendAudit(id: string, audit: AuditEntry): Promise<void> {
    await this.#rows(sql`
      INSERT INTO ${EVENTS} (saga_id, version, type, status, state, detail)
      SELECT id, version, ${audit.type}, status, state, ${JSON.stringify(auditDetail(audit))}::jsonb FROM ${SAGAS} WHERE id = ${id}::uuid`)
  }

  // ---------------------------------------------------------------- support reads

  /**
   * Newest first, keyset-paginated on (created_at, id): the row comparison is an index bound,
   * so a page deep in a million sagas costs what the first one does. Reads only the columns a
   * result line shows, not the sagas' JSON documents.
   */
  async listSagas(query: SagaQuery): Promise<{ items: SagaSummary[]; nextCursor: string | null }> {
    const conditions: Sql[] = []
    if (query.status) conditions.push(sql`status = ${query.status}`)
    if (query.type) conditions.push(sql`type = ${query.type}`)
    if (query.userId) conditions.push(sql`user_id = ${query.userId}`)
    if (query.bookingId) conditions.push(sql`booking_id = ${query.bookingId}`)
    if (query.reservationId) conditions.push(sql`reservation_id = ${query.reservationId}`)
    if (query.incidentCode) conditions.push(sql`incident_code = ${query.incidentCode}`)
    if (query.step) conditions.push(sql`incident_step = ${query.step}`)
    if (query.startedBy) conditions.push(sql`started_by = ${query.startedBy}`)
    if (query.createdFrom) conditions.push(sql`created_at >= ${query.createdFrom}`)
    if (query.createdTo) conditions.push(sql`created_at < ${query.createdTo}`)
    if (query.cursor) {
      const after = decodeCursor(query.cursor)
      conditions.push(sql`(created_at, id) < (${after.createdAt}, ${after.id}::uuid)`)
    }
    const rows = await this.#rows<SagaSummary>(sql`
      SELECT id::text AS id, type, status, state, error, incident, user_id AS "userId", booking_id AS "bookingId",
             reservation_id AS "reservationId", created_at AS "createdAt", updated_at AS "updatedAt", completed_at AS "completedAt"
        FROM ${SAGAS} ${conditions.length ? sql`WHERE ${sql.join(conditions, ' AND ')}` : sql``}
       ORDER BY created_at DESC, id DESC LIMIT ${query.limit + 1}`)
    const items = rows.slice(0, query.limit)
    const last = items.at(-1)
    return { items, nextCursor: rows.length > query.limit && last ? encodeCursor(last.createdAt, last.id) : null }
  }

  async countByStatus(): Promise<Record<SagaStatus, number>> {
    const rows = await this.#rows<{ status: SagaStatus; count: number }>(sql`SELECT status, count(*)::int AS count FROM ${SAGAS} GROUP BY status`)
    const counts = Object.fromEntries(SAGA_STATUSES.map((status) => [status, 0])) as Record<SagaStatus, number>
    for (const row of rows) counts[row.status] = row.count
    return counts
  }

  async countIncidents(): Promise<Record<string, number>> {
    const rows = await this.#rows<{ code: string; count: number }>(sql`
      SELECT incident_code AS code, count(*)::int AS count FROM ${SAGAS} WHERE incident_code IS NOT NULL GROUP BY incident_code`)
    return Object.fromEntries(rows.map((row) => [row.code, row.count]))
  }

  /**
   * The finished sagas whose final transition is among the `span` entries either side of a
   * place in the event log: its end, or the last entry of any of `sagaIds` (sagas a stopped
   * orchestrator was driving, so about where it stopped). Those are the sagas an orchestrator
   * killed between a final commit and its mirror write may have left stale in Redis.
   */
  async finishedNear(options: { sagaIds?: readonly string[]; span?: number } = {}): Promise<FinishedSaga[]> {
    const span = options.span ?? 2_000
    const place = options.sagaIds
      ? sql`SELECT max(id) FROM ${EVENTS} WHERE saga_id = ANY(${[...options.sagaIds]}::uuid[])`
      : sql`SELECT max(id) FROM ${EVENTS}`
    const rows = await this.#rows<SagaRow & { final_type: string; final_step: string | null }>(sql`
      WITH finals AS (
        SELECT DISTINCT ON (e.saga_id) e.saga_id, e.type AS final_type, e.step AS final_step
          FROM ${EVENTS} e, (${place}) AS p(at)
         WHERE e.id BETWEEN p.at - ${span} AND p.at + ${span} AND e.status = ANY(${TERMINAL}::text[])
         ORDER BY e.saga_id, e.id DESC
      )
      SELECT ${COLUMNS}, final_type, final_step FROM ${SAGAS} JOIN finals ON finals.saga_id = id
       WHERE status = ANY(${TERMINAL}::text[])`)
    return rows.map((row) => ({ saga: toInstance(row), eventType: row.final_type, stepName: row.final_step ?? undefined }))
  }

  async listEvents(sagaId: string): Promise<SagaEventRecord[]> {
    return this.#rows<SagaEventRecord>(sql`
      SELECT version, type, status, state, step, phase, detail, created_at AS "createdAt"
        FROM ${EVENTS} WHERE saga_id = ${sagaId}::uuid ORDER BY id`)
  }
}

/** Sagas of one of these (type, version) pairs; legacy rows (no version) run on their type's current definition. */
function definitionFilter(definitions: readonly DefinitionRef[]): Sql {
  const types = definitions.map((d) => d.type)
  const versions = definitions.map((d) => d.version)
  return sql`((type, definition_version) IN (SELECT * FROM unnest(${types}::text[], ${versions}::text[]))
               OR (definition_version IS NULL AND type = ANY(${[...new Set(types)]}::text[])))`
}

function requestsOf(row: { abort_requested: boolean; pause_request: PendingRequests['pauseRequest'] | null }): PendingRequests {
  return { abortRequested: row.abort_requested, ...(row.pause_request ? { pauseRequest: row.pause_request } : {}) }
}

function auditDetail(audit: AuditEntry): Record<string, unknown> {
  return { actor: audit.actor, ...(audit.reason ? { reason: audit.reason } : {}), ...audit.detail }
}

function newInstance(draft: NewSaga, owner: LeaseOwner, createdAt: Date): SagaInstance {
  return {
    id: draft.id,
    type: draft.type,
    definitionVersion: draft.definitionVersion,
    status: 'RUNNING',
    state: draft.state,
    phase: 'forward',
    cursor: 0,
    pivotPassed: false,
    input: draft.input,
    results: {},
    steps: [],
    version: 0,
    leaseEpoch: owner.epoch,
    abortRequested: false,
    ...(draft.startedBy ? { startedBy: draft.startedBy } : {}),
    ...(draft.references.userId ? { userId: draft.references.userId } : {}),
    deadlineAt: draft.deadlineAt,
    createdAt,
    updatedAt: createdAt,
  }
}

/** What the event log keeps of an event beyond its type, step and phase. */
export function eventDetail(event: Transition['event']): Record<string, unknown> | undefined {
  switch (event.type) {
    case 'STEP_REJECTED':
    case 'STEP_EXHAUSTED':
    case 'STEP_RETRYING':
      return { error: event.error, attempts: event.attempts }
    case 'STEP_SUCCEEDED':
      return { attempts: event.attempts, ...(event.alreadyUndone ? { alreadyUndone: true } : {}) }
    case 'STEP_SETTLED':
      return { applied: event.applied, attempts: event.attempts }
    case 'DEADLINE_PASSED':
      return { fenceCursor: event.fenceCursor }
    case 'ABORT_REQUESTED':
    case 'PAUSED':
    case 'OPERATOR_RESUME':
    case 'OPERATOR_RETRY':
    case 'OPERATOR_SKIP':
    case 'OPERATOR_RESOLVE':
      return { ...(event.actor ? { actor: event.actor } : {}), ...(event.reason ? { reason: event.reason } : {}), ...('fenceCursor' in event ? { fenceCursor: event.fenceCursor } : {}) }
    default:
      return undefined
  }
}

/** An outage (platform/database-errors.ts) as the engine's StoreUnavailableError, which it retries; anything else as it is. */
function asStoreError(error: unknown): never {
  throw isDatabaseUnavailable(error) || isTransientConflict(error) ? new StoreUnavailableError(error) : error
}

import { poolOf, type PrismaClient } from '../../../platform/database.ts'
import { LeaseLostError } from '../engine/engine-errors.ts'
import type { LeaseOwner, RecordResult, SagaStore, Transition } from '../engine/ports.ts'
import type { SagaReferences } from '../engine/saga-definition.ts'
import { ACTIVE_STATUSES, type SagaFailure, type SagaInstance, type SagaStatus } from '../engine/saga-instance.ts'
import { toInstance } from './saga-rows.ts'

export interface NewSaga {
  id: string
  type: string
  state: string
  input: unknown
  deadlineAt: Date
  startKey?: string
  requestFingerprint?: string
  businessKey?: string
  references: SagaReferences
  /** The principal that asked for the saga (Principal.id); a client reads what it started. */
  startedBy?: string
}

export type CreateResult =
  | { saga: SagaInstance; created: true }
  /** An earlier saga holds the start key (a retried request) or the business key. */
  | { saga: SagaInstance; created: false; matchedBy: 'startKey' | 'businessKey'; requestFingerprint: string | null }

export interface SagaQuery {
  status?: SagaStatus
  type?: string
  userId?: string
  /** Sagas started by this principal (Principal.id). */
  startedBy?: string
  bookingId?: string
  reservationId?: string
  createdFrom?: Date
  createdTo?: Date
  limit: number
  /** Opaque cursor from a previous page. */
  cursor?: string
}

/** One line of a search result. */
export interface SagaSummaryRow {
  id: string
  type: string
  status: SagaStatus
  state: string
  error: SagaFailure | null
  userId: string | null
  bookingId: string | null
  reservationId: string | null
  createdAt: Date
  updatedAt: Date
  completedAt: Date | null
}

export interface StoreOptions {
  /** How long a runner owns a saga without renewing. Default: 15000 ms */
  leaseTtlMs?: number
}

const SAGAS = 'orchestrator.sagas'
const EVENTS = 'orchestrator.saga_events'

/**
 * Sagas in Postgres, the source of truth. Each transition is ONE statement: the conditional
 * update of the saga row (version and lease epoch must match: optimistic concurrency and
 * fencing in one) and the insert into the event log, committed atomically, before the runner
 * sends the next command.
 */
export class PrismaSagaStore implements SagaStore {
  readonly leaseTtlMs: number

  constructor(private readonly db: PrismaClient, options: StoreOptions = {}) {
    this.leaseTtlMs = options.leaseTtlMs ?? 15_000
  }

  /**
   * The per-step statements: on the client's pg pool when there is one (see poolOf), as named
   * prepared statements (parsed and planned once per connection, not once per step), else
   * through Prisma.
   */
  async #hot<T>(name: string, sql: string, ...values: unknown[]): Promise<T[]> {
    const pool = poolOf(this.db)
    if (pool) return (await pool.query({ name, text: sql, values })).rows as T[]
    return this.db.$queryRawUnsafe<T[]>(sql, ...values)
  }

  /** Inserts a saga owned by `owner`, unless its start key or business key exists already. */
  async createSaga(draft: NewSaga, owner: LeaseOwner): Promise<CreateResult> {
    for (let attempt = 0; ; attempt++) {
      const result = await this.#insertSaga(draft, owner)
      // A FAILED saga does not keep its business key: the customer may try again (e.g. a
      // cancellation refused while a participant was down). Free the key once, then insert.
      if (result.created || result.matchedBy !== 'businessKey' || result.saga.status !== 'FAILED' || attempt > 0) return result
      await this.db.saga.updateMany({ where: { id: result.saga.id, status: 'FAILED' }, data: { businessKey: null } })
    }
  }

  async #insertSaga(draft: NewSaga, owner: LeaseOwner): Promise<CreateResult> {
    const inserted = await this.#hot<{ created_at: Date }>('saga-create',
      `WITH inserted AS (
         INSERT INTO ${SAGAS} (id, type, status, state, input, data, steps, version, start_key, request_fingerprint,
                               business_key, user_id, booking_id, reservation_id, owner_id, lease_epoch, lease_expires_at,
                               deadline_at, started_by, created_at, updated_at)
         VALUES ($1::uuid, $2, 'RUNNING', $3, $4::jsonb, '{"results":{}}'::jsonb, '[]'::jsonb, 0, $5, $6, $7, $8, $9, $10,
                 $11, $12, now() + make_interval(secs => $13::double precision / 1000), $14, $15, now(), now())
         ON CONFLICT DO NOTHING
         RETURNING id, status, state, created_at
       ), event AS (
         INSERT INTO ${EVENTS} (saga_id, version, type, status, state) SELECT id, 0, 'SAGA_STARTED', status, state FROM inserted
       )
       SELECT created_at FROM inserted`,
      draft.id, draft.type, draft.state, JSON.stringify(draft.input ?? null), draft.startKey ?? null, draft.requestFingerprint ?? null,
      draft.businessKey ?? null, draft.references.userId ?? null, draft.references.bookingId ?? null, draft.references.reservationId ?? null,
      owner.ownerId, owner.epoch, this.leaseTtlMs, draft.deadlineAt, draft.startedBy ?? null)
    // Built from what was written rather than read back: one statement per new saga.
    if (inserted[0]) return { saga: newInstance(draft, owner, inserted[0].created_at), created: true }
    const byStartKey = draft.startKey ? await this.db.saga.findUnique({ where: { startKey: draft.startKey } }) : null
    if (byStartKey) return { saga: toInstance(byStartKey), created: false, matchedBy: 'startKey', requestFingerprint: byStartKey.requestFingerprint }
    const byBusinessKey = draft.businessKey ? await this.db.saga.findUnique({ where: { businessKey: draft.businessKey } }) : null
    if (byBusinessKey) return { saga: toInstance(byBusinessKey), created: false, matchedBy: 'businessKey', requestFingerprint: byBusinessKey.requestFingerprint }
    throw new Error(`Saga ${draft.id} was neither inserted nor found`)
  }

  async recordTransition({ saga, event, expectedVersion, stepName, references = {} }: Transition, owner: LeaseOwner): Promise<RecordResult> {
    // COMPENSATION_FAILED keeps no lease: it waits for an operator, not for a runner.
    const terminal = !ACTIVE_STATUSES.includes(saga.status)
    const step = stepName ?? null
    const phase = 'phase' in event ? event.phase : event.type === 'STEP_SETTLED' ? 'forward' : null
    const detail = eventDetail(event)
    const rows = await this.#hot<{ abort_requested: boolean }>('saga-record-transition',
      `WITH updated AS (
         UPDATE ${SAGAS} SET status = $3, state = $4, phase = $5, cursor = $6, pivot_passed = $7,
                data = $8::jsonb, steps = $9::jsonb, error = $10::jsonb, compensation_error = $11::jsonb,
                version = $2 + 1, updated_at = $12, completed_at = $13,
                booking_id = COALESCE(booking_id, $16), reservation_id = COALESCE(reservation_id, $17),
                owner_id = CASE WHEN $18 THEN NULL ELSE owner_id END,
                -- The lease is left alone (the renewal loop extends it): a transition that changes
                -- no indexed column is a HOT update, with no new index entries to write.
                lease_expires_at = CASE WHEN $18 THEN NULL ELSE lease_expires_at END
          WHERE id = $1::uuid AND version = $2 AND lease_epoch = $14 AND owner_id = $15
          RETURNING abort_requested
       ), event AS (
         INSERT INTO ${EVENTS} (saga_id, version, type, status, state, step, phase, detail, created_at)
         SELECT $1::uuid, $2 + 1, $19, $3, $4, $20, $21, $22::jsonb, $12 FROM updated
       )
       SELECT abort_requested FROM updated`,
      saga.id, expectedVersion, saga.status, saga.state, saga.phase, saga.cursor, saga.pivotPassed,
      JSON.stringify({ results: saga.results }), JSON.stringify(saga.steps),
      saga.error ? JSON.stringify(saga.error) : null, saga.compensationError ? JSON.stringify(saga.compensationError) : null,
      saga.updatedAt, saga.completedAt ?? null, owner.epoch, owner.ownerId,
      references.bookingId ?? null, references.reservationId ?? null, terminal,
      event.type, step, phase, detail ? JSON.stringify(detail) : null)
    if (!rows.length) throw new LeaseLostError(saga.id)
    return { abortRequested: rows[0]!.abort_requested }
  }

  async findSaga(id: string): Promise<SagaInstance | undefined> {
    const row = await this.db.saga.findUnique({ where: { id } })
    return row ? toInstance(row) : undefined
  }

  /**
   * Newest first, keyset-paginated on (created_at, id): the row comparison is an index bound,
   * so a page deep in a million sagas costs what the first one does. Reads only the columns a
   * result line shows, not the sagas' JSON documents.
   */
  async listSagas(query: SagaQuery): Promise<{ items: SagaSummaryRow[]; nextCursor: string | null }> {
    const conditions: string[] = []
    const values: unknown[] = []
    const where = (sql: string, value: unknown) => {
      values.push(value)
      conditions.push(sql.replace('?', `$${values.length}`))
    }
    if (query.status) where('status = ?', query.status)
    if (query.type) where('type = ?', query.type)
    if (query.userId) where('user_id = ?', query.userId)
    if (query.startedBy) where('started_by = ?', query.startedBy)
    if (query.bookingId) where('booking_id = ?', query.bookingId)
    if (query.reservationId) where('reservation_id = ?', query.reservationId)
    if (query.createdFrom) where('created_at >= ?', query.createdFrom)
    if (query.createdTo) where('created_at < ?', query.createdTo)
    if (query.cursor) {
      const after = decodeCursor(query.cursor)
      values.push(after.createdAt, after.id)
      conditions.push(`(created_at, id) < ($${values.length - 1}, $${values.length}::uuid)`)
    }
    values.push(query.limit + 1)
    const rows = await this.db.$queryRawUnsafe<SagaSummaryRow[]>(
      `SELECT id::text AS id, type, status, state, error, user_id AS "userId", booking_id AS "bookingId",
              reservation_id AS "reservationId", created_at AS "createdAt", updated_at AS "updatedAt", completed_at AS "completedAt"
         FROM ${SAGAS}${conditions.length ? ` WHERE ${conditions.join(' AND ')}` : ''}
        ORDER BY created_at DESC, id DESC LIMIT $${values.length}`, ...values)
    const items = rows.slice(0, query.limit)
    const last = items.at(-1)
    return { items, nextCursor: rows.length > query.limit && last ? encodeCursor(last.createdAt, last.id) : null }
  }

  async countByStatus(): Promise<Record<string, number>> {
    const groups = await this.db.saga.groupBy({ by: ['status'], _count: { _all: true } })
    return Object.fromEntries(groups.map((g) => [g.status, g._count._all]))
  }

  /** Flags a running saga for abort; its runner turns it back at its next write. */
  async requestAbort(id: string): Promise<boolean> {
    const updated = await this.db.saga.updateMany({
      where: { id, status: 'RUNNING', pivotPassed: false },
      data: { abortRequested: true },
    })
    return updated.count === 1
  }

  /**
   * Extends the leases of the given active sagas this owner holds (the ones its runners drive):
   * one statement per tick, not per saga.
   */
  async renewLeases(ownerId: string, sagaIds: string[]): Promise<number> {
    return this.db.$executeRawUnsafe(
      `UPDATE ${SAGAS} SET lease_expires_at = now() + make_interval(secs => $2::double precision / 1000)
        WHERE owner_id = $1 AND id = ANY($3::uuid[]) AND status IN ('RUNNING', 'COMPENSATING')`, ownerId, this.leaseTtlMs, sagaIds)
  }

  /** Lets every active saga this owner holds be taken over now (graceful shutdown). */
  async releaseLeases(ownerId: string): Promise<number> {
    return this.db.$executeRawUnsafe(
      `UPDATE ${SAGAS} SET lease_expires_at = now() WHERE owner_id = $1 AND status IN ('RUNNING', 'COMPENSATING')`, ownerId)
  }

  /**
   * Takes over one saga whose lease expired (or that has no owner): new owner, epoch + 1.
   * The old owner's next write fails its epoch check. `force` takes it even while leased
   * (operators resuming a saga no runner is driving).
   */
  async claimSaga(id: string, ownerId: string, options: { force?: boolean; statuses?: SagaStatus[] } = {}): Promise<{ saga: SagaInstance; owner: LeaseOwner } | undefined> {
    const statuses = options.statuses ?? ['RUNNING', 'COMPENSATING']
    const rows = await this.db.$queryRawUnsafe<{ lease_epoch: number }[]>(
      `UPDATE ${SAGAS} SET owner_id = $2, lease_epoch = lease_epoch + 1,
              lease_expires_at = now() + make_interval(secs => $3::double precision / 1000)
        WHERE id = $1::uuid AND status = ANY($4::text[])
          AND ($5 OR owner_id IS NULL OR lease_expires_at IS NULL OR lease_expires_at < now() OR owner_id = $2)
        RETURNING lease_epoch`, id, ownerId, this.leaseTtlMs, statuses, options.force ?? false)
    if (!rows.length) return undefined
    const saga = await this.findSaga(id)
    return saga ? { saga, owner: { ownerId, epoch: rows[0]!.lease_epoch } } : undefined
  }

  /** Active sagas whose owner stopped renewing: what recovery takes over. */
  /** `types`: only sagas of these types (those the caller can run). Default: every type. */
  async listOrphanedSagas(options: { olderThanMs?: number; limit?: number; types?: string[] } = {}): Promise<{ id: string; type: string; status: string; ownerId: string | null }[]> {
    return this.db.$queryRawUnsafe(
      `SELECT id::text AS id, type, status, owner_id AS "ownerId" FROM ${SAGAS}
        WHERE status IN ('RUNNING', 'COMPENSATING')
          AND (lease_expires_at IS NULL OR lease_expires_at < now())
          AND updated_at < now() - make_interval(secs => $1::double precision / 1000)
          AND ($3::text[] IS NULL OR type = ANY($3::text[]))
        ORDER BY lease_expires_at NULLS FIRST LIMIT $2`, options.olderThanMs ?? 0, options.limit ?? 1000, options.types ?? null)
  }
}

function newInstance(draft: NewSaga, owner: LeaseOwner, createdAt: Date): SagaInstance {
  return {
    id: draft.id,
    type: draft.type,
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
    deadlineAt: draft.deadlineAt,
    ...(draft.references.userId ? { userId: draft.references.userId } : {}),
    ...(draft.startedBy ? { startedBy: draft.startedBy } : {}),
    createdAt,
    updatedAt: createdAt,
  }
}

function eventDetail(event: Transition['event']): Record<string, unknown> | undefined {
  switch (event.type) {
    case 'STEP_REJECTED':
    case 'STEP_EXHAUSTED':
    case 'STEP_RETRYING':
      return { error: event.error, attempts: event.attempts }
    case 'STEP_SUCCEEDED':
      return { attempts: event.attempts }
    case 'STEP_SETTLED':
      return { applied: event.applied, attempts: event.attempts }
    default:
      return undefined
  }
}

export function encodeCursor(createdAt: Date, id: string): string {
  return Buffer.from(`${createdAt.toISOString()}|${id}`).toString('base64url')
}

const CURSOR_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/**
 * Reads a cursor made by encodeCursor; throws for anything else. Exactly what encodeCursor
 * writes is accepted (it must encode back to the same text), with a year Postgres can store:
 * a hand-made cursor with a dashes-only "uuid" or the year -200000 reached the query as a 500.
 */
export function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const [iso, id, ...rest] = Buffer.from(cursor, 'base64url').toString('utf8').split('|')
  const createdAt = new Date(iso ?? '')
  const year = createdAt.getUTCFullYear()
  if (rest.length || !id || !CURSOR_ID.test(id) || Number.isNaN(year) || year < 1 || year > 9999 || encodeCursor(createdAt, id) !== cursor) {
    throw new Error('invalid cursor')
  }
  return { createdAt, id }
}

import { createHash, randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import { canonicalJson } from '../../../platform/canonical-json.ts'
import { AppError } from '../../../platform/errors.ts'
import { InvalidCursorError, UnknownDefinitionError } from '../engine/engine-errors.ts'
import { type ActionInput, decideOperatorAction, type OperatorAction } from '../engine/operator-actions.ts'
import type { CommandTransport, EngineObserver, LeaseOwner, SagaEventRecord, SagaMirror, SagaQueries, SagaQuery, SagaRepository } from '../engine/ports.ts'
import { recoverPendingSagas, type RecoveryOptions, type RecoverySummary } from '../engine/recover-pending-sagas.ts'
import type { SagaDefinition, SagaLookup } from '../engine/saga-definition.ts'
import { isActive, type SagaInstance, type SagaStatus, WAITING_STATUSES } from '../engine/saga-instance.ts'
import type { SagaRegistry } from '../engine/saga-registry.ts'
import { buildTransition, SagaRunner } from '../engine/saga-runner.ts'
import { type SagaSummaryView, type SagaView, sagaSummary, sagaView } from './saga-view.ts'

/** Live saga views, pushed on every transition (the Redis mirror's channels). */
export interface SagaUpdates {
  /** False while updates cannot arrive: callers poll then. */
  readonly live: boolean
  subscribe(sagaId: string, listener: (view: string) => void): () => void
  close(): void
}

/** A cached copy of finished sagas' views (the Redis mirror), read before Postgres. */
export interface SagaViewCache {
  get(sagaId: string): Promise<SagaView | undefined>
}

export interface OrchestratorOptions {
  store: SagaRepository & SagaQueries
  registry: SagaRegistry
  transport: CommandTransport
  logger: Logger
  /** Default: none (Postgres alone is the truth). */
  mirror?: SagaMirror
  cache?: SagaViewCache
  updates?: SagaUpdates
  /** Identifies this process as a lease owner. Default: a fresh UUID per process. */
  instanceId?: string
  /** Lease length; renewed every third of it. Default: 15000 ms (`SAGA_LEASE_TTL_MS`) */
  leaseTtlMs?: number
  /** How often the background loop looks for orphaned sagas. Default: 5000 ms (`SAGA_RECOVERY_INTERVAL_MS`); 0 turns it off */
  recoveryIntervalMs?: number
  /** Counts takeovers and recovery passes. */
  onRecovery?: (trigger: string, summary: RecoverySummary) => void
  observer?: EngineObserver
}

export interface StartRequest {
  type: string
  input: unknown
  /** Client's Idempotency-Key; with `callerId` it names the saga for every retry of the request. */
  idempotencyKey?: string
  /** The principal's id: scopes the key, and is kept as the saga's `startedBy`. */
  callerId: string
}

export interface SearchQuery extends Omit<SagaQuery, 'cursor'> {
  cursor?: string
}

export type BulkFilter = Pick<SagaQuery, 'status' | 'type' | 'step' | 'incidentCode'>

export interface BulkResult {
  dryRun: boolean
  matched: number
  results: { sagaId: string; status: SagaStatus; outcome: 'done' | 'would-do' | 'refused'; code?: string; message?: string }[]
}

/** Statuses a start request waits to leave: a parked saga will not move without an operator. */
const UNSETTLED: ReadonlySet<SagaStatus> = new Set(['RUNNING', 'COMPENSATING'])
const UNFINISHED: readonly SagaStatus[] = ['RUNNING', 'COMPENSATING', 'PARKED', 'COMPENSATION_FAILED']
/** How long an abort or pause waits for the runner to honour it before answering. */
const REQUEST_WAIT_MS = 2_000
/** Most sagas one bulk action touches. */
export const MAX_BULK = 1_000

/**
 * The orchestrator's public operations, shared by the HTTP API and the CLI: start a saga, wait
 * for it, read and search sagas, and the operators' actions on them. HTTP routes and the CLI go
 * through this class only; the store, the runner and the registry stay behind it.
 */
export class Orchestrator {
  readonly instanceId: string
  readonly #store: SagaRepository & SagaQueries
  readonly #runner: SagaRunner
  readonly #registry: SagaRegistry
  readonly #logger: Logger
  readonly #cache: SagaViewCache | undefined
  readonly #updates: SagaUpdates | undefined
  /** Sagas this process drives, with the promise of their outcome. */
  readonly #driving = new Map<string, Promise<SagaInstance>>()
  readonly #leaseTtlMs: number
  #renewTimer: NodeJS.Timeout | undefined
  #recoveryTimer: NodeJS.Timeout | undefined
  #recovering: Promise<boolean> | undefined
  #bootRetry: NodeJS.Timeout | undefined
  #stopped = false
  readonly #recoveryIntervalMs: number
  readonly #onRecovery: OrchestratorOptions['onRecovery']
  readonly #observer: EngineObserver | undefined

  constructor(options: OrchestratorOptions) {
    this.#registry = options.registry
    this.instanceId = options.instanceId ?? randomUUID()
    this.#store = options.store
    this.#logger = options.logger
    this.#cache = options.cache
    this.#updates = options.updates
    this.#leaseTtlMs = options.leaseTtlMs ?? 15_000
    this.#recoveryIntervalMs = options.recoveryIntervalMs ?? 5_000
    this.#onRecovery = options.onRecovery
    this.#observer = options.observer
    this.#runner = new SagaRunner({
      registry: options.registry,
      store: options.store,
      transport: options.transport,
      ...(options.mirror ? { mirror: options.mirror } : {}),
      logger: options.logger,
      ...(options.observer ? { observer: options.observer } : {}),
    })
  }

  /** Number of sagas this process drives now. */
  get inFlight(): number {
    return this.#runner.inFlight
  }

  /** Saga types new sagas can start as. */
  sagaTypes(): string[] {
    return this.#registry.types()
  }

  /** The JSON schema a saga type's start request is validated against. */
  inputSchemaOf(type: string): Record<string, unknown> {
    return this.#registry.current(type).inputSchema ?? { type: 'object' }
  }

  // ---------------------------------------------------------------- background work

  /**
   * Renews the leases of the sagas this process drives, recovers orphaned sagas now (boot)
   * and then periodically, so sagas of a dead instance are taken over once their lease expires.
   */
  startBackgroundWork(): void {
    this.startLeaseRenewal()
    this.#recoverAtBoot(1_000)
    if (this.#recoveryIntervalMs > 0) {
      this.#recoveryTimer = setInterval(() => void this.recoverInBackground('interval'), this.#recoveryIntervalMs)
      this.#recoveryTimer.unref()
    }
  }

  /** Keeps the leases of the sagas this process drives alive (every third of their length). */
  startLeaseRenewal(): void {
    if (this.#renewTimer) return
    const every = Math.max(100, Math.floor(this.#leaseTtlMs / 3))
    this.#renewTimer = setInterval(() => {
      // Only the sagas a runner here drives now: one whose runner failed must lose its lease,
      // so recovery resumes it even while this process stays busy with other sagas.
      const driving = [...this.#driving.keys()]
      if (!driving.length) return
      this.#store.renewLeases(this.instanceId, driving).catch((err: unknown) => this.#logger.warn({ err }, 'lease renewal failed'))
    }, every)
    this.#renewTimer.unref()
  }

  /**
   * The boot pass, tried again with backoff until one succeeds (Postgres may still be coming
   * up): with the interval loop off, it is the only pass this process makes.
   */
  #recoverAtBoot(retryInMs: number): void {
    void this.recoverInBackground('boot').then((succeeded) => {
      if (succeeded || this.#stopped) return
      this.#bootRetry = setTimeout(() => this.#recoverAtBoot(Math.min(retryInMs * 2, 30_000)), retryInMs)
      this.#bootRetry.unref()
    })
  }

  /** One recovery pass that takes orphans over and drives them here, without waiting for them; resolves whether it ran. */
  recoverInBackground(trigger: string): Promise<boolean> {
    this.#recovering ??= this.recoverPendingSagas({ waitForOutcome: false, limit: 500 })
      .then((summary) => {
        this.#onRecovery?.(trigger, summary)
        if (summary.recovered) this.#logger.info({ trigger, ...summary, sagaIds: undefined }, 'took over orphaned sagas')
        if (summary.leftAlone) this.#logger.warn({ trigger, leftAlone: summary.leftAlone }, 'orphaned sagas of definition versions this orchestrator does not have are left alone')
        return true
      })
      .catch((err: unknown) => {
        this.#logger.warn({ err, trigger }, 'recovery pass failed')
        return false
      })
      .finally(() => { this.#recovering = undefined })
    return this.#recovering
  }

  /** See engine/recover-pending-sagas.ts: the recovery routine, driving sagas in this process. */
  recoverPendingSagas(options: RecoveryOptions = {}): Promise<RecoverySummary> {
    return recoverPendingSagas({
      store: {
        // A saga a runner here still drives is no orphan, even if its lease lapsed (the process
        // was paused): claiming it would bump the epoch under that runner, which would then
        // stop at its next write, and leave the saga to no one.
        listOrphanedSagas: async (query) => (await this.#store.listOrphanedSagas(query)).filter((orphan) => !this.#driving.has(orphan.id)),
        countOrphansOutside: (definitions) => this.#store.countOrphansOutside(definitions),
        claimSaga: (id, ownerId) => this.#store.claimSaga(id, ownerId),
      },
      // Only versions this orchestrator can run: another deployment's sagas are not ours to run.
      definitions: this.#registry.definitions(),
      ownerId: this.instanceId,
      drive: (saga, owner) => this.#drive(saga, owner, true),
    }, options)
  }

  /**
   * Stops driving sagas and hands their leases back, so another orchestrator takes them over
   * at its next recovery pass instead of after the lease would have expired.
   */
  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#bootRetry)
    clearInterval(this.#renewTimer)
    clearInterval(this.#recoveryTimer)
    await this.#recovering
    await this.#runner.stop()
    this.#updates?.close()
    await this.#store.releaseLeases(this.instanceId).catch((err: unknown) => this.#logger.warn({ err }, 'could not release leases'))
  }

  // ---------------------------------------------------------------- starting and waiting

  /**
   * Creates the saga and starts driving it. The same caller and key with the same input
   * return the saga created first (never a second one); with another input → 422.
   */
  async start(request: StartRequest): Promise<{ saga: SagaInstance; created: boolean }> {
    const definition = this.#registry.current(request.type)
    await definition.guard?.(request.input, this.#lookup)
    const id = randomUUID()
    const fingerprint = createHash('sha256').update(canonicalJson({ type: request.type, input: request.input })).digest('hex')
    const startKey = request.idempotencyKey ? `${request.callerId}:${request.idempotencyKey}` : undefined
    const businessKey = definition.businessKey?.(request.input)
    const owner: LeaseOwner = { ownerId: this.instanceId, epoch: 1 }
    const outcome = await this.#store.createSaga({
      id,
      type: request.type,
      definitionVersion: definition.version,
      state: definition.initialState,
      input: request.input,
      deadlineAt: new Date(Date.now() + definition.deadlineMs),
      ...(startKey ? { startKey } : {}),
      requestFingerprint: fingerprint,
      ...(businessKey ? { businessKey } : {}),
      startedBy: request.callerId,
      references: definition.references?.({ sagaId: id, input: request.input, results: {} }) ?? {},
    }, owner)
    const { saga } = outcome
    if (!outcome.created) {
      if (outcome.matchedBy === 'startKey' && outcome.requestFingerprint !== fingerprint) throw new AppError('IDEMPOTENCY_KEY_REUSED')
      return { saga, created: false }
    }
    this.#logger.info({ sagaId: saga.id, sagaType: saga.type, definitionVersion: saga.definitionVersion }, 'saga started')
    this.#observer?.started?.(saga)
    this.#drive(saga, owner, false)
    return { saga, created: true }
  }

  /** Resolves when the saga leaves RUNNING/COMPENSATING, or with its current state after `waitMs`. */
  async waitForOutcome(sagaId: string, waitMs: number): Promise<SagaInstance | undefined> {
    const until = Date.now() + waitMs
    const local = this.#driving.get(sagaId)
    if (local && waitMs > 0) {
      let timer: NodeJS.Timeout | undefined
      const settled = await Promise.race([
        local.then((saga) => saga, () => undefined),
        new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), waitMs) }),
      ]).finally(() => clearTimeout(timer))
      if (settled && !UNSETTLED.has(settled.status)) return settled
    }
    // Driven elsewhere (another instance, or a duplicate request): poll the source of truth.
    return this.#pollStore(sagaId, until, 100, (saga) => !UNSETTLED.has(saga.status))
  }

  /** Reads the saga from the store every `everyMs` until `done` holds or `until` passes; the last read. */
  async #pollStore(sagaId: string, until: number, everyMs: number, done: (saga: SagaInstance) => boolean): Promise<SagaInstance | undefined> {
    for (;;) {
      const saga = await this.#store.findSaga(sagaId)
      if (!saga || done(saga) || Date.now() >= until) return saga
      await delay(Math.min(everyMs, Math.max(0, until - Date.now())))
    }
  }

  /** Result fields of a completed saga (contract: `...result`). */
  resultOf(saga: SagaInstance): Record<string, unknown> {
    const definition = this.#registry.find(saga.type, saga.definitionVersion) ?? this.#registry.current(saga.type)
    return definition.result({ sagaId: saga.id, input: saga.input, results: saga.results })
  }

  // ---------------------------------------------------------------- support reads

  /**
   * The saga as support staff see it. A finished saga (COMPLETED or FAILED never change again)
   * comes from the mirror; one still moving comes from Postgres, the truth, because the mirror
   * may be a step behind, or far behind after a Redis outage.
   */
  async getSagaView(sagaId: string): Promise<SagaView | undefined> {
    const cached = await this.#cache?.get(sagaId)
    if (cached && (cached.status === 'COMPLETED' || cached.status === 'FAILED')) return cached
    const saga = await this.#store.findSaga(sagaId)
    return saga ? this.viewOf(saga) : undefined
  }

  viewOf(saga: SagaInstance): SagaView {
    return sagaView(saga, this.#registry.find(saga.type, saga.definitionVersion))
  }

  async getSaga(sagaId: string): Promise<SagaInstance> {
    const saga = await this.#store.findSaga(sagaId)
    if (!saga) throw new AppError('SAGA_NOT_FOUND')
    return saga
  }

  /** Search, newest first; a cursor this API did not hand out is a 400. */
  async listSagas(query: SearchQuery): Promise<{ items: SagaSummaryView[]; nextCursor: string | null }> {
    try {
      const page = await this.#store.listSagas(query)
      return { items: page.items.map(sagaSummary), nextCursor: page.nextCursor }
    } catch (error) {
      if (error instanceof InvalidCursorError) throw new AppError('VALIDATION_FAILED', 'cursor is not one this API returned')
      throw error
    }
  }

  /** Sagas per status (every status, zeros included) and waiting sagas per incident code. */
  async stats(): Promise<{ counts: Record<SagaStatus, number>; incidents: Record<string, number> }> {
    const [counts, incidents] = await Promise.all([this.#store.countByStatus(), this.#store.countIncidents()])
    return { counts, incidents }
  }

  /** The saga's event log: every transition and every operator request, oldest first. */
  async events(sagaId: string): Promise<SagaEventRecord[]> {
    await this.getSaga(sagaId)
    return this.#store.listEvents(sagaId)
  }

  /** Live views of a saga, or undefined when no live channel exists (poll then). */
  watch(sagaId: string, listener: (view: string) => void): (() => void) | undefined {
    return this.#updates?.subscribe(sagaId, listener)
  }

  get liveUpdates(): boolean {
    return this.#updates?.live ?? false
  }

  // ---------------------------------------------------------------- operator actions

  /**
   * Performs an operator action on one saga (decided by engine/operator-actions.ts) and answers
   * the saga as it is right after. Every action is in the saga's event log with its actor and
   * reason. A refusal is an AppError naming what is possible instead.
   */
  async act(sagaId: string, action: OperatorAction, input: ActionInput, options: { waitMs?: number } = {}, decideAgain = true): Promise<SagaInstance> {
    const saga = await this.getSaga(sagaId)
    const definition = this.#definitionOf(saga)
    const decision = decideOperatorAction(definition, saga, action, input)
    const audit = { type: `OPERATOR_${action.toUpperCase()}`, actor: input.actor, ...(input.reason ? { reason: input.reason } : {}) }
    switch (decision.kind) {
      case 'refused':
        throw new AppError(decision.code, decision.message)
      case 'request': {
        const statuses: SagaStatus[] = decision.request === 'abort' ? ['RUNNING'] : ['RUNNING', 'COMPENSATING']
        if (!(await this.#store.request(sagaId, decision.request, statuses, audit))) {
          // It moved on between the read and the request (past its pivot, say): decide again, once.
          if (decideAgain) return this.act(sagaId, action, input, options, false)
          throw new AppError('SAGA_BUSY', 'The saga changed while the action was being taken')
        }
        this.#logger.info({ sagaId, action, actor: input.actor, reason: input.reason }, 'operator request recorded')
        if (this.#driving.has(sagaId)) this.#runner.wake(sagaId)
        else await this.#takeOverIfOrphaned(sagaId)
        // Answered with the saga once its runner honoured the request (it parks or turns back
        // at its next decision, at once unless it is inside a participant's call): the caller
        // sees what the action did, not only that it was accepted.
        return this.#whenHonoured(sagaId, decision.request, options.waitMs ?? REQUEST_WAIT_MS)
      }
      case 'take-over': {
        if (this.#driving.has(sagaId)) throw new AppError('SAGA_BUSY', 'This orchestrator is driving the saga right now')
        const claimed = await this.#store.claimSaga(sagaId, this.instanceId)
        if (!claimed) throw new AppError('SAGA_BUSY', 'A live runner drives this saga')
        await this.#store.appendAudit(sagaId, audit)
        this.#logger.info({ sagaId, action, actor: input.actor }, 'saga taken over by an operator')
        void this.#drive(claimed.saga, claimed.owner, true)
        return claimed.saga
      }
      case 'event': {
        const claimed = await this.#store.claimSaga(sagaId, this.instanceId, { statuses: WAITING_STATUSES })
        if (!claimed) throw new AppError('SAGA_BUSY', 'Another operator or runner took this saga a moment ago')
        // Decided again on the claimed copy: what was read before the claim may be stale.
        const fresh = decideOperatorAction(definition, claimed.saga, action, input)
        if (fresh.kind !== 'event') throw new AppError('SAGA_BUSY', 'The saga changed while the action was being taken')
        const transition = buildTransition(definition, claimed.saga, fresh.event, new Date())
        const next = transition.saga
        await this.#store.recordTransition(transition, claimed.owner)
        this.#logger.info({ sagaId, action, actor: input.actor, reason: input.reason, status: next.status }, 'operator action applied')
        if (isActive(next.status)) void this.#drive(next, claimed.owner, false)
        return next
      }
    }
  }

  /** One action on every saga matching `filter` (at most MAX_BULK); a dry run only says what it would do. */
  async bulk(action: OperatorAction, filter: BulkFilter, input: ActionInput, dryRun: boolean): Promise<BulkResult> {
    const matched: { id: string; status: SagaStatus }[] = []
    let cursor: string | undefined
    do {
      const page = await this.#store.listSagas({ ...filter, limit: 200, ...(cursor ? { cursor } : {}) })
      matched.push(...page.items.map((item) => ({ id: item.id, status: item.status })))
      cursor = page.nextCursor ?? undefined
    } while (cursor && matched.length < MAX_BULK)
    const results: BulkResult['results'] = []
    for (const { id, status } of matched.slice(0, MAX_BULK)) {
      if (dryRun) {
        const saga = await this.#store.findSaga(id)
        const definition = saga && this.#registry.find(saga.type, saga.definitionVersion)
        const decision = saga && definition ? decideOperatorAction(definition, saga, action, input) : { kind: 'refused' as const, code: 'SAGA_DEFINITION_UNKNOWN', message: 'definition version not deployed here' }
        results.push(decision.kind === 'refused'
          ? { sagaId: id, status, outcome: 'refused', code: decision.code, message: decision.message }
          : { sagaId: id, status, outcome: 'would-do' })
        continue
      }
      try {
        // One saga after the other, without waiting for each request to be honoured.
        const after = await this.act(id, action, input, { waitMs: 0 })
        results.push({ sagaId: id, status: after.status, outcome: 'done' })
      } catch (error) {
        if (!(error instanceof AppError)) throw error
        results.push({ sagaId: id, status, outcome: 'refused', code: error.code, message: error.message })
      }
    }
    return { dryRun, matched: matched.length, results }
  }

  readonly #lookup: SagaLookup = {
    findUnfinished: async ({ type, bookingId, reservationId }) => {
      for (const status of UNFINISHED) {
        const { items } = await this.#store.listSagas({ type, status, limit: 1, ...(bookingId ? { bookingId } : {}), ...(reservationId ? { reservationId } : {}) })
        if (items[0]) return items[0].id
      }
      return undefined
    },
  }

  #definitionOf(saga: SagaInstance): SagaDefinition<any> {
    const definition = this.#registry.find(saga.type, saga.definitionVersion)
    if (!definition) throw new AppError('SAGA_DEFINITION_UNKNOWN', `The saga started on ${saga.type} version ${saga.definitionVersion}, which this orchestrator does not have: act on it from one that does`)
    return definition
  }

  /** The saga once its runner honoured an abort (it left RUNNING) or a pause (it parked), or after `waitMs`. */
  async #whenHonoured(sagaId: string, request: 'abort' | 'pause', waitMs: number): Promise<SagaInstance> {
    // Polled more often than an outcome: the runner honours a request within one of its steps.
    const saga = await this.#pollStore(sagaId, Date.now() + waitMs, 25, (current) =>
      request === 'abort' ? current.status !== 'RUNNING' || !current.abortRequested : !current.pauseRequest)
    if (!saga) throw new AppError('SAGA_NOT_FOUND')
    return saga
  }

  /** A request on a saga whose owner died is honoured here: take it over and drive it. */
  async #takeOverIfOrphaned(sagaId: string): Promise<void> {
    const claimed = await this.#store.claimSaga(sagaId, this.instanceId)
    if (claimed) void this.#drive(claimed.saga, claimed.owner, true)
  }

  #drive(saga: SagaInstance, owner: LeaseOwner, takenOver: boolean): Promise<SagaInstance> {
    const existing = this.#driving.get(saga.id)
    if (existing) return existing
    const run = this.#runner.drive(saga, owner, takenOver)
    this.#driving.set(saga.id, run)
    run.then((final) => {
      this.#logger.info({ sagaId: saga.id, status: final.status, state: final.state }, 'saga settled')
    }, (err: unknown) => {
      if (err instanceof UnknownDefinitionError) {
        this.#logger.warn({ sagaId: saga.id, sagaType: saga.type, definitionVersion: saga.definitionVersion }, 'saga left alone: its definition version is not deployed here')
        return
      }
      // The saga stays as last recorded; its lease expires and recovery picks it up.
      this.#logger.error({ err, sagaId: saga.id }, 'saga runner failed; recovery will resume it')
    }).finally(() => this.#driving.delete(saga.id))
    return run
  }
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

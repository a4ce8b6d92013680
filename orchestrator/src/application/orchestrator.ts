import { createHash, randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { PrismaClient } from '../../../platform/database.ts'
import { canonicalJson } from '../../../platform/canonical-json.ts'
import { AppError } from '../../../platform/errors.ts'
import type { Redis } from '../../../platform/redis.ts'
import { applyEvent } from '../engine/decide.ts'
import type { CommandTransport, EngineObserver, LeaseOwner } from '../engine/ports.ts'
import { recoverPendingSagas, type RecoveryOptions, type RecoverySummary } from '../engine/recover-pending-sagas.ts'
import { isTerminal, type SagaInstance } from '../engine/saga-instance.ts'
import type { SagaRegistry } from '../engine/saga-registry.ts'
import { SagaRunner } from '../engine/saga-runner.ts'
import { PrismaSagaStore, type SagaQuery } from '../persistence/prisma-saga-store.ts'
import { RedisSagaMirror, SAGA_KEY } from '../persistence/redis-saga-mirror.ts'
import { type SagaView, sagaView } from './saga-view.ts'

export interface OrchestratorOptions {
  db: PrismaClient
  /** Mirror and fast status reads. Optional: Postgres alone is the truth. */
  redis?: Redis | undefined
  registry: SagaRegistry
  transport: CommandTransport
  logger: Logger
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

/** Statuses a start request waits to leave. */
const UNSETTLED = new Set(['RUNNING', 'COMPENSATING'])

/**
 * The orchestrator's public operations, shared by the HTTP API and the CLI: start a saga,
 * wait for it, read and search sagas, retry and abort them.
 */
export class Orchestrator {
  readonly store: PrismaSagaStore
  readonly runner: SagaRunner
  readonly registry: SagaRegistry
  readonly instanceId: string
  readonly #redis: Redis | undefined
  readonly #logger: Logger
  /** Sagas this process drives, with the promise of their outcome. */
  readonly #driving = new Map<string, Promise<SagaInstance>>()
  #renewTimer: NodeJS.Timeout | undefined
  #recoveryTimer: NodeJS.Timeout | undefined
  #recovering: Promise<unknown> | undefined
  readonly #recoveryIntervalMs: number
  readonly #onRecovery: OrchestratorOptions['onRecovery']
  readonly #observer: EngineObserver | undefined

  constructor(options: OrchestratorOptions) {
    this.registry = options.registry
    this.instanceId = options.instanceId ?? randomUUID()
    this.#redis = options.redis
    this.#logger = options.logger
    this.store = new PrismaSagaStore(options.db, { leaseTtlMs: options.leaseTtlMs ?? 15_000 })
    this.#recoveryIntervalMs = options.recoveryIntervalMs ?? 5_000
    this.#onRecovery = options.onRecovery
    this.#observer = options.observer
    this.runner = new SagaRunner({
      registry: options.registry,
      store: this.store,
      transport: options.transport,
      ...(options.redis ? { mirror: new RedisSagaMirror(options.redis, { onError: (err) => this.#logger.debug({ err }, 'redis mirror write failed') }) } : {}),
      logger: options.logger,
      ...(options.observer ? { observer: options.observer } : {}),
    })
  }

  /**
   * Renews the leases of the sagas this process drives, recovers orphaned sagas now (boot)
   * and then periodically, so sagas of a dead instance are taken over once their lease expires.
   */
  startBackgroundWork(): void {
    this.startLeaseRenewal()
    void this.recoverInBackground('boot')
    if (this.#recoveryIntervalMs > 0) {
      this.#recoveryTimer = setInterval(() => void this.recoverInBackground('interval'), this.#recoveryIntervalMs)
      this.#recoveryTimer.unref()
    }
  }

  /** Keeps the leases of the sagas this process drives alive (every third of their length). */
  startLeaseRenewal(): void {
    if (this.#renewTimer) return
    const every = Math.max(200, Math.floor(this.store.leaseTtlMs / 3))
    this.#renewTimer = setInterval(() => {
      // Only the sagas a runner here drives now: one whose runner failed must lose its lease,
      // so recovery resumes it even while this process stays busy with other sagas.
      const driving = [...this.#driving.keys()]
      if (!driving.length) return
      this.store.renewLeases(this.instanceId, driving).catch((err) => this.#logger.warn({ err }, 'lease renewal failed'))
    }, every)
    this.#renewTimer.unref()
  }

  /** One recovery pass that takes orphans over and drives them here, without waiting for them. */
  recoverInBackground(trigger: string): Promise<unknown> {
    this.#recovering ??= this.recoverPendingSagas({ waitForOutcome: false, limit: 500 })
      .then((summary) => {
        this.#onRecovery?.(trigger, summary)
        if (summary.recovered) this.#logger.info({ trigger, ...summary, sagaIds: undefined }, 'took over orphaned sagas')
      })
      .catch((err) => this.#logger.warn({ err, trigger }, 'recovery pass failed'))
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
        // Only types this orchestrator can run: another deployment's sagas are not ours to fail.
        listOrphanedSagas: async (query) => (await this.store.listOrphanedSagas({ ...query, types: this.registry.types() }))
          .filter((orphan) => !this.#driving.has(orphan.id)),
        claimSaga: (id, ownerId) => this.store.claimSaga(id, ownerId),
      },
      ownerId: this.instanceId,
      drive: (saga, owner) => this.#drive(saga, owner, true),
    }, options)
  }

  /**
   * Stops driving sagas and hands their leases back, so another orchestrator takes them over
   * at its next recovery pass instead of after the lease would have expired.
   */
  async stop(): Promise<void> {
    clearInterval(this.#renewTimer)
    clearInterval(this.#recoveryTimer)
    await this.#recovering
    await this.runner.stop()
    await this.store.releaseLeases(this.instanceId).catch((err) => this.#logger.warn({ err }, 'could not release leases'))
  }

  /**
   * Creates the saga and starts driving it. The same caller and key with the same input
   * return the saga created first (never a second one); with another input → 422.
   */
  async start(request: StartRequest): Promise<{ saga: SagaInstance; created: boolean }> {
    const definition = this.registry.get(request.type)
    const id = randomUUID()
    const fingerprint = createHash('sha256').update(canonicalJson({ type: request.type, input: request.input })).digest('hex')
    const startKey = request.idempotencyKey ? `${request.callerId}:${request.idempotencyKey}` : undefined
    const businessKey = definition.businessKey?.(request.input)
    const owner: LeaseOwner = { ownerId: this.instanceId, epoch: 1 }
    const outcome = await this.store.createSaga({
      id,
      type: request.type,
      state: definition.initialState,
      input: request.input,
      deadlineAt: new Date(Date.now() + definition.deadlineMs),
      ...(startKey ? { startKey } : {}),
      requestFingerprint: fingerprint,
      ...(businessKey ? { businessKey } : {}),
      references: definition.references?.({ sagaId: id, input: request.input, results: {} }) ?? {},
      startedBy: request.callerId,
    }, owner)
    const { saga } = outcome
    if (!outcome.created) {
      if (outcome.matchedBy === 'startKey' && outcome.requestFingerprint !== fingerprint) throw new AppError('IDEMPOTENCY_KEY_REUSED')
      return { saga, created: false }
    }
    this.#logger.info({ sagaId: saga.id, sagaType: saga.type }, 'saga started')
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
    for (;;) {
      const saga = await this.store.findSaga(sagaId)
      if (!saga || !UNSETTLED.has(saga.status) || Date.now() >= until) return saga
      await delay(Math.min(100, Math.max(0, until - Date.now())))
    }
  }

  /**
   * The saga as support staff see it. A finished saga (COMPLETED or FAILED never change again)
   * comes from the Redis mirror; one still moving comes from Postgres, the truth, because the
   * mirror may be a step behind, or far behind after a Redis outage.
   */
  async getSagaView(sagaId: string): Promise<SagaView | undefined> {
    if (this.#redis?.status === 'ready') {
      const cached = await this.#redis.get(SAGA_KEY(sagaId)).catch(() => null)
      const view = cached ? (JSON.parse(cached) as SagaView) : undefined
      if (view && isTerminal(view.status)) return view
    }
    const saga = await this.store.findSaga(sagaId)
    return saga ? sagaView(saga) : undefined
  }

  async getSaga(sagaId: string): Promise<SagaInstance> {
    const saga = await this.store.findSaga(sagaId)
    if (!saga) throw new AppError('SAGA_NOT_FOUND')
    return saga
  }

  listSagas(query: SagaQuery) {
    return this.store.listSagas(query)
  }

  /** Result fields of a completed saga (contract: `...result`). */
  resultOf(saga: SagaInstance): Record<string, unknown> {
    return this.registry.get(saga.type).result({ sagaId: saga.id, input: saga.input, results: saga.results })
  }

  /**
   * Resumes a saga: a COMPENSATION_FAILED one compensates again from where it stopped; a
   * RUNNING or COMPENSATING one that no live runner drives is taken over and driven on.
   */
  async retry(sagaId: string): Promise<SagaInstance> {
    const saga = await this.getSaga(sagaId)
    if (isTerminal(saga.status)) throw new AppError('SAGA_NOT_RETRIABLE', `The saga is ${saga.status}: there is nothing left to retry`)
    if (this.#driving.has(sagaId)) throw new AppError('SAGA_BUSY', 'This orchestrator is driving the saga right now')
    const claimed = await this.store.claimSaga(sagaId, this.instanceId, { statuses: ['COMPENSATION_FAILED', 'RUNNING', 'COMPENSATING'] })
    if (!claimed) throw new AppError('SAGA_BUSY')
    let current = claimed.saga
    if (current.status === 'COMPENSATION_FAILED') {
      const definition = this.registry.get(current.type)
      const resumed = applyEvent(definition, current, { type: 'RESUME_REQUESTED' }, new Date())
      resumed.version = current.version + 1
      await this.store.recordTransition({ saga: resumed, event: { type: 'RESUME_REQUESTED' }, expectedVersion: current.version }, claimed.owner)
      current = resumed
    }
    this.#logger.info({ sagaId, status: current.status }, 'saga resumed by an operator')
    this.#drive(current, claimed.owner, true)
    return current
  }

  /**
   * Asks a RUNNING saga that has not passed its pivot to compensate now. Its runner turns it
   * back at its next step; one whose owner died is taken over here.
   */
  async abort(sagaId: string): Promise<SagaInstance> {
    const saga = await this.getSaga(sagaId)
    if (!(await this.store.requestAbort(sagaId))) {
      throw new AppError('SAGA_NOT_ABORTABLE', saga.pivotPassed && saga.status === 'RUNNING'
        ? 'The saga is past its point of no return (the payment went through)'
        : `The saga is ${saga.status}`)
    }
    if (!this.#driving.has(sagaId)) {
      const claimed = await this.store.claimSaga(sagaId, this.instanceId)
      if (claimed) this.#drive(claimed.saga, claimed.owner, true)
    }
    this.#logger.info({ sagaId }, 'abort requested by an operator')
    return this.getSaga(sagaId)
  }

  #drive(saga: SagaInstance, owner: LeaseOwner, resumed: boolean): Promise<SagaInstance> {
    const existing = this.#driving.get(saga.id)
    if (existing) return existing
    const run = this.runner.drive(saga, owner, resumed)
    this.#driving.set(saga.id, run)
    run.then((final) => {
      this.#logger.info({ sagaId: saga.id, status: final.status, state: final.state }, 'saga settled')
    }, (err) => {
      // The saga stays as last recorded; its lease expires and recovery picks it up.
      this.#logger.error({ err, sagaId: saga.id }, 'saga runner failed; recovery will resume it')
    }).finally(() => this.#driving.delete(saga.id))
    return run
  }
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

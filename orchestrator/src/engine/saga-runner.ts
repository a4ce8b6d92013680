import { randomUUID } from 'node:crypto'
import { classifyFence, classifyReply } from './classify.ts'
import { afterAttempt, applyEvent, commandKey, findRecord, type Mode, nextAction, shouldYield } from './decide.ts'
import { LeaseLostError, StoreUnavailableError, UnknownDefinitionError } from './engine-errors.ts'
import type { Clock, CommandTransport, DomainEvent, EngineObserver, LeaseOwner, PendingRequests, SagaMirror, SagaRepository, Transition } from './ports.ts'
import { backoffDelay, hasAttemptsLeft, STORE_RETRY } from './retry-policy.ts'
import type { SagaDefinition } from './saga-definition.ts'
import { isActive, isWaiting, type Incident, type Phase, type SagaEvent, type SagaInstance } from './saga-instance.ts'
import type { SagaRegistry } from './saga-registry.ts'

export interface EngineLogger {
  info(details: object, message: string): void
  warn(details: object, message: string): void
  error(details: object, message: string): void
}

export interface SagaRunnerOptions {
  registry: SagaRegistry
  store: Pick<SagaRepository, 'recordTransition' | 'pendingRequests'>
  transport: CommandTransport
  /** Default: no mirror. */
  mirror?: SagaMirror
  /** Default: the system clock, setTimeout and Math.random. */
  clock?: Clock
  /** Default: silent. */
  logger?: EngineLogger
  observer?: EngineObserver
}

export const systemClock: Clock = {
  now: () => new Date(),
  random: Math.random,
  sleep: (ms, signal) => new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const onAbort = () => { clearTimeout(timer); resolve() }
    // The listener goes when the timer fires: a step retried for hours must not pile up a
    // listener per attempt on a long-lived signal.
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  }),
}

const silent: EngineLogger = { info() {}, warn() {}, error() {} }

interface Run {
  promise: Promise<SagaInstance>
  /** Wakes the run from a retry's sleep (an operator asked for something). */
  wake: AbortController
}

/**
 * Drives sagas: asks `nextAction` what to do, performs it (sending commands and fences,
 * retrying by `afterAttempt`), and records every outcome through the store before taking the
 * next step. The only part of the engine that does I/O, and only through its ports: every
 * rule lives in decide.ts, this class only performs.
 */
export class SagaRunner {
  readonly #options: Required<Omit<SagaRunnerOptions, 'mirror' | 'observer'>> & Pick<SagaRunnerOptions, 'mirror' | 'observer'>
  /** Sagas this process is driving now: one runner per saga per process. */
  readonly #running = new Map<string, Run>()
  readonly #stopping = new AbortController()

  constructor(options: SagaRunnerOptions) {
    this.#options = { clock: systemClock, logger: silent, ...options }
  }

  /** Number of sagas being driven by this process. */
  get inFlight(): number {
    return this.#running.size
  }

  isRunning(sagaId: string): boolean {
    return this.#running.has(sagaId)
  }

  /** The ids of the sagas this process drives now. */
  runningIds(): string[] {
    return [...this.#running.keys()]
  }

  /** Ends a retry's sleep early, so the runner reads what an operator asked for now. */
  wake(sagaId: string): void {
    this.#running.get(sagaId)?.wake.abort()
  }

  /**
   * Drives a saga until it is terminal, waits for an operator, or is owned by someone else.
   * `takenOver`: the saga comes from another owner, whose last command may be in flight.
   * Rejects with UnknownDefinitionError when this process does not have the saga's version.
   */
  drive(saga: SagaInstance, owner: LeaseOwner, takenOver = false): Promise<SagaInstance> {
    const existing = this.#running.get(saga.id)
    if (existing) return existing.promise
    const run: Run = { wake: new AbortController(), promise: undefined as never }
    run.promise = this.#drive(saga, owner, takenOver, run).finally(() => this.#running.delete(saga.id))
    this.#running.set(saga.id, run)
    return run.promise
  }

  /** Stops sleeping between retries and lets running sagas end at their next write. */
  async stop(): Promise<void> {
    this.#stopping.abort()
    await Promise.allSettled([...this.#running.values()].map((run) => run.promise))
  }

  async #drive(saga: SagaInstance, owner: LeaseOwner, takenOver: boolean, run: Run): Promise<SagaInstance> {
    const definition = this.#options.registry.find(saga.type, saga.definitionVersion)
    if (!definition) throw new UnknownDefinitionError(saga.id, saga.type, saga.definitionVersion)
    let current = saga
    let options = { takenOver }
    try {
      for (;;) {
        if (this.#stopping.signal.aborted) return current
        const action = nextAction(definition, current, this.#options.clock.now(), options)
        options = { takenOver: false }
        switch (action.type) {
          case 'none':
            return current
          case 'pause':
            current = await this.#commit(definition, current, { type: 'PAUSED', actor: current.pauseRequest!.actor, ...(current.pauseRequest!.reason ? { reason: current.pauseRequest!.reason } : {}) }, owner)
            break
          case 'expire':
            current = await this.#commit(definition, current, { type: 'DEADLINE_PASSED', fenceCursor: action.fenceCursor }, owner)
            break
          case 'abort':
            current = await this.#commit(definition, current, { type: 'ABORT_REQUESTED', fenceCursor: action.fenceCursor }, owner)
            break
          case 'invoke':
          case 'compensate':
          case 'settle':
            current = await this.#perform(definition, current, action.step, action.type, owner, run)
            break
        }
      }
    } catch (error) {
      if (error instanceof LeaseLostError) {
        this.#options.logger.warn({ sagaId: saga.id }, 'saga taken over by another runner; this one stops')
        return current
      }
      throw error
    }
  }

  /** Attempts one step, retrying by its policy, and records the outcome. */
  async #perform(definition: SagaDefinition<any>, saga: SagaInstance, index: number, mode: Mode, owner: LeaseOwner, run: Run): Promise<SagaInstance> {
    const { clock, transport, observer } = this.#options
    const step = definition.steps[index]!
    const phase: Phase = mode === 'compensate' ? 'compensation' : 'forward'
    // A settle asks about the forward command, by its participant and key.
    const command = (mode === 'compensate' ? step.compensate! : step.invoke)({ sagaId: saga.id, input: saga.input, results: saga.results })
    const previous = findRecord(saga, step.name, phase)
    const metadata = {
      idempotencyKey: commandKey(saga.id, step.name, phase, previous?.generation),
      sagaId: saga.id,
      sagaType: saga.type,
      step: step.name,
      timeoutMs: step.timeoutMs,
    }
    const startedAt = previous?.status === 'RETRYING' ? new Date(previous.startedAt) : clock.now()
    let attempts = previous && previous.status !== 'SUCCEEDED' ? previous.attempts : 0
    let current = saga

    for (let made = 1; ; made++) {
      attempts++
      const began = performance.now()
      const outcome = mode === 'settle'
        ? classifyFence(await transport.fence(command.participant, metadata), command.participant)
        : classifyReply(await transport.send(command, metadata), command.participant, mode === 'compensate' ? step.alreadyUndone : undefined)
      observer?.stepAttempt?.({ saga: current, step: step.name, phase, outcome: outcome.kind, durationMs: performance.now() - began })

      const decision = afterAttempt(definition, index, mode, outcome, { attempts, made, startedAt, random: clock.random() })
      current = await this.#commit(definition, current, decision.event, owner)
      if (decision.type === 'record') return current

      this.#options.logger.warn({ sagaId: saga.id, step: step.name, phase, attempts, delayMs: decision.delayMs, error: 'error' in decision.event ? decision.event.error : undefined }, 'step failed; retrying')
      if (shouldYield(definition, current, index, clock.now())) return current
      await clock.sleep(decision.delayMs, AbortSignal.any([this.#stopping.signal, run.wake.signal]))
      if (this.#stopping.signal.aborted) return current
      if (run.wake.signal.aborted) run.wake = new AbortController()
      // An operator may have asked for something while this runner slept (maybe elsewhere).
      current = { ...current, ...toInstanceRequests(await this.#storeCall(() => this.#options.store.pendingRequests(current.id))) }
      if (shouldYield(definition, current, index, clock.now())) return current
    }
  }

  /**
   * A store call retried while the store is unreachable (StoreUnavailableError: a dropped
   * connection, a pool that could not connect during a Postgres restart), so a blink of the
   * database does not abandon the saga; any other error (a refused statement: a bug) goes
   * through at once. Safe for writes: each is conditional on the saga's version, so one that committed
   * before its answer was lost fails the retry with LeaseLostError, and the runner stops and
   * leaves the saga to recovery, as for any takeover. Gives up after STORE_RETRY's budget.
   */
  async #storeCall<T>(call: () => Promise<T>): Promise<T> {
    for (let made = 1; ; made++) {
      try {
        return await call()
      } catch (error) {
        if (!(error instanceof StoreUnavailableError) || !hasAttemptsLeft(STORE_RETRY, made) || this.#stopping.signal.aborted) throw error
        this.#options.logger.warn({ error: String(error), attempt: made }, 'saga store call failed; retrying')
        await this.#options.clock.sleep(backoffDelay(STORE_RETRY, made, this.#options.clock.random()), this.#stopping.signal)
      }
    }
  }

  async #commit(definition: SagaDefinition<any>, saga: SagaInstance, event: SagaEvent, owner: LeaseOwner): Promise<SagaInstance> {
    const transition = buildTransition(definition, saga, event, this.#options.clock.now())
    const next = transition.saga
    const requests = await this.#storeCall(() => this.#options.store.recordTransition(transition, owner))
    Object.assign(next, toInstanceRequests(requests))
    // The mirror is one connection, so transitions reach it in order. Only the last one is
    // awaited: a status read after the saga's answer then sees it, and the steps before it
    // did not wait for Redis. (It fails fast when Redis is down.)
    const mirrored = Promise.resolve(this.#options.mirror?.publish(transition))
      .catch((error: unknown) => this.#options.logger.warn({ sagaId: next.id, error: String(error) }, 'mirror write failed'))
    if (!isActive(next.status)) await mirrored
    this.#options.observer?.transition?.({ saga: next, event, ...(transition.stepName ? { stepName: transition.stepName } : {}) })
    if (isWaiting(next.status) && next.incident && !isWaiting(saga.status)) {
      const incident: Incident = next.incident
      this.#options.logger.error({ sagaId: next.id, status: next.status, incident }, 'saga waits for an operator')
      this.#options.observer?.incident?.({ ...next, incident })
    }
    return next
  }
}

/**
 * A saga's next transition to record: the saga after the event at the next version, the step it
 * is about, the ids support staff search by, and the domain events a completion makes true.
 * The runner and the operators' actions record transitions built here alike.
 */
export function buildTransition(definition: SagaDefinition<any>, saga: SagaInstance, event: SagaEvent, now: Date): Transition {
  const next = applyEvent(definition, saga, event, now)
  next.version = saga.version + 1
  const index = 'step' in event ? event.step : Math.max(0, Math.min(saga.cursor, definition.steps.length - 1))
  return {
    saga: next,
    event,
    expectedVersion: saga.version,
    stepName: definition.steps[index]!.name,
    ...(definition.references ? { references: definition.references({ sagaId: next.id, input: next.input, results: next.results }) } : {}),
    ...(definition.onCompleted && next.status === 'COMPLETED' && saga.status !== 'COMPLETED' ? { events: domainEventsOf(definition, next) } : {}),
  }
}

/** The facts a saga's completion makes true, as outbox entries correlated with the saga. */
export function domainEventsOf(definition: SagaDefinition<any>, saga: SagaInstance): DomainEvent[] {
  const completedAt = saga.completedAt ?? saga.updatedAt
  return definition.onCompleted!({ sagaId: saga.id, input: saga.input, results: saga.results, completedAt }).map((draft) => ({
    eventId: randomUUID(),
    eventType: draft.type,
    eventVersion: draft.version ?? 1,
    timestamp: completedAt.toISOString(),
    correlationId: saga.id,
    data: draft.data,
  }))
}

function toInstanceRequests(requests: PendingRequests): Pick<SagaInstance, 'abortRequested' | 'pauseRequest'> {
  return { abortRequested: requests.abortRequested, pauseRequest: requests.pauseRequest }
}

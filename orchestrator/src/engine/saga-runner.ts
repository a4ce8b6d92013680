import { applyEvent, findRecord, nextAction, type SagaEvent } from './decide.ts'
import { LeaseLostError } from './engine-errors.ts'
import type { Clock, CommandTransport, EngineObserver, LeaseOwner, SagaMirror, SagaStore, Transition } from './ports.ts'
import { backoffDelay, hasAttemptsLeft } from './retry-policy.ts'
import type { SagaDefinition } from './saga-definition.ts'
import { ACTIVE_STATUSES, type Phase, type SagaInstance, type StepError } from './saga-instance.ts'
import type { SagaRegistry } from './saga-registry.ts'

export interface EngineLogger {
  info(details: object, message: string): void
  warn(details: object, message: string): void
  error(details: object, message: string): void
}

export interface SagaRunnerOptions {
  registry: SagaRegistry
  store: SagaStore
  transport: CommandTransport
  /** Default: no mirror. */
  mirror?: SagaMirror
  /** Default: the system clock, setTimeout and Math.random. */
  clock?: Clock
  /** Default: silent. */
  logger?: EngineLogger
  observer?: EngineObserver
}

type Mode = 'invoke' | 'compensate' | 'settle'

export const systemClock: Clock = {
  now: () => new Date(),
  random: Math.random,
  sleep: (ms, signal) => new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const onAbort = () => { clearTimeout(timer); resolve() }
    // The listener goes when the timer fires: every sleep shares the runner's one signal, and
    // a step retried for hours must not pile up a listener per attempt.
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  }),
}

const silent: EngineLogger = { info() {}, warn() {}, error() {} }

/**
 * Drives sagas: asks `nextAction` what to do, performs it (sending commands, retrying by
 * policy), and records every outcome through the store before taking the next step. The
 * only part of the engine that does I/O, and only through its ports.
 */
export class SagaRunner {
  readonly #options: Required<Omit<SagaRunnerOptions, 'mirror' | 'observer'>> & Pick<SagaRunnerOptions, 'mirror' | 'observer'>
  /** Sagas this process is driving now: one runner per saga per process. */
  readonly #running = new Map<string, Promise<SagaInstance>>()
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

  /**
   * Drives a saga until it is terminal, parked, or owned by someone else. `resumed`: the
   * saga was taken over, so the command of its current step may be in flight: it is re-sent
   * with its original key before anything else.
   */
  drive(saga: SagaInstance, owner: LeaseOwner, resumed = false): Promise<SagaInstance> {
    const existing = this.#running.get(saga.id)
    if (existing) return existing
    const run = this.#drive(saga, owner, resumed).finally(() => this.#running.delete(saga.id))
    this.#running.set(saga.id, run)
    return run
  }

  /** Stops sleeping between retries and lets running sagas end at their next write. */
  async stop(): Promise<void> {
    this.#stopping.abort()
    await Promise.allSettled([...this.#running.values()])
  }

  async #drive(saga: SagaInstance, owner: LeaseOwner, resumed: boolean): Promise<SagaInstance> {
    const definition = this.#options.registry.get(saga.type)
    let current = saga
    let checkDeadline = !resumed
    try {
      for (;;) {
        if (this.#stopping.signal.aborted) return current
        const action = nextAction(definition, current, this.#options.clock.now(), { checkDeadline })
        checkDeadline = true
        switch (action.type) {
          case 'none':
            return current
          case 'expire':
            current = await this.#commit(definition, current, { type: 'DEADLINE_PASSED' }, owner)
            break
          case 'abort':
            current = await this.#commit(definition, current, { type: 'ABORT_REQUESTED' }, owner)
            break
          case 'invoke':
            current = await this.#perform(definition, current, action.step, 'invoke', owner)
            break
          case 'compensate':
            current = await this.#perform(definition, current, action.step, 'compensate', owner)
            break
          case 'settle':
            current = await this.#perform(definition, current, action.step, 'settle', owner)
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

  /** Attempts one step by its policy and records the outcome. */
  async #perform(definition: SagaDefinition<any>, saga: SagaInstance, index: number, mode: Mode, owner: LeaseOwner): Promise<SagaInstance> {
    const { clock, transport, logger, observer } = this.#options
    const step = definition.steps[index]!
    const phase: Phase = mode === 'compensate' ? 'compensation' : 'forward'
    const build = mode === 'compensate' ? step.compensate! : step.invoke
    const command = build({ sagaId: saga.id, input: saga.input, results: saga.results })
    // Deterministic: a command re-sent after a crash, or to settle an unknown outcome, is a
    // replay at the participant.
    const idempotencyKey = `${saga.id}:${step.name}:${phase}`
    const policy = mode === 'invoke' ? step.retry : step.compensationRetry
    const previous = findRecord(saga, step.name, phase)
    const startedAt = previous?.status === 'RETRYING' ? new Date(previous.startedAt) : clock.now()
    let attempts = previous && previous.status !== 'SUCCEEDED' ? previous.attempts : 0
    let current = saga

    for (let made = 1; ; made++) {
      attempts++
      const began = performance.now()
      const outcome = await transport.send(command, { idempotencyKey, sagaId: saga.id, sagaType: saga.type, step: step.name, timeoutMs: step.timeoutMs })
      observer?.stepAttempt?.({ saga: current, step: step.name, phase, outcome: outcome.kind, durationMs: performance.now() - began })

      if (outcome.kind === 'success') {
        const event: SagaEvent = mode === 'settle'
          ? { type: 'STEP_SETTLED', step: index, applied: true, result: outcome.body, attempts, startedAt }
          : { type: 'STEP_SUCCEEDED', step: index, phase, result: mode === 'invoke' ? outcome.body : undefined, attempts, startedAt }
        return this.#commit(definition, current, event, owner)
      }
      if (outcome.kind === 'rejected') {
        if (mode === 'settle') {
          // Refused now, so it was not applied before (a replay would have returned the original answer).
          return this.#commit(definition, current, { type: 'STEP_SETTLED', step: index, applied: false, attempts, startedAt }, owner)
        }
        if (mode === 'invoke' && step.kind !== 'retriable') {
          return this.#commit(definition, current, { type: 'STEP_REJECTED', step: index, error: outcome.error, attempts, startedAt }, owner)
        }
        // An undo or a post-pivot step cannot take no for an answer: retry it like a transient failure.
      }

      const error = outcome.error
      const turnBack = mode === 'invoke' && step.kind === 'compensatable' ? this.#reasonToTurnBack(current, definition) : undefined
      if (turnBack || !hasAttemptsLeft(policy, made)) {
        const reason: StepError = turnBack ?? (mode === 'invoke'
          ? { code: 'PARTICIPANT_UNAVAILABLE', message: `${command.participant} did not answer ${step.name} within ${attempts} attempts: ${error.message}`, participant: command.participant, ...(error.status ? { status: error.status } : {}) }
          : error)
        if (mode === 'compensate' || mode === 'settle') {
          logger.error({ sagaId: saga.id, step: step.name, error }, 'compensation failed past its retry budget; the saga needs an operator')
        }
        const exhausted = await this.#commit(definition, current, { type: 'STEP_EXHAUSTED', step: index, phase, error: reason, lastError: error, attempts, startedAt }, owner)
        if (exhausted.status === 'COMPENSATION_FAILED') observer?.compensationFailed?.(exhausted)
        return exhausted
      }

      // Recorded so that support staff see the saga is still working on it, and why.
      current = await this.#commit(definition, current, { type: 'STEP_RETRYING', step: index, phase, error, attempts, startedAt }, owner)
      const delay = backoffDelay(policy, made, clock.random(), outcome.kind === 'transient' ? outcome.retryAfterMs : undefined)
      logger.warn({ sagaId: saga.id, step: step.name, phase, attempts, delayMs: delay, error }, 'step failed; retrying')
      await clock.sleep(delay, this.#stopping.signal)
      if (this.#stopping.signal.aborted) return current
    }
  }

  /** Between retries of an undoable step: has the deadline passed, or an abort come in? */
  #reasonToTurnBack(saga: SagaInstance, definition: SagaDefinition<any>): StepError | undefined {
    if (saga.abortRequested) return { code: 'SAGA_ABORTED', message: 'An operator aborted the saga' }
    if (this.#options.clock.now().getTime() > saga.deadlineAt.getTime()) {
      return { code: 'SAGA_TIMEOUT', message: `The saga passed its deadline of ${definition.deadlineMs} ms` }
    }
    return undefined
  }

  async #commit(definition: SagaDefinition<any>, saga: SagaInstance, event: SagaEvent, owner: LeaseOwner): Promise<SagaInstance> {
    const next = applyEvent(definition, saga, event, this.#options.clock.now())
    next.version = saga.version + 1
    const transition: Transition = {
      saga: next,
      event,
      expectedVersion: saga.version,
      ...('step' in event ? { stepName: definition.steps[event.step]!.name } : {}),
      ...(definition.references ? { references: definition.references({ sagaId: next.id, input: next.input, results: next.results }) } : {}),
    }
    const { abortRequested } = await this.#options.store.recordTransition(transition, owner)
    next.abortRequested = abortRequested
    // The mirror is one connection, so transitions reach it in order. Only the last one is
    // awaited: a status read after the saga's answer then sees it, and the steps before it
    // did not wait for Redis. (It fails fast when Redis is down.)
    const mirrored = Promise.resolve(this.#options.mirror?.publish(transition))
      .catch((error: unknown) => this.#options.logger.warn({ sagaId: next.id, error: String(error) }, 'mirror write failed'))
    if (!ACTIVE_STATUSES.includes(next.status)) await mirrored
    this.#options.observer?.transition?.({ saga: next, event, ...(transition.stepName ? { stepName: transition.stepName } : {}) })
    return next
  }
}

import { expect } from 'vitest'
import { classifyFence, classifyReply } from '../../orchestrator/src/engine/classify.ts'
import { afterAttempt, applyEvent, nextAction } from '../../orchestrator/src/engine/decide.ts'
import { decideOperatorAction, type OperatorAction } from '../../orchestrator/src/engine/operator-actions.ts'
import type { Command, SagaDefinition } from '../../orchestrator/src/engine/saga-definition.ts'
import { domainEventsOf } from '../../orchestrator/src/engine/saga-runner.ts'
import type { SagaEvent, SagaInstance, SagaStatus } from '../../orchestrator/src/engine/saga-instance.ts'

/**
 * A saga's decisions as a script, with no database, no HTTP and no runner: given the saga →
 * expect the command it sends → given the participant's answer → expect the next command, or
 * the undo, or where it ends (eventuate-tram-sagas' style). Every step goes through the same
 * pure functions the runner uses: nextAction, classifyReply/classifyFence, afterAttempt,
 * applyEvent.
 */
export function sagaScript<Input>(definition: SagaDefinition<Input>, input: Input, options: { now?: Date; sagaId?: string } = {}) {
  const now = options.now ?? new Date('2030-01-01T09:00:00Z')
  let saga: SagaInstance = {
    id: options.sagaId ?? 'saga-under-test', type: definition.type, definitionVersion: definition.version, status: 'RUNNING',
    state: definition.initialState, phase: 'forward', cursor: 0, pivotPassed: false, input, results: {}, steps: [], version: 0,
    leaseEpoch: 1, abortRequested: false, deadlineAt: new Date(now.getTime() + definition.deadlineMs), createdAt: now, updatedAt: now,
  }
  let attempts = 0
  let made = 0

  const pending = () => {
    let action = nextAction(definition, saga, now)
    // What the runner records without a command: a turn back on abort or deadline, a pause.
    while (action.type === 'abort' || action.type === 'expire' || action.type === 'pause') {
      apply(action.type === 'abort' ? { type: 'ABORT_REQUESTED', fenceCursor: action.fenceCursor }
        : action.type === 'expire' ? { type: 'DEADLINE_PASSED', fenceCursor: action.fenceCursor }
          : { type: 'PAUSED', actor: saga.pauseRequest!.actor })
      action = nextAction(definition, saga, now)
    }
    if (action.type !== 'invoke' && action.type !== 'compensate' && action.type !== 'settle') {
      throw new Error(`the saga sends nothing now (${action.type}); it is ${saga.status}`)
    }
    const step = definition.steps[action.step]!
    const build = action.type === 'compensate' ? step.compensate! : step.invoke
    return { action, step, command: build({ sagaId: saga.id, input: saga.input as Input, results: saga.results }) }
  }

  const apply = (event: SagaEvent) => {
    saga = { ...applyEvent(definition, saga, event, now), version: saga.version + 1 }
  }

  const script = {
    /** The forward command the saga sends now. */
    expectCommand(expected: Partial<Command>) {
      const { action, command } = pending()
      expect(action.type, `expected a forward command, the saga ${action.type}s`).toBe('invoke')
      expect(command).toMatchObject(expected)
      return script
    },
    /** The undo the saga sends now. */
    expectUndo(expected: Partial<Command>) {
      const { action, command } = pending()
      expect(action.type, `expected an undo, the saga ${action.type}s`).toBe('compensate')
      expect(command).toMatchObject(expected)
      return script
    },
    /** The fence the saga asks now, about the step's forward command at this participant. */
    expectFence(participant: string, step: string) {
      const { action, command, step: current } = pending()
      expect(action.type, `expected a fence, the saga ${action.type}s`).toBe('settle')
      expect({ participant: command.participant, step: current.name }).toEqual({ participant, step })
      return script
    },
    /** The participant answers the command (or the fence) the saga sent. */
    answer(status: number, body: unknown = {}) {
      const { action, step, command } = pending()
      attempts++
      made++
      const reply = { kind: 'answer' as const, status, body }
      const outcome = action.type === 'settle'
        ? classifyFence(reply, command.participant)
        : classifyReply(reply, command.participant, action.type === 'compensate' ? step.alreadyUndone : undefined)
      const decision = afterAttempt(definition, action.step, action.type, outcome, { attempts, made, startedAt: now, random: 0.5 })
      apply(decision.event)
      if (decision.type === 'record') attempts = made = 0
      return script
    },
    /** Answers with a business error in the contract's shape. */
    reject(status: number, code: string) {
      return script.answer(status, { error: { code, message: `${code} (scripted)` } })
    },
    /** The participant does not answer at all (a timeout), `times` attempts in a row. */
    noAnswer(times = 1) {
      for (let i = 0; i < times; i++) script.answer(503, { error: { code: 'SERVICE_UNAVAILABLE', message: 'down' } })
      return script
    },
    /** An operator acts (through the same pure decision the application uses). */
    operator(action: OperatorAction, input: { reason?: string; result?: unknown } = {}) {
      const decision = decideOperatorAction(definition, saga, action, { actor: 'operator:test', ...input })
      if (decision.kind !== 'event') throw new Error(`${action} is not an event now: ${JSON.stringify(decision)}`)
      apply(decision.event)
      return script
    },
    /** An operator asks for an abort: the saga's next decision turns back (settling what is in doubt). */
    requestAbort() {
      saga = { ...saga, abortRequested: true }
      return script
    },
    expectStatus(status: SagaStatus, details: object = {}) {
      expect(saga).toMatchObject({ status, ...details })
      return script
    },
    /** The domain events its completion writes to the outbox (none before it completes). */
    get events() {
      return saga.status === 'COMPLETED' && definition.onCompleted ? domainEventsOf(definition, saga) : []
    },
    /** The saga as it stands. */
    get saga(): SagaInstance {
      return saga
    },
  }
  return script
}

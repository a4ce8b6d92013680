import { describe, expect, it } from 'vitest'
import { applyEvent } from './decide.ts'
import { availableActions, decideOperatorAction, type OperatorAction } from './operator-actions.ts'
import { defineSaga } from './saga-definition.ts'
import type { Incident, SagaEvent, SagaInstance } from './saga-instance.ts'

// What an operator may do, decided from the saga alone: an event, a request for the runner,
// a take-over, or a refusal that names what to do instead.

const command = (path: string) => () => ({ participant: 'p', method: 'POST' as const, path })
const saga = defineSaga({
  type: 'ops-trip',
  deadlineMs: 60_000,
  steps: [
    { name: 'reserve', kind: 'compensatable', state: 'RESERVED', invoke: command('/reserve'), compensate: command('/release') },
    { name: 'pay', kind: 'pivot', state: 'PAID', invoke: command('/pay') },
    { name: 'confirm', kind: 'retriable', state: 'CONFIRMED', invoke: command('/confirm') },
    { name: 'notify', kind: 'retriable', critical: false, state: 'NOTIFIED', invoke: command('/notify') },
  ],
  result: () => ({}),
})
const RESERVE = 0
const PAY = 1
const CONFIRM = 2
const T0 = new Date('2030-01-01T00:00:00Z')
const actor = { actor: 'operator:ann', reason: 'because' }

function instance(overrides: Partial<SagaInstance> = {}): SagaInstance {
  return {
    id: 's-1', type: saga.type, definitionVersion: saga.version, status: 'RUNNING', state: 'STARTED', phase: 'forward', cursor: RESERVE,
    pivotPassed: false, input: {}, results: {}, steps: [], version: 3, leaseEpoch: 1, abortRequested: false,
    deadlineAt: new Date(T0.getTime() + 60_000), createdAt: T0, updatedAt: T0, ...overrides,
  }
}
const incident = (overrides: Partial<Incident> = {}): Incident => ({ step: 'confirm', phase: 'forward', kind: 'rejected', code: 'VALIDATION_FAILED', message: 'no', attempts: 1, since: T0.toISOString(), ...overrides })
const parkedAfterPivot = instance({ status: 'PARKED', cursor: CONFIRM, pivotPassed: true, incident: incident() })
const pausedBeforePivot = instance({ status: 'PARKED', cursor: PAY, incident: incident({ step: 'pay', kind: 'paused', code: 'PAUSED' }) })
const compensationFailed = instance({ status: 'COMPENSATION_FAILED', phase: 'compensation', cursor: RESERVE, incident: incident({ step: 'reserve', phase: 'compensation', kind: 'unavailable', code: 'SERVICE_UNAVAILABLE' }) })
const decide = (s: SagaInstance, action: OperatorAction, input = actor) => decideOperatorAction(saga, s, action, input)

describe('operator actions', () => {
  it('retries a parked or compensation-failed saga with an event, and takes over a moving one', () => {
    expect(decide(parkedAfterPivot, 'retry')).toEqual({ kind: 'event', event: { type: 'OPERATOR_RETRY', ...actor } })
    expect(decide(compensationFailed, 'retry')).toEqual({ kind: 'event', event: { type: 'OPERATOR_RETRY', ...actor } })
    expect(decide(instance(), 'retry')).toEqual({ kind: 'take-over' })
    expect(decide(instance({ status: 'COMPLETED' }), 'retry')).toMatchObject({ kind: 'refused', code: 'SAGA_NOT_RETRIABLE' })
  })

  it('aborts before the pivot by request (the runner settles what is in flight), a paused one by event', () => {
    expect(decide(instance({ cursor: PAY }), 'abort')).toEqual({ kind: 'request', request: 'abort' })
    expect(decide(pausedBeforePivot, 'abort')).toEqual({ kind: 'event', event: { type: 'ABORT_REQUESTED', fenceCursor: true, ...actor } })
  })

  it('refuses to abort past the pivot, naming skip and retry', () => {
    const refusal = decide(parkedAfterPivot, 'abort')
    expect(refusal).toMatchObject({ kind: 'refused', code: 'SAGA_NOT_ABORTABLE' })
    expect((refusal as { message: string }).message).toMatch(/pay went through\): skip or retry/)
    expect(decide(compensationFailed, 'abort')).toMatchObject({ kind: 'refused', code: 'SAGA_NOT_ABORTABLE', message: 'The saga is COMPENSATION_FAILED: retry or resolve its compensation' })
    expect(decide(instance({ status: 'COMPENSATING', phase: 'compensation' }), 'abort')).toMatchObject({ kind: 'refused', code: 'SAGA_NOT_ABORTABLE' })
  })

  it('skips a parked step after the pivot, with the result it is given, but nothing before it', () => {
    expect(decide(parkedAfterPivot, 'skip', { ...actor, result: { by: 'hand' } } as never)).toEqual({ kind: 'event', event: { type: 'OPERATOR_SKIP', ...actor, result: { by: 'hand' } } })
    expect(decide(pausedBeforePivot, 'skip')).toMatchObject({ kind: 'refused', code: 'SAGA_NOT_SKIPPABLE', message: 'pay comes before the point of no return: resume or abort the saga instead' })
    expect(decide(instance(), 'skip')).toMatchObject({ kind: 'refused', code: 'SAGA_NOT_SKIPPABLE' })
    expect(decide(compensationFailed, 'skip')).toMatchObject({ kind: 'refused', code: 'SAGA_NOT_SKIPPABLE' })
  })

  it('resolves only a failed compensation', () => {
    expect(decide(compensationFailed, 'resolve')).toEqual({ kind: 'event', event: { type: 'OPERATOR_RESOLVE', ...actor } })
    expect(decide(parkedAfterPivot, 'resolve')).toMatchObject({ kind: 'refused', code: 'SAGA_NOT_RESOLVABLE' })
  })

  it('pauses a moving saga by request, and resumes only a paused one', () => {
    expect(decide(instance(), 'pause')).toEqual({ kind: 'request', request: 'pause' })
    expect(decide(instance({ status: 'COMPENSATING', phase: 'compensation' }), 'pause')).toEqual({ kind: 'request', request: 'pause' })
    expect(decide(parkedAfterPivot, 'pause')).toMatchObject({ kind: 'refused', code: 'SAGA_NOT_PAUSABLE' })
    expect(decide(pausedBeforePivot, 'resume')).toEqual({ kind: 'event', event: { type: 'OPERATOR_RESUME', ...actor } })
    expect(decide(parkedAfterPivot, 'resume')).toMatchObject({ kind: 'refused', code: 'SAGA_NOT_PAUSED', message: 'The saga is parked by VALIDATION_FAILED, not paused: retry or skip the step' })
  })

  it('offers exactly the actions it would accept', () => {
    expect(availableActions(saga, parkedAfterPivot)).toEqual(['retry', 'skip'])
    expect(availableActions(saga, pausedBeforePivot)).toEqual(['retry', 'abort', 'resume'])
    expect(availableActions(saga, compensationFailed)).toEqual(['retry', 'resolve'])
    expect(availableActions(saga, instance())).toEqual(['retry', 'abort', 'pause'])
    expect(availableActions(saga, instance({ status: 'COMPLETED' }))).toEqual([])
    expect(availableActions(saga, instance({ status: 'FAILED' }))).toEqual([])
  })

  it('ends every saga an operator is asked about: each waiting state has an action that moves it', () => {
    for (const waiting of [parkedAfterPivot, pausedBeforePivot, compensationFailed]) {
      for (const action of availableActions(saga, waiting)) {
        const decision = decide(waiting, action)
        if (decision.kind !== 'event') continue
        const after = applyEvent(saga, waiting, decision.event as SagaEvent, T0)
        expect(['RUNNING', 'COMPENSATING', 'COMPLETED', 'FAILED'], `${waiting.status}/${waiting.incident?.code} ${action}`).toContain(after.status)
      }
    }
  })
})

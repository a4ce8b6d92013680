import { describe, expect, it } from 'vitest'
import { afterAttempt, applyEvent, commandKey, findRecord, nextAction, previousToUndo, shouldYield } from './decide.ts'
import { DEFAULT_COMPENSATION_RETRY, DEFAULT_RETRY, RETRY_FOREVER } from './retry-policy.ts'
import { defineSaga, type SagaSpec, structuralVersion } from './saga-definition.ts'
import type { Phase, SagaEvent, SagaInstance, StepError } from './saga-instance.ts'

// The engine's decisions, read as scripts: given a saga → expect a command → given an outcome →
// expect the saga's next state. No database, no HTTP, no clock: every `now` is passed in.

interface TripInput { userId: string; tourId: string; amount: number }

const tripSpec: SagaSpec<TripInput> = {
  type: 'test-trip',
  deadlineMs: 60_000,
  steps: [
    {
      name: 'reserve', kind: 'compensatable', state: 'SPOTS_RESERVED', compensatedState: 'SPOTS_RELEASED',
      invoke: ({ input }) => ({ participant: 'catalog', method: 'POST', path: `/tours/${input.tourId}/reservations` }),
      compensate: ({ results }) => ({ participant: 'catalog', method: 'DELETE', path: `/reservations/${results.reserve.reservationId}` }),
    },
    {
      name: 'create', kind: 'compensatable', state: 'BOOKING_CREATED', compensatedState: 'BOOKING_CANCELLED',
      invoke: ({ input }) => ({ participant: 'booking', method: 'POST', path: '/bookings', body: { userId: input.userId } }),
      compensate: ({ results }) => ({ participant: 'booking', method: 'POST', path: `/bookings/${results.create.bookingId}/cancel` }),
    },
    {
      name: 'pay', kind: 'pivot', state: 'PAID',
      invoke: ({ input }) => ({ participant: 'payment', method: 'POST', path: '/payments', body: { amount: input.amount } }),
    },
    {
      name: 'confirm', kind: 'retriable', state: 'CONFIRMED',
      invoke: ({ results }) => ({ participant: 'booking', method: 'POST', path: `/bookings/${results.create.bookingId}/confirm` }),
    },
    {
      name: 'notify', kind: 'retriable', critical: false, state: 'NOTIFIED',
      invoke: ({ input }) => ({ participant: 'notification', method: 'POST', path: '/notifications', body: { userId: input.userId } }),
    },
  ],
  result: ({ results }) => ({ bookingId: results.create?.bookingId }),
}
const trip = defineSaga(tripSpec)

const RESERVE = 0
const CREATE = 1
const PAY = 2
const CONFIRM = 3
const NOTIFY = 4

const T0 = new Date('2030-01-01T09:00:00.000Z')
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000)
const BEFORE_DEADLINE = at(30)
const AFTER_DEADLINE = at(61)

const resultOf: Record<string, unknown> = {
  reserve: { reservationId: 'res-1' },
  create: { bookingId: 'book-1' },
  pay: { paymentId: 'pay-1' },
  confirm: { confirmed: true },
  notify: { notificationId: 'note-1' },
}

function startSaga(overrides: Partial<SagaInstance> = {}): SagaInstance {
  return {
    id: 'saga-1', type: trip.type, definitionVersion: trip.version, status: 'RUNNING', state: trip.initialState, phase: 'forward',
    cursor: 0, pivotPassed: false, input: { userId: 'user-1', tourId: 'tour-1', amount: 120.5 },
    results: {}, steps: [], version: 0, leaseEpoch: 1, abortRequested: false,
    deadlineAt: at(60), createdAt: T0, updatedAt: T0,
    ...overrides,
  }
}

const declined: StepError = { code: 'PAYMENT_DECLINED', message: 'Card declined', status: 422, participant: 'payment' }
const unavailable: StepError = { code: 'PARTICIPANT_UNAVAILABLE', message: 'booking did not answer', participant: 'booking' }
const timeout: StepError = { code: 'TIMEOUT', message: 'no answer within 5000 ms' }

const succeeded = (step: number, phase: Phase = 'forward', attempts = 1): SagaEvent =>
  ({ type: 'STEP_SUCCEEDED', step, phase, result: phase === 'forward' ? resultOf[trip.steps[step]!.name] : undefined, attempts, startedAt: T0 })
const rejected = (step: number, error: StepError = declined, phase: Phase = 'forward'): SagaEvent =>
  ({ type: 'STEP_REJECTED', step, phase, error, attempts: 1, startedAt: T0 })
const exhausted = (step: number, phase: Phase, error: StepError = unavailable, attempts = 3): SagaEvent =>
  ({ type: 'STEP_EXHAUSTED', step, phase, error, attempts, startedAt: T0 })
const retrying = (step: number, phase: Phase, attempts: number, error: StepError = timeout): SagaEvent =>
  ({ type: 'STEP_RETRYING', step, phase, error, attempts, startedAt: T0 })
const settled = (step: number, applied: boolean): SagaEvent =>
  ({ type: 'STEP_SETTLED', step, applied, result: applied ? resultOf[trip.steps[step]!.name] : undefined, attempts: 4, startedAt: T0 })

const retry: SagaEvent = { type: 'OPERATOR_RETRY', actor: 'operator:ann', reason: 'participant fixed' }
const apply = (saga: SagaInstance, event: SagaEvent, now = BEFORE_DEADLINE) => applyEvent(trip, saga, event, now)
const next = (saga: SagaInstance, now = BEFORE_DEADLINE) => nextAction(trip, saga, now)

/** A saga whose steps before `step` all succeeded: the cursor is at `step`. */
function forwardTo(step: number, overrides: Partial<SagaInstance> = {}): SagaInstance {
  let saga = startSaga(overrides)
  for (let index = 0; index < step; index++) saga = apply(saga, succeeded(index))
  return saga
}

describe('defineSaga', () => {
  it('fills in step and saga defaults', () => {
    const [reserve, , pay, confirm, notify] = trip.steps
    expect(reserve).toMatchObject({ critical: true, retry: DEFAULT_RETRY, compensationRetry: DEFAULT_COMPENSATION_RETRY, timeoutMs: 5_000 })
    expect(pay!.retry).toEqual(RETRY_FOREVER)
    expect(confirm!.retry).toEqual(RETRY_FOREVER)
    expect(notify!.critical).toBe(false)
    expect(trip).toMatchObject({ initialState: 'STARTED', completedState: 'COMPLETED', compensatedState: 'COMPENSATED' })
  })

  it('keeps the values a definition sets', () => {
    const patient = { maxAttempts: 5, initialDelayMs: 10, multiplier: 3, maxDelayMs: 100 }
    const custom = defineSaga({
      ...tripSpec,
      initialState: 'NEW',
      steps: tripSpec.steps.map((step) => step.name === 'reserve' ? { ...step, retry: patient, compensationRetry: patient, timeoutMs: 250 } : step),
    })
    expect(custom.initialState).toBe('NEW')
    expect(custom.steps[RESERVE]).toMatchObject({ retry: patient, compensationRetry: patient, timeoutMs: 250 })
  })

  it('accepts a non-critical compensatable step without a compensate', () => {
    const steps = tripSpec.steps.map((step) => step.name === 'reserve' ? { ...step, critical: false, compensate: undefined } : step)
    expect(() => defineSaga({ ...tripSpec, steps })).not.toThrow()
  })

  const [reserve, create, pay, confirm, notify] = tripSpec.steps as [any, any, any, any, any]
  it.each([
    ['a step name used twice', [reserve, { ...create, name: 'reserve' }, pay], 'step name "reserve" is used twice'],
    ['a compensatable step without compensate', [{ ...reserve, compensate: undefined }, pay], 'compensatable step "reserve" has no compensate'],
    ['a pivot with a compensate', [reserve, { ...pay, compensate: reserve.compensate }], 'pivot step "pay" cannot have a compensate'],
    ['a compensatable step after the pivot', [reserve, pay, create], 'compensatable step "create" comes after the pivot'],
    ['a retriable step before the pivot', [reserve, confirm, pay], 'retriable step "confirm" must come after a pivot'],
    ['a retriable step without a pivot', [reserve, confirm], 'retriable step "confirm" must come after a pivot'],
    ['two pivots', [reserve, pay, { ...pay, name: 'pay-again' }, notify], 'a saga has at most one pivot'],
    ['no steps', [], 'a saga needs at least one step'],
  ])('rejects %s', (_, steps, problem) => {
    expect(() => defineSaga({ ...tripSpec, steps })).toThrow(problem)
  })

  it('rejects a deadline that is not positive', () => {
    expect(() => defineSaga({ ...tripSpec, deadlineMs: 0 })).toThrow('deadlineMs must be positive')
  })

  it('accepts a critical retriable step with a finite budget: spending it parks the saga', () => {
    const steps = tripSpec.steps.map((step) => step.name === 'confirm' ? { ...step, retry: DEFAULT_RETRY } : step)
    expect(() => defineSaga({ ...tripSpec, steps })).not.toThrow()
  })

  it('rejects alreadyUndone codes on a step that has no undo', () => {
    const steps = tripSpec.steps.map((step) => step.name === 'pay' ? { ...step, alreadyUndone: ['X'] } : step)
    expect(() => defineSaga({ ...tripSpec, steps })).toThrow('step "pay" lists alreadyUndone codes but has no compensate')
  })

  it('names the saga and every problem in one error', () => {
    expect(() => defineSaga({ ...tripSpec, deadlineMs: -1, steps: [reserve, reserve] }))
      .toThrow(/^Saga "test-trip" is not valid: step name "reserve" is used twice; deadlineMs must be positive$/)
  })
})

describe('the happy path', () => {
  it('invokes each step in order, stores its result and advances the state', () => {
    let saga = startSaga()
    const expectedStates = ['SPOTS_RESERVED', 'BOOKING_CREATED', 'PAID', 'CONFIRMED']
    for (let step = RESERVE; step <= CONFIRM; step++) {
      expect(next(saga)).toEqual({ type: 'invoke', step })
      saga = apply(saga, succeeded(step))
      const name = trip.steps[step]!.name
      expect(saga).toMatchObject({ status: 'RUNNING', phase: 'forward', cursor: step + 1, state: expectedStates[step] })
      expect(saga.results[name]).toEqual(resultOf[name])
      expect(findRecord(saga, name, 'forward')).toMatchObject({ status: 'SUCCEEDED', attempts: 1, finishedAt: BEFORE_DEADLINE.toISOString() })
      expect(saga.pivotPassed).toBe(step >= PAY)
    }
    expect(saga.completedAt).toBeUndefined()
  })

  it('completes in the same transition as the last step', () => {
    const saga = forwardTo(NOTIFY)
    expect(next(saga)).toEqual({ type: 'invoke', step: NOTIFY })
    const done = apply(saga, succeeded(NOTIFY), at(40))
    expect(done).toMatchObject({ status: 'COMPLETED', state: 'COMPLETED', cursor: trip.steps.length, completedAt: at(40), updatedAt: at(40) })
    expect(done.error).toBeUndefined()
    expect(next(done)).toEqual({ type: 'none' })
  })

  it('stores null for a step that answered without a body', () => {
    const saga = apply(startSaga(), { type: 'STEP_SUCCEEDED', step: RESERVE, phase: 'forward', attempts: 1, startedAt: T0 })
    expect(saga.results).toEqual({ reserve: null })
  })

  it('never changes the saga it is given', () => {
    const saga = forwardTo(PAY)
    const before = structuredClone(saga)
    apply(saga, succeeded(PAY))
    apply(saga, rejected(PAY))
    apply(saga, retrying(PAY, 'forward', 2))
    expect(saga).toEqual(before)
  })
})

describe('a rejected step', () => {
  it('fails the saga at once when the first step is rejected: nothing to undo', () => {
    const refused: StepError = { code: 'NOT_ENOUGH_SPOTS', message: 'Only 2 spots left', status: 409, participant: 'catalog' }
    const saga = apply(startSaga(), rejected(RESERVE, refused), at(5))
    expect(saga).toMatchObject({ status: 'FAILED', state: 'COMPENSATED', cursor: -1, completedAt: at(5) })
    expect(saga.error).toEqual({ ...refused, step: 'reserve' })
    expect(findRecord(saga, 'reserve', 'forward')).toMatchObject({ status: 'REJECTED', lastError: refused })
    expect(next(saga)).toEqual({ type: 'none' })
  })

  it('undoes the earlier steps in reverse order when the pivot is rejected', () => {
    let saga = apply(forwardTo(PAY), rejected(PAY))
    expect(saga).toMatchObject({ status: 'COMPENSATING', phase: 'compensation', cursor: CREATE, state: 'BOOKING_CREATED' })
    expect(saga.error).toEqual({ ...declined, step: 'pay' })

    expect(next(saga)).toEqual({ type: 'compensate', step: CREATE })
    saga = apply(saga, succeeded(CREATE, 'compensation'))
    expect(saga).toMatchObject({ status: 'COMPENSATING', cursor: RESERVE, state: 'BOOKING_CANCELLED' })
    expect(findRecord(saga, 'create', 'compensation')).toMatchObject({ status: 'SUCCEEDED' })

    expect(next(saga)).toEqual({ type: 'compensate', step: RESERVE })
    saga = apply(saga, succeeded(RESERVE, 'compensation'), at(45))
    expect(saga).toMatchObject({ status: 'FAILED', state: 'COMPENSATED', cursor: -1, completedAt: at(45) })
    expect(saga.error).toEqual({ ...declined, step: 'pay' })
    expect(next(saga)).toEqual({ type: 'none' })
  })
})

describe('a step without a definitive answer', () => {
  it('marks an exhausted undoable step UNKNOWN and settles it before anything is undone', () => {
    const saga = apply(forwardTo(CREATE), exhausted(CREATE, 'forward'))
    expect(saga).toMatchObject({ status: 'COMPENSATING', cursor: CREATE })
    expect(saga.error).toEqual({ ...unavailable, step: 'create' })
    expect(findRecord(saga, 'create', 'forward')).toMatchObject({ status: 'UNKNOWN', attempts: 3, lastError: unavailable })
    expect(next(saga)).toEqual({ type: 'settle', step: CREATE })
  })

  it('keeps the participant\'s own last answer on the step and the reason on the saga', () => {
    const saga = apply(forwardTo(CREATE), { ...exhausted(CREATE, 'forward'), lastError: timeout } as SagaEvent)
    expect(findRecord(saga, 'create', 'forward')?.lastError).toEqual(timeout)
    expect(saga.error).toEqual({ ...unavailable, step: 'create' })
  })

  it('undoes a settled step that turns out to have been applied', () => {
    let saga = apply(apply(forwardTo(CREATE), exhausted(CREATE, 'forward')), settled(CREATE, true))
    expect(findRecord(saga, 'create', 'forward')).toMatchObject({ status: 'SUCCEEDED', attempts: 4 })
    expect(saga.results.create).toEqual(resultOf.create)
    expect(saga).toMatchObject({ status: 'COMPENSATING', cursor: CREATE })
    expect(next(saga)).toEqual({ type: 'compensate', step: CREATE })

    saga = apply(saga, succeeded(CREATE, 'compensation'))
    expect(next(saga)).toEqual({ type: 'compensate', step: RESERVE })
    saga = apply(saga, succeeded(RESERVE, 'compensation'))
    expect(saga).toMatchObject({ status: 'FAILED', state: 'COMPENSATED' })
    expect(saga.error).toEqual({ ...unavailable, step: 'create' })
  })

  it('skips the undo of a settled step that was never applied', () => {
    const saga = apply(apply(forwardTo(CREATE), exhausted(CREATE, 'forward')), settled(CREATE, false))
    expect(findRecord(saga, 'create', 'forward')).toMatchObject({ status: 'SETTLED' })
    expect(saga.results.create).toBeUndefined()
    expect(saga.cursor).toBe(RESERVE)
    expect(next(saga)).toEqual({ type: 'compensate', step: RESERVE })
  })

  it('fails at once when the only UNKNOWN step turns out not to have been applied', () => {
    const saga = apply(apply(startSaga(), exhausted(RESERVE, 'forward')), settled(RESERVE, false), at(9))
    expect(saga).toMatchObject({ status: 'FAILED', state: 'COMPENSATED', cursor: -1, completedAt: at(9) })
  })

  it('goes forward past a pivot that turns out to have been applied', () => {
    let saga = apply(forwardTo(PAY), exhausted(PAY, 'forward'))
    expect(next(saga)).toEqual({ type: 'settle', step: PAY })
    saga = apply(saga, settled(PAY, true))
    expect(saga).toMatchObject({ status: 'RUNNING', phase: 'forward', pivotPassed: true, cursor: CONFIRM, state: 'PAID' })
    expect(saga.error).toBeUndefined()
    expect(saga.results.pay).toEqual(resultOf.pay)
    expect(next(saga)).toEqual({ type: 'invoke', step: CONFIRM })
  })

  it('undoes the steps before a pivot that turns out not to have been applied', () => {
    const saga = apply(apply(forwardTo(PAY), exhausted(PAY, 'forward')), settled(PAY, false))
    expect(saga).toMatchObject({ status: 'COMPENSATING', pivotPassed: false, cursor: CREATE })
    expect(next(saga)).toEqual({ type: 'compensate', step: CREATE })
  })

  it('keeps a step UNKNOWN while its settle is retried, so a resumed saga settles it again', () => {
    const unknown = apply(forwardTo(CREATE), exhausted(CREATE, 'forward'))
    const saga = apply(unknown, retrying(CREATE, 'forward', 5))
    expect(findRecord(saga, 'create', 'forward')).toMatchObject({ status: 'UNKNOWN', attempts: 5, lastError: timeout })
    expect(saga).toMatchObject({ status: 'COMPENSATING', cursor: CREATE })
    expect(next(saga)).toEqual({ type: 'settle', step: CREATE })
  })

  it('waits for an operator when a settle gives up, and settles again on resume', () => {
    const unknown = apply(forwardTo(CREATE), exhausted(CREATE, 'forward'))
    let saga = apply(unknown, exhausted(CREATE, 'forward', timeout, 11))
    expect(saga).toMatchObject({ status: 'COMPENSATION_FAILED', cursor: CREATE })
    expect(saga.compensationError).toEqual({ ...timeout, step: 'create' })
    expect(saga.error).toEqual({ ...unavailable, step: 'create' })
    expect(findRecord(saga, 'create', 'forward')).toMatchObject({ status: 'UNKNOWN', attempts: 11 })
    expect(next(saga)).toEqual({ type: 'none' })

    saga = apply(saga, retry)
    expect(next(saga)).toEqual({ type: 'settle', step: CREATE })
  })
})

describe('a compensation that gives up', () => {
  const failedUndo: StepError = { code: 'INTERNAL_ERROR', message: 'booking is down', status: 503, participant: 'booking' }
  const stuck = () => apply(apply(forwardTo(PAY), rejected(PAY)), exhausted(CREATE, 'compensation', failedUndo, 8))

  it('parks the saga in COMPENSATION_FAILED with an incident, and keeps the first error', () => {
    const saga = stuck()
    expect(saga).toMatchObject({ status: 'COMPENSATION_FAILED', cursor: CREATE })
    expect(saga.incident).toEqual({ step: 'create', phase: 'compensation', kind: 'unavailable', code: 'INTERNAL_ERROR', message: 'booking is down', participant: 'booking', participantStatus: 503, attempts: 8, since: BEFORE_DEADLINE.toISOString() })
    expect(saga.compensationError).toEqual({ ...failedUndo, step: 'create' })
    expect(saga.error).toEqual({ ...declined, step: 'pay' })
    expect(saga.completedAt).toBeUndefined()
    expect(findRecord(saga, 'create', 'compensation')).toMatchObject({ status: 'FAILED', attempts: 8, lastError: failedUndo })
    expect(next(saga)).toEqual({ type: 'none' })
  })

  it('resumes compensating at the same step, with the same key, when an operator retries', () => {
    const saga = apply(stuck(), retry)
    expect(saga).toMatchObject({ status: 'COMPENSATING', cursor: CREATE })
    expect(saga.compensationError).toBeUndefined()
    expect(saga.incident).toBeUndefined()
    expect(findRecord(saga, 'create', 'compensation')?.generation).toBeUndefined()
    expect(saga.error).toEqual({ ...declined, step: 'pay' })
    expect(next(saga)).toEqual({ type: 'compensate', step: CREATE })
  })

})

describe('a compensation rejected for good', () => {
  const refusedUndo: StepError = { code: 'BOOKING_LOCKED', message: 'the booking is locked by an audit', status: 423, participant: 'booking' }
  const stuck = () => apply(apply(forwardTo(PAY), rejected(PAY)), rejected(CREATE, refusedUndo, 'compensation'))

  it('waits for an operator at once, instead of replaying the stored rejection forever', () => {
    const saga = stuck()
    expect(saga).toMatchObject({ status: 'COMPENSATION_FAILED', cursor: CREATE, incident: { step: 'create', phase: 'compensation', kind: 'rejected', code: 'BOOKING_LOCKED' } })
    expect(findRecord(saga, 'create', 'compensation')).toMatchObject({ status: 'FAILED', lastError: refusedUndo })
    expect(next(saga)).toEqual({ type: 'none' })
  })

  it('is retried by an operator as a new generation of the undo: the old key\'s answer is stored for good', () => {
    const saga = apply(stuck(), retry)
    expect(findRecord(saga, 'create', 'compensation')).toMatchObject({ generation: 1 })
    expect(next(saga)).toEqual({ type: 'compensate', step: CREATE })
    expect(commandKey(saga.id, 'create', 'compensation', 1)).toBe('saga-1:create:compensation:g1')
  })

  it('is resolved by an operator as undone by hand, and the saga goes on compensating', () => {
    let saga = apply(stuck(), { type: 'OPERATOR_RESOLVE', actor: 'operator:ann', reason: 'cancelled in the back office' })
    expect(findRecord(saga, 'create', 'compensation')).toMatchObject({ status: 'RESOLVED' })
    expect(saga).toMatchObject({ status: 'COMPENSATING', cursor: RESERVE, state: 'BOOKING_CANCELLED' })
    expect(next(saga)).toEqual({ type: 'compensate', step: RESERVE })
    saga = apply(saga, succeeded(RESERVE, 'compensation'))
    expect(saga).toMatchObject({ status: 'FAILED', error: { code: 'PAYMENT_DECLINED' } })
  })
})

describe('after the pivot', () => {
  const refused: StepError = { code: 'VALIDATION_FAILED', message: 'amount must be <= 10000000', status: 400, participant: 'booking' }

  it('parks the saga when a step is rejected for good: never retried against the stored answer', () => {
    const saga = apply(forwardTo(CONFIRM), rejected(CONFIRM, refused), at(40))
    expect(saga).toMatchObject({ status: 'PARKED', cursor: CONFIRM, pivotPassed: true })
    expect(saga.incident).toEqual({ step: 'confirm', phase: 'forward', kind: 'rejected', code: 'VALIDATION_FAILED', message: refused.message, participant: 'booking', participantStatus: 400, attempts: 1, since: at(40).toISOString() })
    expect(saga.error).toBeUndefined()
    expect(next(saga)).toEqual({ type: 'none' })
  })

  it('parks the saga when a finite retry budget is spent', () => {
    const saga = apply(forwardTo(CONFIRM), exhausted(CONFIRM, 'forward', unavailable, 10))
    expect(saga).toMatchObject({ status: 'PARKED', incident: { kind: 'unavailable', code: 'PARTICIPANT_UNAVAILABLE', attempts: 10 } })
    expect(findRecord(saga, 'confirm', 'forward')).toMatchObject({ status: 'UNKNOWN' })
  })

  it('retries a rejected step as a new generation of its command', () => {
    const saga = apply(apply(forwardTo(CONFIRM), rejected(CONFIRM, refused)), retry)
    expect(saga).toMatchObject({ status: 'RUNNING', cursor: CONFIRM })
    expect(saga.incident).toBeUndefined()
    expect(findRecord(saga, 'confirm', 'forward')).toMatchObject({ generation: 1 })
    expect(next(saga)).toEqual({ type: 'invoke', step: CONFIRM })
    // A second rejection and a second retry: generation 2.
    const again = apply(apply(saga, rejected(CONFIRM, refused)), retry)
    expect(findRecord(again, 'confirm', 'forward')).toMatchObject({ generation: 2 })
  })

  it('retries a step whose budget was spent under the same key: it may have been applied', () => {
    const saga = apply(apply(forwardTo(CONFIRM), exhausted(CONFIRM, 'forward')), retry)
    expect(findRecord(saga, 'confirm', 'forward')?.generation).toBeUndefined()
    expect(next(saga)).toEqual({ type: 'invoke', step: CONFIRM })
  })

  it('skips a parked step by hand: its result is recorded, and the saga goes on', () => {
    const parked = apply(forwardTo(CONFIRM), rejected(CONFIRM, refused))
    const saga = apply(parked, { type: 'OPERATOR_SKIP', actor: 'operator:ann', reason: 'confirmed by phone', result: { confirmed: 'by hand' } })
    expect(findRecord(saga, 'confirm', 'forward')).toMatchObject({ status: 'SKIPPED' })
    expect(saga).toMatchObject({ status: 'RUNNING', cursor: NOTIFY, state: 'CONFIRMED', results: { confirm: { confirmed: 'by hand' } } })
    expect(next(saga)).toEqual({ type: 'invoke', step: NOTIFY })
  })

  it('completes in the same transition when the skipped step was the last', () => {
    const parked = { ...forwardTo(NOTIFY), status: 'PARKED' as const, incident: { step: 'notify', phase: 'forward' as const, kind: 'paused' as const, code: 'PAUSED', message: 'paused', attempts: 0, since: T0.toISOString() } }
    const saga = apply(parked, { type: 'OPERATOR_SKIP', actor: 'operator:ann', reason: 'no mail today' }, at(50))
    expect(saga).toMatchObject({ status: 'COMPLETED', completedAt: at(50), results: { notify: null } })
  })
})

describe('pausing and resuming', () => {
  it('parks a saga with a pause request at its next decision, with the actor and reason', () => {
    const saga = forwardTo(CREATE, { pauseRequest: { actor: 'operator:ann', reason: 'booking service under repair' } })
    expect(next(saga)).toEqual({ type: 'pause' })
    const paused = apply(saga, { type: 'PAUSED', actor: 'operator:ann', reason: 'booking service under repair' }, at(12))
    expect(paused).toMatchObject({ status: 'PARKED', cursor: CREATE })
    expect(paused.pauseRequest).toBeUndefined()
    expect(paused.incident).toEqual({ step: 'create', phase: 'forward', kind: 'paused', code: 'PAUSED', message: 'Paused by operator:ann: booking service under repair', attempts: 0, since: at(12).toISOString() })
    expect(next(paused)).toEqual({ type: 'none' })
  })

  it('pauses a compensating saga too, and resumes it compensating', () => {
    const compensating = { ...apply(forwardTo(PAY), rejected(PAY)), pauseRequest: { actor: 'operator:ann' } }
    expect(next(compensating)).toEqual({ type: 'pause' })
    const paused = apply(compensating, { type: 'PAUSED', actor: 'operator:ann' })
    expect(paused).toMatchObject({ status: 'PARKED', phase: 'compensation', incident: { phase: 'compensation', code: 'PAUSED' } })
    const resumed = apply(paused, { type: 'OPERATOR_RESUME', actor: 'operator:ann' })
    expect(resumed).toMatchObject({ status: 'COMPENSATING', cursor: CREATE })
    expect(next(resumed)).toEqual({ type: 'compensate', step: CREATE })
  })

  it('aborts a paused saga before the pivot, settling the step it was paused at', () => {
    const paused = apply(forwardTo(PAY, { pauseRequest: { actor: 'op' } }), { type: 'PAUSED', actor: 'op' })
    const saga = apply(paused, { type: 'ABORT_REQUESTED', fenceCursor: true, actor: 'op', reason: 'customer gave up' })
    expect(saga).toMatchObject({ status: 'COMPENSATING', cursor: PAY, error: { code: 'SAGA_ABORTED', message: 'An operator aborted the saga: customer gave up', step: 'pay' } })
    expect(saga.incident).toBeUndefined()
    expect(next(saga)).toEqual({ type: 'settle', step: PAY })
  })
})

describe('attempt by attempt', () => {
  const context = (made: number, attempts = made) => ({ made, attempts, startedAt: T0, random: 0.5 })
  const down = { kind: 'unknown' as const, error: { code: 'SERVICE_UNAVAILABLE', message: 'down', status: 503 }, status: 503 }

  it('records an applied answer as the step\'s success, with its body', () => {
    expect(afterAttempt(trip, CREATE, 'invoke', { kind: 'applied', status: 201, body: { bookingId: 'b' } }, context(1)))
      .toEqual({ type: 'record', event: { type: 'STEP_SUCCEEDED', step: CREATE, phase: 'forward', result: { bookingId: 'b' }, attempts: 1, startedAt: T0 } })
  })

  it('records an undo whose target state already holds as a successful undo', () => {
    expect(afterAttempt(trip, CREATE, 'compensate', { kind: 'already', status: 409, error: { code: 'BOOKING_ALREADY_CANCELLED', message: 'x' } }, context(1)))
      .toEqual({ type: 'record', event: { type: 'STEP_SUCCEEDED', step: CREATE, phase: 'compensation', alreadyUndone: true, attempts: 1, startedAt: T0 } })
  })

  it('records a rejection at once, in either phase', () => {
    const error = { code: 'NOPE', message: 'no' }
    expect(afterAttempt(trip, CREATE, 'invoke', { kind: 'rejected', status: 422, error }, context(1)).event).toMatchObject({ type: 'STEP_REJECTED', phase: 'forward' })
    expect(afterAttempt(trip, CREATE, 'compensate', { kind: 'rejected', status: 422, error }, context(1)).event).toMatchObject({ type: 'STEP_REJECTED', phase: 'compensation' })
  })

  it('retries an unknown outcome within the budget, backing off, then gives up', () => {
    expect(afterAttempt(trip, CREATE, 'invoke', down, context(1))).toMatchObject({ type: 'retry', delayMs: 75, event: { type: 'STEP_RETRYING' } })
    expect(afterAttempt(trip, CREATE, 'invoke', down, context(2))).toMatchObject({ type: 'retry', delayMs: 150 })
    expect(afterAttempt(trip, CREATE, 'invoke', down, context(3, 7))).toEqual({
      type: 'record',
      event: { type: 'STEP_EXHAUSTED', step: CREATE, phase: 'forward', attempts: 7, startedAt: T0, lastError: down.error,
        error: { code: 'PARTICIPANT_UNAVAILABLE', message: 'the participant did not answer create within 7 attempts: down', status: 503 } },
    })
  })

  it('keeps retrying a pivot or a post-pivot step while it has no definitive answer', () => {
    expect(afterAttempt(trip, PAY, 'invoke', down, context(500)).type).toBe('retry')
    expect(afterAttempt(trip, CONFIRM, 'invoke', down, context(500)).type).toBe('retry')
  })

  it('honours a participant\'s Retry-After', () => {
    expect(afterAttempt(trip, CREATE, 'invoke', { ...down, retryAfterMs: 1_500 }, context(1))).toMatchObject({ delayMs: 1_500 })
  })

  it('settles by the fence: applied, never applied, or ask again', () => {
    expect(afterAttempt(trip, PAY, 'settle', { kind: 'applied', body: { paymentId: 'p' } }, context(1)).event).toEqual({ type: 'STEP_SETTLED', step: PAY, applied: true, result: { paymentId: 'p' }, attempts: 1, startedAt: T0 })
    expect(afterAttempt(trip, PAY, 'settle', { kind: 'not-applied' }, context(1)).event).toEqual({ type: 'STEP_SETTLED', step: PAY, applied: false, attempts: 1, startedAt: T0 })
    expect(afterAttempt(trip, PAY, 'settle', down, context(1)).type).toBe('retry')
    expect(afterAttempt(trip, PAY, 'settle', down, context(8)).event).toMatchObject({ type: 'STEP_EXHAUSTED', phase: 'forward', error: down.error })
  })

  it('stops retrying before the pivot once the saga is aborted or past its deadline, and for a pause anywhere', () => {
    const retryingPay = apply(forwardTo(PAY), retrying(PAY, 'forward', 3))
    expect(shouldYield(trip, retryingPay, PAY, BEFORE_DEADLINE)).toBe(false)
    expect(shouldYield(trip, retryingPay, PAY, AFTER_DEADLINE)).toBe(true)
    expect(shouldYield(trip, { ...retryingPay, abortRequested: true }, PAY, BEFORE_DEADLINE)).toBe(true)
    const retryingConfirm = apply(forwardTo(CONFIRM), retrying(CONFIRM, 'forward', 3))
    expect(shouldYield(trip, { ...retryingConfirm, abortRequested: true }, CONFIRM, AFTER_DEADLINE)).toBe(false)
    expect(shouldYield(trip, { ...retryingConfirm, pauseRequest: { actor: 'op' } }, CONFIRM, BEFORE_DEADLINE)).toBe(true)
  })
})

describe('definition versions', () => {
  it('is a hash of the step list: the same steps give the same version', () => {
    expect(defineSaga(tripSpec).version).toBe(trip.version)
    expect(trip.version).toMatch(/^[0-9a-f]{12}$/)
  })

  it('changes when a step is added, removed, renamed or reordered, not when a command\'s body changes', () => {
    const [reserve, create, pay, confirm, notify] = tripSpec.steps as [any, any, any, any, any]
    const versions = [
      [reserve, create, pay, confirm],
      [reserve, create, pay, confirm, notify, { ...notify, name: 'notifyAgain' }],
      [{ ...reserve, name: 'hold' }, create, pay, confirm, notify],
      [create, reserve, pay, confirm, notify],
    ].map((steps) => defineSaga({ ...tripSpec, steps }).version)
    expect(new Set([...versions, trip.version]).size).toBe(5)
    const rebodied = defineSaga({ ...tripSpec, steps: tripSpec.steps.map((step) => step.name === 'pay' ? { ...step, invoke: () => ({ participant: 'payment', method: 'POST' as const, path: '/v2/payments' }) } : step) })
    expect(rebodied.version).toBe(trip.version)
  })

  it('can be set explicitly', () => {
    expect(defineSaga({ ...tripSpec, version: 'v7' }).version).toBe('v7')
    expect(structuralVersion('test-trip', trip.steps, { initialState: 'STARTED', completedState: 'COMPLETED', compensatedState: 'COMPENSATED' })).toBe(trip.version)
  })
})

describe('a non-critical step', () => {
  it('is recorded FAILED when rejected and the saga still completes', () => {
    const saga = apply(forwardTo(NOTIFY), rejected(NOTIFY, { code: 'NO_EMAIL', message: 'no address', status: 422 }))
    expect(saga).toMatchObject({ status: 'COMPLETED', state: 'COMPLETED' })
    expect(saga.error).toBeUndefined()
    expect(findRecord(saga, 'notify', 'forward')).toMatchObject({ status: 'FAILED', lastError: { code: 'NO_EMAIL' } })
  })

  it('is recorded FAILED when exhausted and the saga still completes', () => {
    const saga = apply(forwardTo(NOTIFY), exhausted(NOTIFY, 'forward'))
    expect(saga).toMatchObject({ status: 'COMPLETED', state: 'COMPLETED' })
    expect(findRecord(saga, 'notify', 'forward')).toMatchObject({ status: 'FAILED', attempts: 3, lastError: unavailable })
  })
})

describe('the deadline', () => {
  it('turns the saga back before an undoable step once passed', () => {
    expect(next(forwardTo(CREATE), AFTER_DEADLINE)).toEqual({ type: 'expire', fenceCursor: false })
    expect(next(forwardTo(CREATE), at(60))).toEqual({ type: 'invoke', step: CREATE })
  })

  it('turns the saga back before the pivot once passed', () => {
    expect(next(forwardTo(PAY), AFTER_DEADLINE)).toEqual({ type: 'expire', fenceCursor: false })
  })

  it('binds the pivot too: a pivot being retried past the deadline is settled by its fence first', () => {
    const retryingPay = apply(forwardTo(PAY), retrying(PAY, 'forward', 40))
    expect(next(retryingPay, AFTER_DEADLINE)).toEqual({ type: 'expire', fenceCursor: true })
    const saga = apply(retryingPay, { type: 'DEADLINE_PASSED', fenceCursor: true }, AFTER_DEADLINE)
    expect(findRecord(saga, 'pay', 'forward')).toMatchObject({ status: 'UNKNOWN', attempts: 40 })
    expect(saga).toMatchObject({ status: 'COMPENSATING', cursor: PAY, error: { code: 'SAGA_TIMEOUT', step: 'pay' } })
    expect(next(saga, AFTER_DEADLINE)).toEqual({ type: 'settle', step: PAY })
    // The fence says the charge went through after all: forward, past the point of no return.
    expect(apply(saga, settled(PAY, true), AFTER_DEADLINE)).toMatchObject({ status: 'RUNNING', pivotPassed: true, cursor: CONFIRM })
  })

  it('settles the current step first when the saga was taken over, since its command may be in flight', () => {
    expect(nextAction(trip, forwardTo(PAY), AFTER_DEADLINE, { takenOver: true })).toEqual({ type: 'expire', fenceCursor: true })
    expect(nextAction(trip, forwardTo(PAY), BEFORE_DEADLINE, { takenOver: true })).toEqual({ type: 'invoke', step: PAY })
  })

  it('no longer matters after the pivot', () => {
    expect(next(forwardTo(CONFIRM), AFTER_DEADLINE)).toEqual({ type: 'invoke', step: CONFIRM })
    expect(next(forwardTo(NOTIFY), AFTER_DEADLINE)).toEqual({ type: 'invoke', step: NOTIFY })
  })

  it('never turns back at a retriable step', () => {
    // Reachable only if the pivot was skipped; a retriable step goes forward regardless.
    const saga = { ...forwardTo(CONFIRM), pivotPassed: false }
    expect(next(saga, AFTER_DEADLINE)).toEqual({ type: 'invoke', step: CONFIRM })
  })

  it('compensates with SAGA_TIMEOUT at the step it was about to run', () => {
    const saga = apply(forwardTo(PAY), { type: 'DEADLINE_PASSED', fenceCursor: false }, AFTER_DEADLINE)
    expect(saga).toMatchObject({ status: 'COMPENSATING', cursor: CREATE })
    expect(saga.error).toMatchObject({ code: 'SAGA_TIMEOUT', step: 'pay' })
    expect(next(saga, AFTER_DEADLINE)).toEqual({ type: 'compensate', step: CREATE })
  })

  it('fails at once when it passes before the first step', () => {
    const saga = apply(startSaga(), { type: 'DEADLINE_PASSED', fenceCursor: false }, AFTER_DEADLINE)
    expect(saga).toMatchObject({ status: 'FAILED', state: 'COMPENSATED', completedAt: AFTER_DEADLINE })
    expect(saga.error).toMatchObject({ code: 'SAGA_TIMEOUT', step: 'reserve' })
  })
})

describe('an abort', () => {
  it('turns the saga back before the pivot, even before the deadline', () => {
    const saga = forwardTo(PAY, { abortRequested: true })
    expect(next(saga)).toEqual({ type: 'abort', fenceCursor: false })
    expect(next(saga, AFTER_DEADLINE)).toEqual({ type: 'abort', fenceCursor: false })
    const aborted = apply(saga, { type: 'ABORT_REQUESTED', fenceCursor: false })
    expect(aborted.abortRequested).toBe(false)
    expect(aborted).toMatchObject({ status: 'COMPENSATING', cursor: CREATE })
    expect(aborted.error).toMatchObject({ code: 'SAGA_ABORTED', step: 'pay' })
    expect(next(aborted)).toEqual({ type: 'compensate', step: CREATE })
  })

  it('stops a pivot being retried and settles it: never accepted and then ignored', () => {
    const saga = { ...apply(forwardTo(PAY), retrying(PAY, 'forward', 12)), abortRequested: true }
    expect(next(saga)).toEqual({ type: 'abort', fenceCursor: true })
    const aborted = apply(saga, { type: 'ABORT_REQUESTED', fenceCursor: true, actor: 'operator:ann' })
    expect(next(aborted)).toEqual({ type: 'settle', step: PAY })
    // Never charged: the earlier steps are undone.
    expect(apply(aborted, settled(PAY, false))).toMatchObject({ status: 'COMPENSATING', cursor: CREATE })
  })

  it('settles the current step of a taken-over saga before turning back', () => {
    const saga = forwardTo(CREATE, { abortRequested: true })
    expect(nextAction(trip, saga, BEFORE_DEADLINE, { takenOver: true })).toEqual({ type: 'abort', fenceCursor: true })
  })

  it('is ignored after the pivot', () => {
    expect(next(forwardTo(CONFIRM, { abortRequested: true }))).toEqual({ type: 'invoke', step: CONFIRM })
  })

  it('is ignored while compensating', () => {
    const saga = { ...apply(forwardTo(PAY), rejected(PAY)), abortRequested: true }
    expect(next(saga)).toEqual({ type: 'compensate', step: CREATE })
  })
})

describe('a step being retried', () => {
  it('records the attempts and the last error without changing the saga status', () => {
    const saga = forwardTo(CREATE)
    const first = apply(saga, retrying(CREATE, 'forward', 1), at(1))
    const second = apply(first, retrying(CREATE, 'forward', 2, unavailable), at(2))
    expect(second).toMatchObject({ status: 'RUNNING', cursor: CREATE, state: saga.state, updatedAt: at(2) })
    const record = findRecord(second, 'create', 'forward')
    expect(record).toMatchObject({ status: 'RETRYING', attempts: 2, lastError: unavailable, startedAt: T0.toISOString() })
    expect(record?.finishedAt).toBeUndefined()
    expect(next(second)).toEqual({ type: 'invoke', step: CREATE })
  })

  it('keeps when the step was first tried once it succeeds', () => {
    const saga = apply(apply(forwardTo(CREATE), retrying(CREATE, 'forward', 1)), { ...succeeded(CREATE, 'forward', 2), startedAt: at(3) } as SagaEvent, at(4))
    expect(findRecord(saga, 'create', 'forward')).toMatchObject({ status: 'SUCCEEDED', attempts: 2, startedAt: T0.toISOString(), finishedAt: at(4).toISOString() })
  })

  it('records a compensation being retried the same way', () => {
    const saga = apply(apply(forwardTo(PAY), rejected(PAY)), retrying(CREATE, 'compensation', 3))
    expect(saga).toMatchObject({ status: 'COMPENSATING', cursor: CREATE })
    expect(findRecord(saga, 'create', 'compensation')).toMatchObject({ status: 'RETRYING', attempts: 3, lastError: timeout })
    expect(next(saga)).toEqual({ type: 'compensate', step: CREATE })
  })
})

describe('previousToUndo', () => {
  it('finds the highest succeeded compensatable step below a position', () => {
    const saga = forwardTo(CONFIRM)
    expect(previousToUndo(trip, saga, CONFIRM)).toBe(CREATE) // the pivot has nothing to undo
    expect(previousToUndo(trip, saga, CREATE)).toBe(RESERVE)
    expect(previousToUndo(trip, saga, RESERVE)).toBe(-1)
  })

  it('skips steps already compensated', () => {
    const saga = apply(apply(forwardTo(PAY), rejected(PAY)), succeeded(CREATE, 'compensation'))
    expect(previousToUndo(trip, saga, PAY)).toBe(RESERVE)
  })

  it('skips steps that never ran, were rejected or were settled as not applied', () => {
    expect(previousToUndo(trip, startSaga(), trip.steps.length)).toBe(-1)
    const rejectedCreate = apply(forwardTo(CREATE), rejected(CREATE))
    expect(previousToUndo(trip, rejectedCreate, PAY)).toBe(RESERVE)
    const settledCreate = apply(apply(forwardTo(CREATE), exhausted(CREATE, 'forward')), settled(CREATE, false))
    expect(previousToUndo(trip, settledCreate, PAY)).toBe(RESERVE)
  })

  it('includes a step whose outcome is UNKNOWN', () => {
    const saga = apply(forwardTo(PAY), exhausted(PAY, 'forward'))
    expect(previousToUndo(trip, saga, trip.steps.length)).toBe(PAY)
  })
})

import { describe, expect, it, vi } from 'vitest'
import { applyEvent, findRecord } from './decide.ts'
import { LeaseLostError } from './engine-errors.ts'
import type { Clock, CommandMetadata, CommandOutcome, CommandTransport, LeaseOwner, RecordResult, SagaStore, Transition } from './ports.ts'
import { RETRY_FOREVER, type RetryPolicy } from './retry-policy.ts'
import { defineSaga, type Command } from './saga-definition.ts'
import type { Phase, SagaInstance } from './saga-instance.ts'
import { SagaRegistry } from './saga-registry.ts'
import { SagaRunner } from './saga-runner.ts'

// The runner against in-memory ports: a scripted participant transport, a store that enforces
// optimistic versions like Postgres does, and a clock whose sleeps return at once.

interface TripInput { userId: string; tourId: string; amount: number }

const threeTries: RetryPolicy = { maxAttempts: 3, initialDelayMs: 100, multiplier: 2, maxDelayMs: 1_000 }
const fourUndos: RetryPolicy = { maxAttempts: 4, initialDelayMs: 100, multiplier: 2, maxDelayMs: 1_000 }

// Undo commands are the DELETEs: that is how the fake transport tells the phases apart.
const trip = defineSaga<TripInput>({
  type: 'test-trip',
  deadlineMs: 60_000,
  steps: [
    {
      name: 'reserve', kind: 'compensatable', state: 'SPOTS_RESERVED', retry: threeTries, compensationRetry: fourUndos, timeoutMs: 1_500,
      invoke: ({ input }) => ({ participant: 'catalog', method: 'POST', path: `/tours/${input.tourId}/reservations` }),
      compensate: ({ results }) => ({ participant: 'catalog', method: 'DELETE', path: `/reservations/${results.reserve.reservationId}` }),
    },
    {
      name: 'create', kind: 'compensatable', state: 'BOOKING_CREATED', retry: threeTries, compensationRetry: fourUndos,
      invoke: ({ input, results }) => ({ participant: 'booking', method: 'POST', path: '/bookings', body: { userId: input.userId, reservationId: results.reserve.reservationId } }),
      compensate: ({ results }) => ({ participant: 'booking', method: 'DELETE', path: `/bookings/${results.create.bookingId}` }),
    },
    {
      name: 'pay', kind: 'pivot', state: 'PAID', compensationRetry: fourUndos,
      invoke: ({ input }) => ({ participant: 'payment', method: 'POST', path: '/payments', body: { amount: input.amount } }),
    },
    {
      name: 'confirm', kind: 'retriable', state: 'CONFIRMED',
      invoke: ({ results }) => ({ participant: 'booking', method: 'POST', path: `/bookings/${results.create.bookingId}/confirm` }),
    },
    {
      name: 'notify', kind: 'retriable', critical: false, state: 'NOTIFIED', retry: { ...threeTries, maxAttempts: 2 },
      invoke: ({ input }) => ({ participant: 'notification', method: 'POST', path: '/notifications', body: { userId: input.userId } }),
    },
  ],
  result: ({ results }) => ({ bookingId: results.create?.bookingId }),
  references: ({ input, results }) => ({ userId: input.userId, ...(results.create ? { bookingId: results.create.bookingId } : {}) }),
})

const CREATE = 1

/** What each participant answers when nothing else is scripted. */
const bodyOf: Record<string, unknown> = {
  reserve: { reservationId: 'res-1' },
  create: { bookingId: 'book-1' },
  pay: { paymentId: 'pay-1' },
  confirm: { confirmed: true },
  notify: { notificationId: 'note-1' },
}

const ok = (body: unknown = {}): CommandOutcome => ({ kind: 'success', status: 200, body })
const refused = (code: string, status = 422): CommandOutcome => ({ kind: 'rejected', status, error: { code, message: `${code} (test)`, status } })
const down = (retryAfterMs?: number): CommandOutcome => ({
  kind: 'transient', status: 503, error: { code: 'SERVICE_UNAVAILABLE', message: 'the service is down', status: 503 },
  ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
})
const times = (count: number, outcome: CommandOutcome) => Array.from({ length: count }, () => outcome)

interface SentCommand { step: string; phase: Phase; command: Command; metadata: CommandMetadata }

/** Answers from a queue per (step, phase); a success with the step's usual body once it is empty. */
class ScriptedTransport implements CommandTransport {
  readonly sent: SentCommand[] = []
  readonly #scripts = new Map<string, CommandOutcome[]>()

  script(step: string, phase: Phase, ...outcomes: CommandOutcome[]): this {
    this.#scripts.set(`${step}:${phase}`, outcomes)
    return this
  }

  /** `step:phase` of every command sent, in order. */
  get log(): string[] {
    return this.sent.map(({ step, phase }) => `${step}:${phase}`)
  }

  keysOf(step: string, phase: Phase): string[] {
    return this.sent.filter((s) => s.step === step && s.phase === phase).map((s) => s.metadata.idempotencyKey)
  }

  async send(command: Command, metadata: CommandMetadata): Promise<CommandOutcome> {
    // A runner that never stops would otherwise hang the test instead of failing it.
    if (this.sent.length >= 100) throw new Error('runaway runner: 100 commands sent')
    const phase: Phase = command.method === 'DELETE' ? 'compensation' : 'forward'
    this.sent.push({ step: metadata.step, phase, command, metadata })
    return this.#scripts.get(`${metadata.step}:${phase}`)?.shift() ?? ok(phase === 'forward' ? bodyOf[metadata.step] : {})
  }
}

/** Refuses a write at a stale version or epoch, as the Postgres store does, and keeps a copy of each. */
class FakeStore implements SagaStore {
  readonly transitions: Transition[] = []
  /** The nth write (1-based) throws LeaseLostError, as when another runner took the saga over. */
  loseLeaseAtWrite?: number
  /** From the nth write on, the store answers that an operator asked for an abort. */
  abortFromWrite?: number

  constructor(public version: number, public epoch: number) {}

  get events(): string[] {
    return this.transitions.map((t) => t.event.type)
  }

  async recordTransition(transition: Transition, owner: LeaseOwner): Promise<RecordResult> {
    const write = this.transitions.length + 1
    if (transition.expectedVersion !== this.version || owner.epoch !== this.epoch || write === this.loseLeaseAtWrite) {
      throw new LeaseLostError(transition.saga.id)
    }
    this.version = transition.saga.version
    this.transitions.push(structuredClone(transition))
    return { abortRequested: this.abortFromWrite !== undefined && write >= this.abortFromWrite }
  }
}

const T0 = new Date('2030-01-01T09:00:00.000Z')

/** Time moves only when the runner sleeps; every sleep is recorded and returns at once. */
class FakeClock implements Clock {
  readonly delays: number[] = []
  onSleep?: () => void
  constructor(public time = T0.getTime()) {}
  now(): Date { return new Date(this.time) }
  random(): number { return 0.5 }
  async sleep(ms: number): Promise<void> {
    this.delays.push(ms)
    this.time += ms
    this.onSleep?.()
  }
}

const OWNER: LeaseOwner = { ownerId: 'runner-a', epoch: 3 }

function newSaga(overrides: Partial<SagaInstance> = {}): SagaInstance {
  return {
    id: 'saga-1', type: trip.type, status: 'RUNNING', state: trip.initialState, phase: 'forward',
    cursor: 0, pivotPassed: false, input: { userId: 'user-1', tourId: 'tour-1', amount: 120.5 },
    results: {}, steps: [], version: 1, leaseEpoch: OWNER.epoch, abortRequested: false,
    deadlineAt: new Date(T0.getTime() + trip.deadlineMs), createdAt: T0, updatedAt: T0,
    ...overrides,
  }
}

function setup(saga = newSaga()) {
  const transport = new ScriptedTransport()
  const store = new FakeStore(saga.version, OWNER.epoch)
  const clock = new FakeClock()
  const mirror = { publish: vi.fn() }
  const observer = { transition: vi.fn(), stepAttempt: vi.fn(), compensationFailed: vi.fn() }
  const logger = { info: vi.fn(), warn: vi.fn(), error: vi.fn() }
  const runner = new SagaRunner({ registry: new SagaRegistry().register(trip), store, transport, clock, mirror, observer, logger })
  const drive = (resumed = false) => runner.drive(saga, OWNER, resumed)
  return { saga, transport, store, clock, mirror, observer, logger, runner, drive }
}

/** A saga stored after its first step succeeded and one attempt of `create` failed, as a crashed runner left it. */
function crashedWhileCreating(overrides: Partial<SagaInstance> = {}): SagaInstance {
  let saga = newSaga(overrides)
  saga = applyEvent(trip, saga, { type: 'STEP_SUCCEEDED', step: 0, phase: 'forward', result: bodyOf.reserve, attempts: 1, startedAt: T0 }, T0)
  saga = applyEvent(trip, saga, { type: 'STEP_RETRYING', step: CREATE, phase: 'forward', error: { code: 'TIMEOUT', message: 'no answer' }, attempts: 1, startedAt: T0 }, T0)
  return { ...saga, version: 3 }
}

describe('SagaRunner', () => {
  describe('the happy path', () => {
    it('sends each command once, in order, with a key made of saga, step and phase', async () => {
      const { drive, transport } = setup()
      const saga = await drive()
      expect(saga).toMatchObject({ status: 'COMPLETED', state: 'COMPLETED', completedAt: T0 })
      expect(transport.log).toEqual(['reserve:forward', 'create:forward', 'pay:forward', 'confirm:forward', 'notify:forward'])
      expect(transport.sent.map((s) => s.metadata.idempotencyKey)).toEqual(
        ['reserve', 'create', 'pay', 'confirm', 'notify'].map((step) => `saga-1:${step}:forward`))
      expect(transport.sent[0]!.metadata).toEqual({ idempotencyKey: 'saga-1:reserve:forward', sagaId: 'saga-1', sagaType: 'test-trip', step: 'reserve', timeoutMs: 1_500 })
    })

    it('builds each command from the input and the results of earlier steps', async () => {
      const { drive, transport } = setup()
      await drive()
      expect(transport.sent[1]!.command).toEqual({ participant: 'booking', method: 'POST', path: '/bookings', body: { userId: 'user-1', reservationId: 'res-1' } })
      expect(transport.sent[3]!.command.path).toBe('/bookings/book-1/confirm')
    })

    it('records one transition per step, each at the next version', async () => {
      const { drive, store, mirror, observer } = setup()
      const saga = await drive()
      expect(store.events).toEqual(Array(5).fill('STEP_SUCCEEDED'))
      expect(store.transitions.map((t) => [t.expectedVersion, t.saga.version])).toEqual([[1, 2], [2, 3], [3, 4], [4, 5], [5, 6]])
      expect(store.transitions.map((t) => t.stepName)).toEqual(['reserve', 'create', 'pay', 'confirm', 'notify'])
      expect(store.transitions[0]!.references).toEqual({ userId: 'user-1' })
      expect(store.transitions[1]!.references).toEqual({ userId: 'user-1', bookingId: 'book-1' })
      expect(store.transitions.at(-1)!.saga).toEqual(saga)
      expect(mirror.publish).toHaveBeenCalledTimes(5)
      expect(observer.transition).toHaveBeenCalledTimes(5)
      expect(observer.compensationFailed).not.toHaveBeenCalled()
    })
  })

  describe('transient failures', () => {
    it('retries with growing delays and records each retry', async () => {
      const { drive, transport, store, clock, observer } = setup()
      transport.script('reserve', 'forward', down(), down())
      const saga = await drive()
      expect(saga.status).toBe('COMPLETED')
      expect(transport.keysOf('reserve', 'forward')).toEqual(Array(3).fill('saga-1:reserve:forward'))
      expect(store.events.slice(0, 3)).toEqual(['STEP_RETRYING', 'STEP_RETRYING', 'STEP_SUCCEEDED'])
      expect(store.transitions.slice(0, 3).map((t) => (t.event as { attempts: number }).attempts)).toEqual([1, 2, 3])
      // 100 ms growing ×2, half of it jitter (random() is 0.5): 50 + 25, then 100 + 50.
      expect(clock.delays).toEqual([75, 150])
      expect(findRecord(saga, 'reserve', 'forward')).toMatchObject({ status: 'SUCCEEDED', attempts: 3, lastError: { code: 'SERVICE_UNAVAILABLE' } })
      expect(observer.stepAttempt.mock.calls.slice(0, 3).map(([info]) => info.outcome)).toEqual(['transient', 'transient', 'success'])
    })

    it('waits as long as the participant asks with Retry-After', async () => {
      const { drive, transport, clock } = setup()
      transport.script('reserve', 'forward', down(3_000), down(10))
      await drive()
      expect(clock.delays).toEqual([3_000, 150])
    })

    it('retries the pivot until it succeeds, even past the deadline', async () => {
      const { drive, transport, clock } = setup(newSaga({ deadlineAt: new Date(T0.getTime() + 1_000) }))
      transport.script('pay', 'forward', ...times(9, down()))
      const saga = await drive()
      expect(saga.status).toBe('COMPLETED')
      expect(transport.keysOf('pay', 'forward')).toHaveLength(10)
      expect(transport.log.filter((entry) => entry.endsWith(':compensation'))).toEqual([])
      expect(clock.time).toBeGreaterThan(saga.deadlineAt.getTime())
      expect(Math.max(...clock.delays)).toBeLessThanOrEqual(RETRY_FOREVER.maxDelayMs)
    })

    it('completes without a non-critical step that never answers', async () => {
      const { drive, transport } = setup()
      transport.script('notify', 'forward', down(), down())
      const saga = await drive()
      expect(saga.status).toBe('COMPLETED')
      expect(findRecord(saga, 'notify', 'forward')).toMatchObject({ status: 'FAILED', attempts: 2 })
    })
  })

  describe('rejections', () => {
    it('undoes the earlier steps in reverse order when the pivot is rejected', async () => {
      const { drive, transport } = setup()
      transport.script('pay', 'forward', refused('PAYMENT_DECLINED', 402))
      const saga = await drive()
      expect(saga).toMatchObject({ status: 'FAILED', state: 'COMPENSATED', error: { code: 'PAYMENT_DECLINED', status: 402, step: 'pay' } })
      expect(transport.log).toEqual(['reserve:forward', 'create:forward', 'pay:forward', 'create:compensation', 'reserve:compensation'])
      expect(transport.keysOf('create', 'compensation')).toEqual(['saga-1:create:compensation'])
      expect(transport.sent[3]!.command.path).toBe('/bookings/book-1')
    })

    it('retries a rejected step after the pivot instead of undoing anything', async () => {
      const { drive, transport, store } = setup()
      transport.script('confirm', 'forward', refused('BOOKING_LOCKED', 409), refused('BOOKING_LOCKED', 409))
      const saga = await drive()
      expect(saga.status).toBe('COMPLETED')
      expect(transport.keysOf('confirm', 'forward')).toHaveLength(3)
      expect(store.transitions.filter((t) => t.stepName === 'confirm').map((t) => t.event.type)).toEqual(['STEP_RETRYING', 'STEP_RETRYING', 'STEP_SUCCEEDED'])
      expect(transport.log.filter((entry) => entry.endsWith(':compensation'))).toEqual([])
    })
  })

  describe('a step that never answers', () => {
    it('gives up with PARTICIPANT_UNAVAILABLE, then re-sends the same command with the same key to settle it', async () => {
      const { drive, transport, store } = setup()
      transport.script('create', 'forward', ...times(3, down()))
      const saga = await drive()
      expect(transport.log).toEqual(['reserve:forward', ...Array(4).fill('create:forward'), 'create:compensation', 'reserve:compensation'])
      expect(new Set(transport.keysOf('create', 'forward'))).toEqual(new Set(['saga-1:create:forward']))
      const exhausted = store.transitions.find((t) => t.event.type === 'STEP_EXHAUSTED')!
      expect(exhausted.event).toMatchObject({ phase: 'forward', attempts: 3, error: { code: 'PARTICIPANT_UNAVAILABLE', participant: 'booking', status: 503 } })
      expect(findRecord(exhausted.saga, 'create', 'forward')).toMatchObject({ status: 'UNKNOWN', lastError: { code: 'SERVICE_UNAVAILABLE' } })
      expect(store.events).toContain('STEP_SETTLED')
      expect(saga).toMatchObject({ status: 'FAILED', error: { code: 'PARTICIPANT_UNAVAILABLE', step: 'create' } })
    })

    it('skips the undo when the settle shows the command was never applied', async () => {
      const { drive, transport } = setup()
      transport.script('create', 'forward', ...times(3, down()), refused('NOT_ENOUGH_SPOTS', 409))
      const saga = await drive()
      expect(transport.log).toEqual(['reserve:forward', ...Array(4).fill('create:forward'), 'reserve:compensation'])
      expect(findRecord(saga, 'create', 'forward')?.status).toBe('SETTLED')
      expect(saga.status).toBe('FAILED')
    })

    it('parks the saga for an operator when the settle itself gets no answer', async () => {
      const { drive, transport, observer } = setup()
      transport.script('create', 'forward', ...times(3 + 4, down()))
      const saga = await drive()
      expect(saga).toMatchObject({ status: 'COMPENSATION_FAILED', cursor: CREATE, compensationError: { step: 'create' } })
      expect(findRecord(saga, 'create', 'forward')).toMatchObject({ status: 'UNKNOWN', attempts: 7 })
      expect(transport.keysOf('create', 'forward')).toHaveLength(7)
      expect(transport.log).not.toContain('reserve:compensation')
      expect(observer.compensationFailed).toHaveBeenCalledWith(saga)
    })
  })

  describe('compensations', () => {
    it('retries a failing undo, and parks the saga after its budget with the first error kept', async () => {
      const { drive, transport, observer, logger, clock } = setup()
      transport.script('pay', 'forward', refused('PAYMENT_DECLINED', 402))
      transport.script('create', 'compensation', ...times(4, down()))
      const saga = await drive()
      expect(saga).toMatchObject({
        status: 'COMPENSATION_FAILED', cursor: CREATE,
        error: { code: 'PAYMENT_DECLINED', step: 'pay' },
        compensationError: { code: 'SERVICE_UNAVAILABLE', step: 'create' },
      })
      expect(saga.completedAt).toBeUndefined()
      expect(transport.keysOf('create', 'compensation')).toEqual(Array(4).fill('saga-1:create:compensation'))
      expect(transport.log).not.toContain('reserve:compensation')
      expect(clock.delays).toHaveLength(3)
      expect(findRecord(saga, 'create', 'compensation')).toMatchObject({ status: 'FAILED', attempts: 4 })
      expect(observer.compensationFailed).toHaveBeenCalledTimes(1)
      expect(observer.compensationFailed).toHaveBeenCalledWith(saga)
      expect(logger.error).toHaveBeenCalled()
    })

    it('retries an undo the participant refuses: a compensation cannot take no for an answer', async () => {
      const { drive, transport } = setup()
      transport.script('pay', 'forward', refused('PAYMENT_DECLINED', 402))
      transport.script('reserve', 'compensation', refused('RESERVATION_LOCKED', 409), down())
      const saga = await drive()
      expect(saga.status).toBe('FAILED')
      expect(transport.keysOf('reserve', 'compensation')).toHaveLength(3)
    })

    it('continues an operator-resumed compensation where it stopped, counting earlier attempts', async () => {
      const first = setup()
      first.transport.script('pay', 'forward', refused('PAYMENT_DECLINED', 402))
      first.transport.script('create', 'compensation', ...times(4, down()))
      const parked = await first.drive()
      const resumed = { ...applyEvent(trip, parked, { type: 'RESUME_REQUESTED' }, T0), version: parked.version + 1 }

      const second = setup(resumed)
      const saga = await second.drive()
      expect(saga.status).toBe('FAILED')
      expect(second.transport.log).toEqual(['create:compensation', 'reserve:compensation'])
      expect(findRecord(saga, 'create', 'compensation')).toMatchObject({ status: 'SUCCEEDED', attempts: 5 })
    })
  })

  describe('deadline and abort', () => {
    it('turns back before the next undoable step once the deadline has passed', async () => {
      const { drive, transport, clock } = setup()
      transport.script('reserve', 'forward', down(61_000))
      const saga = await drive()
      expect(clock.time).toBeGreaterThan(saga.deadlineAt.getTime())
      expect(transport.log).toEqual(['reserve:forward', 'reserve:forward', 'reserve:compensation'])
      expect(saga).toMatchObject({ status: 'FAILED', error: { code: 'SAGA_TIMEOUT', step: 'create' } })
    })

    it('stops retrying an undoable step once the deadline has passed, and settles it', async () => {
      const { drive, transport } = setup(newSaga({ deadlineAt: new Date(T0.getTime() + 50) }))
      transport.script('create', 'forward', down(), down())
      const saga = await drive()
      // First failure at T0 (in time), second after a 75 ms sleep (too late): then one settle.
      expect(transport.log).toEqual(['reserve:forward', 'create:forward', 'create:forward', 'create:forward', 'create:compensation', 'reserve:compensation'])
      expect(saga).toMatchObject({ status: 'FAILED', error: { code: 'SAGA_TIMEOUT', step: 'create' } })
    })

    it('re-sends the current step of a resumed saga before judging its deadline', async () => {
      const saga = crashedWhileCreating({ deadlineAt: new Date(T0.getTime() - 1) })
      const { drive, transport, store } = setup(saga)
      const driven = await drive(true)
      expect(transport.log).toEqual(['create:forward', 'create:compensation', 'reserve:compensation'])
      expect(transport.keysOf('create', 'forward')).toEqual(['saga-1:create:forward'])
      expect(store.transitions[0]!.event).toMatchObject({ type: 'STEP_SUCCEEDED', attempts: 2 })
      expect(store.events[1]).toBe('DEADLINE_PASSED')
      expect(driven).toMatchObject({ status: 'FAILED', error: { code: 'SAGA_TIMEOUT', step: 'pay' } })
    })

    it('re-sends the current step of a resumed saga before acting on an abort', async () => {
      const saga = crashedWhileCreating({ abortRequested: true })
      const { drive, transport, store } = setup(saga)
      store.abortFromWrite = 1
      const driven = await drive(true)
      expect(transport.log).toEqual(['create:forward', 'create:compensation', 'reserve:compensation'])
      expect(driven).toMatchObject({ status: 'FAILED', error: { code: 'SAGA_ABORTED', step: 'pay' } })
    })

    it('turns back before the pivot when the store reports an abort', async () => {
      const { drive, transport, store } = setup()
      store.abortFromWrite = 1
      const saga = await drive()
      expect(transport.log).toEqual(['reserve:forward', 'reserve:compensation'])
      expect(store.events).toEqual(['STEP_SUCCEEDED', 'ABORT_REQUESTED', 'STEP_SUCCEEDED'])
      expect(saga).toMatchObject({ status: 'FAILED', error: { code: 'SAGA_ABORTED', step: 'create' } })
    })

    it('stops retrying an undoable step when an abort comes in, and settles it', async () => {
      const { drive, transport, store } = setup()
      transport.script('create', 'forward', down(), down())
      store.abortFromWrite = 2 // the answer to the write of the first retry
      const saga = await drive()
      expect(transport.log).toEqual(['reserve:forward', 'create:forward', 'create:forward', 'create:forward', 'create:compensation', 'reserve:compensation'])
      expect(saga).toMatchObject({ status: 'FAILED', error: { code: 'SAGA_ABORTED', step: 'create' } })
    })

    it('ignores an abort that comes in after the pivot', async () => {
      const { drive, store } = setup()
      store.abortFromWrite = 3
      expect((await drive()).status).toBe('COMPLETED')
    })
  })

  describe('ownership', () => {
    it('stops quietly when another runner takes the saga over', async () => {
      const { drive, transport, store, logger } = setup()
      store.loseLeaseAtWrite = 2
      const saga = await drive()
      expect(saga).toMatchObject({ status: 'RUNNING', cursor: CREATE, version: 2 })
      expect(transport.log).toEqual(['reserve:forward', 'create:forward'])
      expect(logger.warn).toHaveBeenCalledWith({ sagaId: 'saga-1' }, expect.stringContaining('taken over'))
    })

    it('stops quietly when the saga was advanced by someone else meanwhile', async () => {
      const { drive, transport, store } = setup()
      store.version = 9
      const saga = await drive()
      expect(saga).toMatchObject({ status: 'RUNNING', cursor: 0, version: 1 })
      expect(transport.log).toEqual(['reserve:forward'])
    })

    it('lets an error other than a lost lease through', async () => {
      const { drive, store } = setup()
      store.recordTransition = async () => { throw new Error('connection reset') }
      await expect(drive()).rejects.toThrow('connection reset')
    })

    it('drives a saga once per process, however often it is asked', async () => {
      const { drive, runner, transport } = setup()
      const first = drive()
      const second = drive()
      expect(second).toBe(first)
      expect(runner.isRunning('saga-1')).toBe(true)
      expect(runner.inFlight).toBe(1)
      await first
      expect(runner.isRunning('saga-1')).toBe(false)
      expect(runner.inFlight).toBe(0)
      expect(transport.keysOf('reserve', 'forward')).toHaveLength(1)
    })

    it('ends a drive at its next write when stopped, leaving the saga for recovery', async () => {
      const { drive, runner, transport, clock } = setup()
      transport.script('reserve', 'forward', down())
      clock.onSleep = () => void runner.stop()
      const saga = await drive()
      await runner.stop()
      expect(transport.log).toEqual(['reserve:forward'])
      expect(saga).toMatchObject({ status: 'RUNNING', cursor: 0 })
      expect(findRecord(saga, 'reserve', 'forward')?.status).toBe('RETRYING')
    })
  })
})

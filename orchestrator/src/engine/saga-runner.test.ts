import { describe, expect, it, vi } from 'vitest'
import { InMemorySagaStore } from '../persistence/in-memory-saga-store.ts'
import { applyEvent, findRecord } from './decide.ts'
import { StoreUnavailableError, UnknownDefinitionError } from './engine-errors.ts'
import type { Clock, CommandMetadata, CommandTransport, LeaseOwner, ParticipantReply } from './ports.ts'
import { RETRY_FOREVER, type RetryPolicy } from './retry-policy.ts'
import { defineSaga, type Command } from './saga-definition.ts'
import type { Phase, SagaInstance } from './saga-instance.ts'
import { SagaRegistry } from './saga-registry.ts'
import { SagaRunner } from './saga-runner.ts'

// The runner against in-memory ports: a scripted participant transport (commands and fences),
// the in-memory store (the same rules as Postgres: versions, owner and epoch; one contract
// suite checks both), and a clock whose sleeps return at once.

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
      alreadyUndone: ['BOOKING_ALREADY_CANCELLED'],
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
const PAY = 2
const CONFIRM = 3

/** What each participant answers when nothing else is scripted. */
const bodyOf: Record<string, unknown> = {
  reserve: { reservationId: 'res-1' },
  create: { bookingId: 'book-1' },
  pay: { paymentId: 'pay-1' },
  confirm: { confirmed: true },
  notify: { notificationId: 'note-1' },
}

const ok = (body: unknown = {}): ParticipantReply => ({ kind: 'answer', status: 200, body })
const refused = (code: string, status = 422): ParticipantReply => ({ kind: 'answer', status, body: { error: { code, message: `${code} (test)` } } })
const down = (retryAfterMs?: number): ParticipantReply => ({
  kind: 'answer', status: 503, body: { error: { code: 'SERVICE_UNAVAILABLE', message: 'the service is down' } },
  ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
})
const fenced = { applied: false } as const
const stored = (status: number, body: unknown) => ({ applied: true, status, body })
const times = <T>(count: number, outcome: T) => Array.from({ length: count }, () => outcome)

interface SentCommand { step: string; phase: Phase | 'fence'; command?: Command; metadata: CommandMetadata }

/** Answers from a queue per (step, phase) — 'fence' for fences —; a success with the step's usual body once it is empty. */
class ScriptedTransport implements CommandTransport {
  readonly sent: SentCommand[] = []
  readonly #scripts = new Map<string, ParticipantReply[]>()
  /** Called before each answer: a test acts (an operator request) while a command is in flight. */
  onSend?: (entry: SentCommand) => void | Promise<void>

  script(step: string, phase: Phase | 'fence', ...outcomes: (ParticipantReply | Record<string, unknown>)[]): this {
    this.#scripts.set(`${step}:${phase}`, outcomes.map((o) => ('kind' in o ? o as ParticipantReply : ok(o))))
    return this
  }

  /** `step:phase` of every command and fence sent, in order. */
  get log(): string[] {
    return this.sent.map(({ step, phase }) => `${step}:${phase}`)
  }

  keysOf(step: string, phase: Phase | 'fence'): string[] {
    return this.sent.filter((s) => s.step === step && s.phase === phase).map((s) => s.metadata.idempotencyKey)
  }

  async send(command: Command, metadata: CommandMetadata): Promise<ParticipantReply> {
    return this.#answer({ step: metadata.step, phase: command.method === 'DELETE' ? 'compensation' : 'forward', command, metadata })
  }

  async fence(_participant: string, metadata: CommandMetadata): Promise<ParticipantReply> {
    return this.#answer({ step: metadata.step, phase: 'fence', metadata })
  }

  async #answer(entry: SentCommand): Promise<ParticipantReply> {
    // A runner that never stops would otherwise hang the test instead of failing it.
    if (this.sent.length >= 100) throw new Error('runaway runner: 100 commands sent')
    this.sent.push(entry)
    await this.onSend?.(entry)
    const scripted = this.#scripts.get(`${entry.step}:${entry.phase}`)?.shift()
    if (scripted) return scripted
    if (entry.phase === 'fence') return ok(fenced)
    return ok(entry.phase === 'forward' ? bodyOf[entry.step] : {})
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
    id: 'saga-1', type: trip.type, definitionVersion: trip.version, status: 'RUNNING', state: trip.initialState, phase: 'forward',
    cursor: 0, pivotPassed: false, input: { userId: 'user-1', tourId: 'tour-1', amount: 120.5 },
    results: {}, steps: [], version: 1, leaseEpoch: OWNER.epoch, abortRequested: false,
    deadlineAt: new Date(T0.getTime() + trip.deadlineMs), createdAt: T0, updatedAt: T0,
    ...overrides,
  }
}

function setup(saga = newSaga()) {
  const transport = new ScriptedTransport()
  const clock = new FakeClock()
  const store = new InMemorySagaStore({ now: () => clock.time })
  store.seed(saga, OWNER, { userId: 'user-1' })
  const mirror = { publish: vi.fn() }
  const observer = { transition: vi.fn(), stepAttempt: vi.fn(), incident: vi.fn() }
  const logger = { info: vi.fn(), warn: vi.fn(), error: vi.fn() }
  const runner = new SagaRunner({ registry: new SagaRegistry().register(trip), store, transport, clock, mirror, observer, logger })
  const drive = (takenOver = false) => runner.drive(saga, OWNER, takenOver)
  const events = () => store.transitions.map((t) => t.event.type)
  const operator = { actor: 'operator:ann', type: 'OPERATOR_ABORT' }
  return { saga, transport, store, clock, mirror, observer, logger, runner, drive, events, operator }
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
      expect(transport.sent[3]!.command!.path).toBe('/bookings/book-1/confirm')
    })

    it('records one transition per step, each at the next version', async () => {
      const { drive, store, mirror, observer, events } = setup()
      const saga = await drive()
      expect(events()).toEqual(Array(5).fill('STEP_SUCCEEDED'))
      expect(store.transitions.map((t) => [t.expectedVersion, t.saga.version])).toEqual([[1, 2], [2, 3], [3, 4], [4, 5], [5, 6]])
      expect(store.transitions.map((t) => t.stepName)).toEqual(['reserve', 'create', 'pay', 'confirm', 'notify'])
      expect(store.transitions[0]!.references).toEqual({ userId: 'user-1' })
      expect(store.transitions[1]!.references).toEqual({ userId: 'user-1', bookingId: 'book-1' })
      expect(await store.findSaga('saga-1')).toEqual({ ...saga, leaseEpoch: OWNER.epoch })
      expect(mirror.publish).toHaveBeenCalledTimes(5)
      expect(observer.transition).toHaveBeenCalledTimes(5)
      expect(observer.incident).not.toHaveBeenCalled()
    })
  })

  describe('transient failures', () => {
    it('retries with growing delays and records each retry', async () => {
      const { drive, transport, store, clock, observer, events } = setup()
      transport.script('reserve', 'forward', down(), down())
      const saga = await drive()
      expect(saga.status).toBe('COMPLETED')
      expect(transport.keysOf('reserve', 'forward')).toEqual(Array(3).fill('saga-1:reserve:forward'))
      expect(events().slice(0, 3)).toEqual(['STEP_RETRYING', 'STEP_RETRYING', 'STEP_SUCCEEDED'])
      expect(store.transitions.slice(0, 3).map((t) => (t.event as { attempts: number }).attempts)).toEqual([1, 2, 3])
      // 100 ms growing ×2, half of it jitter (random() is 0.5): 50 + 25, then 100 + 50.
      expect(clock.delays).toEqual([75, 150])
      expect(findRecord(saga, 'reserve', 'forward')).toMatchObject({ status: 'SUCCEEDED', attempts: 3, lastError: { code: 'SERVICE_UNAVAILABLE' } })
      expect(observer.stepAttempt.mock.calls.slice(0, 3).map(([info]) => info.outcome)).toEqual(['unknown', 'unknown', 'applied'])
    })

    it('waits as long as the participant asks with Retry-After', async () => {
      const { drive, transport, clock } = setup()
      transport.script('reserve', 'forward', down(3_000), down(10))
      await drive()
      expect(clock.delays).toEqual([3_000, 150])
    })

    it('keeps retrying a post-pivot step that gets no answer, with capped backoff', async () => {
      const { drive, transport, clock } = setup()
      transport.script('confirm', 'forward', ...times(20, down()))
      const saga = await drive()
      expect(saga.status).toBe('COMPLETED')
      expect(transport.keysOf('confirm', 'forward')).toHaveLength(21)
      expect(Math.max(...clock.delays)).toBeLessThanOrEqual(RETRY_FOREVER.maxDelayMs)
      expect(transport.log.filter((entry) => entry.endsWith(':compensation'))).toEqual([])
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
      expect(transport.sent[3]!.command!.path).toBe('/bookings/book-1')
    })

    it('parks the saga at a step rejected after the pivot, and makes no further call', async () => {
      const { drive, transport, store, observer, logger, events } = setup()
      transport.script('confirm', 'forward', refused('VALIDATION_FAILED', 400))
      const saga = await drive()
      expect(saga).toMatchObject({ status: 'PARKED', cursor: CONFIRM, incident: { step: 'confirm', kind: 'rejected', code: 'VALIDATION_FAILED', participantStatus: 400, attempts: 1 } })
      expect(transport.keysOf('confirm', 'forward')).toHaveLength(1)
      expect(transport.log).not.toContain('notify:forward')
      expect(events().at(-1)).toBe('STEP_REJECTED')
      expect(observer.incident).toHaveBeenCalledTimes(1)
      expect(logger.error).toHaveBeenCalledWith(expect.objectContaining({ sagaId: 'saga-1', status: 'PARKED' }), 'saga waits for an operator')
      // No lease is held: nothing drives it until an operator acts.
      expect(await store.claimSaga('saga-1', 'someone-else')).toBeUndefined()
      expect(await store.listOrphanedSagas({})).toEqual([])
    })
  })

  describe('a step that never answers', () => {
    it('gives up with PARTICIPANT_UNAVAILABLE, then settles it with the participant\'s fence: never by sending it again', async () => {
      const { drive, transport, store, events } = setup()
      transport.script('create', 'forward', ...times(3, down()))
      transport.script('create', 'fence', stored(201, bodyOf.create))
      const saga = await drive()
      expect(transport.log).toEqual(['reserve:forward', ...Array(3).fill('create:forward'), 'create:fence', 'create:compensation', 'reserve:compensation'])
      expect(transport.keysOf('create', 'fence')).toEqual(['saga-1:create:forward'])
      const exhausted = store.transitions.find((t) => t.event.type === 'STEP_EXHAUSTED')!
      expect(exhausted.event).toMatchObject({ phase: 'forward', attempts: 3, error: { code: 'PARTICIPANT_UNAVAILABLE', participant: 'booking', status: 503 } })
      expect(findRecord(exhausted.saga, 'create', 'forward')).toMatchObject({ status: 'UNKNOWN', lastError: { code: 'SERVICE_UNAVAILABLE' } })
      expect(events()).toContain('STEP_SETTLED')
      expect(saga).toMatchObject({ status: 'FAILED', error: { code: 'PARTICIPANT_UNAVAILABLE', step: 'create' } })
    })

    it('skips the undo when the fence shows the command was never applied (and now never will be)', async () => {
      const { drive, transport } = setup()
      transport.script('create', 'forward', ...times(3, down()))
      transport.script('create', 'fence', fenced)
      const saga = await drive()
      expect(transport.log).toEqual(['reserve:forward', ...Array(3).fill('create:forward'), 'create:fence', 'reserve:compensation'])
      expect(findRecord(saga, 'create', 'forward')?.status).toBe('SETTLED')
      expect(saga.status).toBe('FAILED')
    })

    it('asks the fence again while the command is still in progress', async () => {
      const { drive, transport } = setup()
      transport.script('create', 'forward', ...times(3, down()))
      transport.script('create', 'fence', refused('REQUEST_IN_PROGRESS', 409), fenced)
      const saga = await drive()
      expect(transport.keysOf('create', 'fence')).toHaveLength(2)
      expect(saga.status).toBe('FAILED')
    })

    it('waits for an operator when the fence itself gets no answer', async () => {
      const { drive, transport, observer } = setup()
      transport.script('create', 'forward', ...times(3, down()))
      transport.script('create', 'fence', ...times(4, down()))
      const saga = await drive()
      expect(saga).toMatchObject({ status: 'COMPENSATION_FAILED', cursor: CREATE, compensationError: { step: 'create' }, incident: { step: 'create', phase: 'forward', kind: 'unavailable' } })
      expect(findRecord(saga, 'create', 'forward')).toMatchObject({ status: 'UNKNOWN', attempts: 7 })
      expect(transport.keysOf('create', 'fence')).toHaveLength(4)
      expect(transport.log).not.toContain('reserve:compensation')
      expect(observer.incident).toHaveBeenCalledTimes(1)
    })
  })

  describe('compensations', () => {
    it('retries a failing undo, and waits for an operator after its budget with the first error kept', async () => {
      const { drive, transport, observer, logger, clock } = setup()
      transport.script('pay', 'forward', refused('PAYMENT_DECLINED', 402))
      transport.script('create', 'compensation', ...times(4, down()))
      const saga = await drive()
      expect(saga).toMatchObject({
        status: 'COMPENSATION_FAILED', cursor: CREATE,
        error: { code: 'PAYMENT_DECLINED', step: 'pay' },
        compensationError: { code: 'SERVICE_UNAVAILABLE', step: 'create' },
        incident: { step: 'create', phase: 'compensation', kind: 'unavailable', code: 'SERVICE_UNAVAILABLE', attempts: 4 },
      })
      expect(saga.completedAt).toBeUndefined()
      expect(transport.keysOf('create', 'compensation')).toEqual(Array(4).fill('saga-1:create:compensation'))
      expect(transport.log).not.toContain('reserve:compensation')
      expect(clock.delays).toHaveLength(3)
      expect(findRecord(saga, 'create', 'compensation')).toMatchObject({ status: 'FAILED', attempts: 4 })
      expect(observer.incident).toHaveBeenCalledTimes(1)
      expect(logger.error).toHaveBeenCalled()
    })

    it('waits for an operator at once when an undo is refused for good', async () => {
      const { drive, transport } = setup()
      transport.script('pay', 'forward', refused('PAYMENT_DECLINED', 402))
      transport.script('reserve', 'compensation', refused('RESERVATION_LOCKED', 409))
      const saga = await drive()
      expect(saga).toMatchObject({ status: 'COMPENSATION_FAILED', incident: { step: 'reserve', kind: 'rejected', code: 'RESERVATION_LOCKED' } })
      expect(transport.keysOf('reserve', 'compensation')).toHaveLength(1)
    })

    it('takes "already in the target state" as a successful undo', async () => {
      const { drive, transport, store } = setup()
      transport.script('pay', 'forward', refused('PAYMENT_DECLINED', 402))
      transport.script('create', 'compensation', refused('BOOKING_ALREADY_CANCELLED', 409))
      const saga = await drive()
      expect(saga).toMatchObject({ status: 'FAILED', error: { code: 'PAYMENT_DECLINED' } })
      expect(findRecord(saga, 'create', 'compensation')).toMatchObject({ status: 'SUCCEEDED', attempts: 1 })
      expect(store.transitions.find((t) => t.stepName === 'create' && t.event.type === 'STEP_SUCCEEDED' && t.event.phase === 'compensation')?.event).toMatchObject({ alreadyUndone: true })
    })

    it('continues an operator-retried compensation where it stopped, counting earlier attempts', async () => {
      const first = setup()
      first.transport.script('pay', 'forward', refused('PAYMENT_DECLINED', 402))
      first.transport.script('create', 'compensation', ...times(4, down()))
      const parked = await first.drive()
      const resumed = { ...applyEvent(trip, parked, { type: 'OPERATOR_RETRY', actor: 'op' }, T0), version: parked.version + 1 }

      const second = setup(resumed)
      const saga = await second.drive()
      expect(saga.status).toBe('FAILED')
      expect(second.transport.log).toEqual(['create:compensation', 'reserve:compensation'])
      expect(second.transport.keysOf('create', 'compensation')).toEqual(['saga-1:create:compensation'])
      expect(findRecord(saga, 'create', 'compensation')).toMatchObject({ status: 'SUCCEEDED', attempts: 5 })
    })

    it('sends a new generation of a refused undo after an operator retry', async () => {
      const first = setup()
      first.transport.script('pay', 'forward', refused('PAYMENT_DECLINED', 402))
      first.transport.script('create', 'compensation', refused('BOOKING_LOCKED', 423))
      const parked = await first.drive()
      const retried = { ...applyEvent(trip, parked, { type: 'OPERATOR_RETRY', actor: 'op' }, T0), version: parked.version + 1 }
      const second = setup(retried)
      expect((await second.drive()).status).toBe('FAILED')
      expect(second.transport.keysOf('create', 'compensation')).toEqual(['saga-1:create:compensation:g1'])
    })
  })

  describe('deadline and abort', () => {
    it('turns back before the next undoable step once the deadline has passed', async () => {
      const { drive, transport, clock } = setup()
      transport.script('create', 'forward', ok(bodyOf.create))
      clock.time = T0.getTime()
      transport.onSend = (entry) => { if (entry.step === 'reserve') clock.time += 61_000 }
      const saga = await drive()
      expect(clock.time).toBeGreaterThan(saga.deadlineAt.getTime())
      expect(transport.log).toEqual(['reserve:forward', 'reserve:compensation'])
      expect(saga).toMatchObject({ status: 'FAILED', error: { code: 'SAGA_TIMEOUT', step: 'create' } })
    })

    it('does not send a step again after a backoff that outlasted the deadline: it fences it', async () => {
      const { drive, transport } = setup()
      transport.script('reserve', 'forward', down(61_000))
      const saga = await drive()
      expect(transport.log).toEqual(['reserve:forward', 'reserve:fence'])
      expect(saga).toMatchObject({ status: 'FAILED', error: { code: 'SAGA_TIMEOUT', step: 'reserve' } })
    })

    it('stops retrying an undoable step once the deadline has passed, and settles it by its fence', async () => {
      const { drive, transport } = setup(newSaga({ deadlineAt: new Date(T0.getTime() + 50) }))
      transport.script('create', 'forward', down(), down())
      const saga = await drive()
      // First failure at T0 (in time), then a 75 ms sleep: too late to try again. One fence.
      expect(transport.log).toEqual(['reserve:forward', 'create:forward', 'create:fence', 'reserve:compensation'])
      expect(saga).toMatchObject({ status: 'FAILED', error: { code: 'SAGA_TIMEOUT', step: 'create' } })
    })

    it('binds the pivot: past the deadline it stops retrying, fences, and turns back when nothing was charged', async () => {
      const { drive, transport, clock } = setup(newSaga({ deadlineAt: new Date(T0.getTime() + 1_000) }))
      transport.script('pay', 'forward', ...times(30, down()))
      const saga = await drive()
      expect(saga).toMatchObject({ status: 'FAILED', error: { code: 'SAGA_TIMEOUT', step: 'pay' } })
      expect(transport.log.slice(-3)).toEqual(['pay:fence', 'create:compensation', 'reserve:compensation'])
      expect(transport.keysOf('pay', 'forward').length).toBeLessThan(30)
      expect(clock.time).toBeGreaterThan(T0.getTime() + 1_000)
    })

    it('binds the pivot: when the fence says it was charged after all, the saga goes forward', async () => {
      const { drive, transport } = setup(newSaga({ deadlineAt: new Date(T0.getTime() + 1_000) }))
      transport.script('pay', 'forward', ...times(30, down()))
      transport.script('pay', 'fence', stored(201, bodyOf.pay))
      const saga = await drive()
      expect(saga).toMatchObject({ status: 'COMPLETED', pivotPassed: true, results: { pay: bodyOf.pay } })
      expect(saga.error).toBeUndefined()
      expect(transport.log.filter((entry) => entry.endsWith(':compensation'))).toEqual([])
    })

    it('fences the current step of a taken-over saga past its deadline, instead of sending it again', async () => {
      const saga = crashedWhileCreating({ deadlineAt: new Date(T0.getTime() - 1) })
      const { drive, transport, events } = setup(saga)
      transport.script('create', 'fence', stored(201, bodyOf.create))
      const driven = await drive(true)
      expect(transport.log).toEqual(['create:fence', 'create:compensation', 'reserve:compensation'])
      expect(events()[0]).toBe('DEADLINE_PASSED')
      expect(driven).toMatchObject({ status: 'FAILED', error: { code: 'SAGA_TIMEOUT', step: 'create' } })
    })

    it('re-sends the current step of a taken-over saga going forward: a replay if it was applied', async () => {
      const { drive, transport } = setup(crashedWhileCreating())
      const driven = await drive(true)
      expect(transport.log[0]).toBe('create:forward')
      expect(transport.keysOf('create', 'forward')).toEqual(['saga-1:create:forward'])
      expect(driven.status).toBe('COMPLETED')
    })

    it('turns back before the pivot when an abort comes in, settling nothing that was not sent', async () => {
      const { drive, transport, store, events, operator } = setup()
      transport.onSend = async (entry) => { if (entry.step === 'reserve') await store.request('saga-1', 'abort', ['RUNNING'], operator) }
      const saga = await drive()
      expect(transport.log).toEqual(['reserve:forward', 'reserve:compensation'])
      expect(events()).toEqual(['STEP_SUCCEEDED', 'ABORT_REQUESTED', 'STEP_SUCCEEDED'])
      expect(saga).toMatchObject({ status: 'FAILED', error: { code: 'SAGA_ABORTED', step: 'create' } })
    })

    it('stops retrying the pivot when an abort comes in, wakes from its backoff, and settles it with the fence', async () => {
      const { drive, transport, store, runner, clock, operator } = setup()
      transport.script('pay', 'forward', ...times(30, down()))
      let asked = false
      clock.onSleep = () => {
        if (asked) return
        asked = true
        void store.request('saga-1', 'abort', ['RUNNING'], operator).then(() => runner.wake('saga-1'))
      }
      const saga = await drive()
      expect(saga).toMatchObject({ status: 'FAILED', error: { code: 'SAGA_ABORTED', step: 'pay' } })
      expect(transport.keysOf('pay', 'forward').length).toBeLessThanOrEqual(2)
      expect(transport.log.slice(-3)).toEqual(['pay:fence', 'create:compensation', 'reserve:compensation'])
    })

    it('goes forward when an aborted pivot turns out to have been charged', async () => {
      const { drive, transport, store, operator } = setup()
      transport.script('pay', 'forward', down())
      transport.script('pay', 'fence', stored(201, bodyOf.pay))
      transport.onSend = async (entry) => { if (entry.step === 'pay' && entry.phase === 'forward') await store.request('saga-1', 'abort', ['RUNNING'], operator) }
      const saga = await drive()
      expect(saga).toMatchObject({ status: 'COMPLETED', pivotPassed: true })
      expect(transport.keysOf('pay', 'forward')).toHaveLength(1)
    })

    it('ignores nothing: an abort after the pivot is refused by the store, and the saga completes', async () => {
      const { drive, store, transport, operator } = setup()
      let accepted: boolean | undefined
      transport.onSend = async (entry) => { if (entry.step === 'confirm') accepted = await store.request('saga-1', 'abort', ['RUNNING'], operator) }
      expect((await drive()).status).toBe('COMPLETED')
      expect(accepted).toBe(false)
    })
  })

  describe('pausing', () => {
    it('parks the saga at its next decision when a pause comes in, with who asked and why', async () => {
      const { drive, transport, store } = setup()
      transport.onSend = async (entry) => { if (entry.step === 'create') await store.request('saga-1', 'pause', ['RUNNING', 'COMPENSATING'], { type: 'OPERATOR_PAUSE', actor: 'operator:ann', reason: 'payment is broken' }) }
      const saga = await drive()
      expect(saga).toMatchObject({ status: 'PARKED', cursor: PAY, incident: { kind: 'paused', code: 'PAUSED', step: 'pay', message: 'Paused by operator:ann: payment is broken' } })
      expect(transport.log).toEqual(['reserve:forward', 'create:forward'])
      expect((await store.findSaga('saga-1'))?.pauseRequest).toBeUndefined()
    })

    it('parks a saga being retried without sending the next attempt', async () => {
      const { drive, transport, store, clock, runner } = setup()
      transport.script('confirm', 'forward', ...times(50, down()))
      clock.onSleep = () => void store.request('saga-1', 'pause', ['RUNNING'], { type: 'OPERATOR_PAUSE', actor: 'op' }).then(() => runner.wake('saga-1'))
      const saga = await drive()
      expect(saga).toMatchObject({ status: 'PARKED', incident: { step: 'confirm', code: 'PAUSED' } })
      expect(transport.keysOf('confirm', 'forward')).toHaveLength(1)
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

    it('cannot write once another owner claimed the saga (fencing by owner and epoch)', async () => {
      const { drive, transport, store } = setup()
      transport.onSend = async (entry) => { if (entry.step === 'create') await store.claimSaga('saga-1', 'runner-b', { force: true }) }
      const saga = await drive()
      expect(saga).toMatchObject({ status: 'RUNNING', cursor: CREATE })
      expect(transport.log).toEqual(['reserve:forward', 'create:forward'])
      expect((await store.findSaga('saga-1'))?.cursor).toBe(CREATE)
    })

    it('retries a write while the store fails, and goes on once it answers (a Postgres blink abandons nothing)', async () => {
      const { drive, store, transport, clock } = setup()
      const write = store.recordTransition.bind(store)
      let failures = 0
      store.recordTransition = async (transition, owner) => {
        if (transition.stepName === 'create' && failures++ < 2) throw new StoreUnavailableError(new Error('Connection terminated unexpectedly'))
        return write(transition, owner)
      }
      const saga = await drive()
      expect(saga.status).toBe('COMPLETED')
      expect(transport.keysOf('create', 'forward')).toHaveLength(1)
      expect(clock.delays).toHaveLength(2)
    })

    it('lets a store that keeps failing through, after its retry budget', async () => {
      const { drive, store, clock } = setup()
      store.recordTransition = async () => { throw new StoreUnavailableError(new Error('connection reset')) }
      await expect(drive()).rejects.toThrow('connection reset')
      expect(clock.delays).toHaveLength(7)
    })

    it('lets an error that is no outage through at once: a refused statement is a bug, not a blink', async () => {
      const { drive, store, clock } = setup()
      store.recordTransition = async () => { throw new Error('column "cursor" does not exist') }
      await expect(drive()).rejects.toThrow('column "cursor" does not exist')
      expect(clock.delays).toEqual([])
    })

    it('leaves alone a saga whose definition version it does not have', async () => {
      const { runner, transport } = setup()
      await expect(runner.drive(newSaga({ definitionVersion: 'from-a-newer-deploy' }), OWNER)).rejects.toThrow(UnknownDefinitionError)
      expect(transport.sent).toEqual([])
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

import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { configWith } from '../../../platform/config.ts'
import { createDatabase } from '../../../platform/database.ts'
import { AppError } from '../../../platform/errors.ts'
import { createLogger } from '../../../platform/logger.ts'
import type { CommandMetadata, CommandTransport, ParticipantReply } from '../engine/ports.ts'
import { defineSaga, type SagaSpec } from '../engine/saga-definition.ts'
import { SagaRegistry } from '../engine/saga-registry.ts'
import { createOrchestrator } from './create-orchestrator.ts'
import type { Orchestrator } from './orchestrator.ts'

// The operators' way out of every state, through the application layer on the real Postgres
// store, with a participant the test plays: what each action does, that it is audited, that a
// parked saga makes no calls, that actions work across orchestrator instances, and that a
// deploy of a changed definition never moves an in-flight saga onto another step.

const db = createDatabase({ poolSize: 8 })
afterAll(() => db.$disconnect())

type Answer = ParticipantReply | (() => ParticipantReply | Promise<ParticipantReply>)

/** The participants, played by the test: answers per step (then 200), every command and fence recorded. */
class Participants implements CommandTransport {
  readonly sent: { step: string; kind: 'command' | 'fence'; key: string; sagaId: string }[] = []
  readonly #answers = new Map<string, Answer[]>()
  #fallback = new Map<string, Answer>()

  answer(step: string, ...answers: Answer[]): this {
    this.#answers.set(step, answers)
    return this
  }

  /** What the step answers once its scripted answers are used up. Default: 200 {} */
  always(step: string, answer: Answer): this {
    this.#fallback.set(step, answer)
    return this
  }

  calls(sagaId: string, step?: string, kind: 'command' | 'fence' = 'command') {
    return this.sent.filter((s) => s.sagaId === sagaId && (!step || s.step === step) && s.kind === kind)
  }

  /** `step` for a forward command, `step:undo` for its compensation. */
  async send(_command: unknown, metadata: CommandMetadata): Promise<ParticipantReply> {
    this.sent.push({ step: metadata.step, kind: 'command', key: metadata.idempotencyKey, sagaId: metadata.sagaId })
    const name = metadata.idempotencyKey.includes(':compensation') ? `${metadata.step}:undo` : metadata.step
    const next = this.#answers.get(name)?.shift() ?? this.#fallback.get(name) ?? ok
    return typeof next === 'function' ? next() : next
  }

  async fence(_participant: string, metadata: CommandMetadata): Promise<ParticipantReply> {
    this.sent.push({ step: metadata.step, kind: 'fence', key: metadata.idempotencyKey, sagaId: metadata.sagaId })
    return { kind: 'answer', status: 200, body: { applied: false } }
  }
}

const ok: ParticipantReply = { kind: 'answer', status: 200, body: {} }
const down: ParticipantReply = { kind: 'answer', status: 503, body: { error: { code: 'SERVICE_UNAVAILABLE', message: 'down' } } }
const refused = (code: string, status = 400): ParticipantReply => ({ kind: 'answer', status, body: { error: { code, message: `${code} from the participant` } } })

const quick = { maxAttempts: 3, initialDelayMs: 10, multiplier: 2, maxDelayMs: 40 }
const patient = { maxAttempts: Infinity, initialDelayMs: 20, multiplier: 2, maxDelayMs: 60 }
const command = (path: string) => () => ({ participant: 'stub', method: 'POST' as const, path })
const type = `ops-${randomUUID().slice(0, 8)}`
const spec: SagaSpec<{ userId: string }> = {
  type,
  deadlineMs: 60_000,
  steps: [
    { name: 'reserve', kind: 'compensatable', state: 'RESERVED', compensatedState: 'RELEASED', retry: quick, compensationRetry: quick, invoke: command('/reserve'), compensate: command('/release') },
    { name: 'pay', kind: 'pivot', state: 'PAID', retry: patient, compensationRetry: quick, invoke: command('/pay') },
    { name: 'award', kind: 'retriable', state: 'AWARDED', retry: patient, invoke: command('/award') },
    { name: 'notify', kind: 'retriable', critical: false, state: 'NOTIFIED', retry: quick, invoke: command('/notify') },
  ],
  result: () => ({}),
  references: ({ input }) => ({ userId: input.userId }),
}
const v1 = defineSaga(spec)

const opened: Orchestrator[] = []
afterEach(async () => {
  await Promise.all(opened.splice(0).map((o) => o.stop()))
})

function open(participants: Participants, registry = new SagaRegistry().register(v1), instanceId = `ops-${randomUUID().slice(0, 6)}`) {
  const { orchestrator } = createOrchestrator(configWith({}), {
    db, redis: null, registry, transport: participants, instanceId, leaseTtlMs: 1_000, recoveryIntervalMs: 0,
    logger: createLogger({ service: 'test', level: 'silent', format: 'json' }),
  })
  orchestrator.startLeaseRenewal()
  opened.push(orchestrator)
  return orchestrator
}

const operator = { actor: 'operator:ann', reason: 'looked into it' }
const start = async (o: Orchestrator, sagaType = type) => (await o.start({ type: sagaType, input: { userId: `user-${randomUUID()}` }, callerId: 'client:test' })).saga
const settled = async (o: Orchestrator, id: string) => o.waitForOutcome(id, 10_000)
const refusal = async (work: Promise<unknown>) => {
  try {
    await work
  } catch (error) {
    if (error instanceof AppError) return { code: error.code, message: error.message }
    throw error
  }
  throw new Error('the action was accepted')
}

describe('a step rejected for good after the pivot', () => {
  it('parks the saga with an incident, makes no further call, and skip ends it', async () => {
    const participants = new Participants().answer('award', refused('VALIDATION_FAILED'))
    const o = open(participants)
    const saga = await start(o)
    const parked = (await settled(o, saga.id))!
    expect(parked).toMatchObject({ status: 'PARKED', state: 'PAID', incident: { step: 'award', phase: 'forward', kind: 'rejected', code: 'VALIDATION_FAILED', participantStatus: 400, attempts: 1 } })
    expect(o.viewOf(parked).actions).toEqual(['retry', 'skip'])
    // No loop: however long it waits, nothing is sent.
    await sleep(300)
    expect(participants.calls(saga.id, 'award')).toHaveLength(1)
    const stats = await o.stats()
    expect(stats.counts.PARKED).toBeGreaterThan(0)
    expect(stats.incidents.VALIDATION_FAILED).toBeGreaterThan(0)
    expect((await o.listSagas({ type, incidentCode: 'VALIDATION_FAILED', step: 'award', limit: 50 })).items.map((i) => i.sagaId)).toContain(saga.id)

    await o.act(saga.id, 'skip', { ...operator, result: { pointsAdded: 0 } })
    const done = (await settled(o, saga.id))!
    expect(done).toMatchObject({ status: 'COMPLETED', results: { award: { pointsAdded: 0 } } })
    expect(done.steps.find((s) => s.name === 'award')).toMatchObject({ status: 'SKIPPED' })
    expect(participants.calls(saga.id, 'award')).toHaveLength(1)
    const log = await o.events(saga.id)
    expect(log.find((e) => e.type === 'OPERATOR_SKIP')).toMatchObject({ detail: { actor: 'operator:ann', reason: 'looked into it' } })
  })

  it('is retried as a new generation of the command (a new key), and goes on', async () => {
    const participants = new Participants().answer('award', refused('VALIDATION_FAILED'))
    const o = open(participants)
    const saga = await start(o)
    expect((await settled(o, saga.id))!.status).toBe('PARKED')
    await o.act(saga.id, 'retry', operator)
    expect((await settled(o, saga.id))!.status).toBe('COMPLETED')
    expect(participants.calls(saga.id, 'award').map((c) => c.key)).toEqual([`${saga.id}:award:forward`, `${saga.id}:award:forward:g1`])
  })

  it('refuses abort, naming skip and retry', async () => {
    const o = open(new Participants().answer('award', refused('VALIDATION_FAILED')))
    const saga = await start(o)
    await settled(o, saga.id)
    expect(await refusal(o.act(saga.id, 'abort', operator))).toMatchObject({ code: 'SAGA_NOT_ABORTABLE', message: expect.stringContaining('skip or retry') })
  })

  it('can be retried by another orchestrator than the one that parked it', async () => {
    const participants = new Participants().answer('award', refused('VALIDATION_FAILED'))
    const a = open(participants)
    const saga = await start(a)
    expect((await settled(a, saga.id))!.status).toBe('PARKED')
    const b = open(participants)
    await b.act(saga.id, 'retry', operator)
    expect((await b.waitForOutcome(saga.id, 10_000))!.status).toBe('COMPLETED')
  })
})

describe('pause and resume', () => {
  it('stops a saga retrying a broken participant, makes no calls while paused, and resumes it', async () => {
    const participants = new Participants().always('award', down)
    const o = open(participants)
    const saga = await start(o)
    await expect.poll(() => participants.calls(saga.id, 'award').length, { timeout: 5_000 }).toBeGreaterThan(1)
    // Answered once honoured: the runner is woken from its backoff and parks the saga.
    expect((await o.act(saga.id, 'pause', { actor: 'operator:ann', reason: 'loyalty is being repaired' })).status).toBe('PARKED')
    const paused = await o.getSaga(saga.id)
    expect(paused.incident).toMatchObject({ kind: 'paused', code: 'PAUSED', step: 'award', message: 'Paused by operator:ann: loyalty is being repaired' })
    const callsWhilePaused = participants.calls(saga.id, 'award').length
    await sleep(300)
    expect(participants.calls(saga.id, 'award')).toHaveLength(callsWhilePaused)
    expect(await refusal(o.act(saga.id, 'pause', operator))).toMatchObject({ code: 'SAGA_NOT_PAUSABLE' })

    participants.always('award', ok)
    await o.act(saga.id, 'resume', operator)
    expect((await settled(o, saga.id))!.status).toBe('COMPLETED')
    const types = (await o.events(saga.id)).map((e) => e.type)
    expect(types).toEqual(expect.arrayContaining(['OPERATOR_PAUSE', 'PAUSED', 'OPERATOR_RESUME']))
  })

  it('refuses to resume a saga that is parked by a rejection, naming retry and skip', async () => {
    const o = open(new Participants().answer('award', refused('VALIDATION_FAILED')))
    const saga = await start(o)
    await settled(o, saga.id)
    expect(await refusal(o.act(saga.id, 'resume', operator))).toMatchObject({ code: 'SAGA_NOT_PAUSED', message: expect.stringContaining('retry or skip') })
  })
})

describe('abort', () => {
  it('stops a pivot being retried, settles it with the fence, and compensates: never accepted and then ignored', async () => {
    const participants = new Participants().always('pay', down)
    const o = open(participants)
    const saga = await start(o)
    await expect.poll(() => participants.calls(saga.id, 'pay').length, { timeout: 5_000 }).toBeGreaterThan(1)
    expect((await o.act(saga.id, 'abort', { actor: 'operator:ann', reason: 'customer called' })).status).not.toBe('RUNNING')
    const final = (await settled(o, saga.id))!
    expect(final).toMatchObject({ status: 'FAILED', error: { code: 'SAGA_ABORTED', step: 'pay' } })
    expect(participants.calls(saga.id, 'pay', 'fence')).toHaveLength(1)
    expect(participants.calls(saga.id, 'reserve').map((c) => c.key)).toEqual([`${saga.id}:reserve:forward`, `${saga.id}:reserve:compensation`])
  })

  it('is honoured by the orchestrator that drives the saga, when another one accepted it', async () => {
    const participants = new Participants().always('pay', down)
    const driver = open(participants)
    const saga = await start(driver)
    await expect.poll(() => participants.calls(saga.id, 'pay').length, { timeout: 5_000 }).toBeGreaterThan(1)
    const elsewhere = open(participants)
    await elsewhere.act(saga.id, 'abort', operator)
    expect((await driver.waitForOutcome(saga.id, 10_000))!).toMatchObject({ status: 'FAILED', error: { code: 'SAGA_ABORTED' } })
  })

  it('aborts a paused saga before its pivot', async () => {
    const participants = new Participants().always('pay', down)
    const o = open(participants)
    const saga = await start(o)
    await expect.poll(() => participants.calls(saga.id, 'pay').length, { timeout: 5_000 }).toBeGreaterThan(0)
    await o.act(saga.id, 'pause', operator)
    await expect.poll(async () => (await o.getSaga(saga.id)).status, { timeout: 5_000 }).toBe('PARKED')
    await o.act(saga.id, 'abort', operator)
    expect((await settled(o, saga.id))!).toMatchObject({ status: 'FAILED', error: { code: 'SAGA_ABORTED' } })
    expect(participants.calls(saga.id, 'pay', 'fence')).toHaveLength(1)
  })
})

describe('a compensation that cannot finish', () => {
  it('is resolved by hand and the saga goes on compensating to FAILED', async () => {
    const participants = new Participants().answer('pay', refused('PAYMENT_DECLINED', 402)).always('reserve:undo', refused('RESERVATION_LOCKED', 423))
    const o = open(participants)
    const saga = await start(o)
    const stuck = (await settled(o, saga.id))!
    expect(stuck).toMatchObject({ status: 'COMPENSATION_FAILED', incident: { step: 'reserve', phase: 'compensation', kind: 'rejected', code: 'RESERVATION_LOCKED' } })
    expect(o.viewOf(stuck).actions).toEqual(['retry', 'resolve'])
    await o.act(saga.id, 'resolve', { actor: 'operator:ann', reason: 'released in the back office' })
    expect((await settled(o, saga.id))!).toMatchObject({ status: 'FAILED', error: { code: 'PAYMENT_DECLINED' } })
  })
})

describe('bulk actions', () => {
  it('says what it would do in a dry run, then does it', async () => {
    const participants = new Participants().always('award', refused('VALIDATION_FAILED'))
    const o = open(participants)
    const sagas = [await start(o), await start(o)]
    for (const saga of sagas) await settled(o, saga.id)
    const filter = { type, step: 'award', incidentCode: 'VALIDATION_FAILED' }
    const dry = await o.bulk('skip', filter, operator, true)
    expect(dry.dryRun).toBe(true)
    expect(dry.results.filter((r) => sagas.some((s) => s.id === r.sagaId))).toEqual(sagas.map((s) => expect.objectContaining({ sagaId: s.id, outcome: 'would-do' })).reverse())
    expect((await o.getSaga(sagas[0]!.id)).status).toBe('PARKED')
    const done = await o.bulk('skip', filter, operator, false)
    expect(done.results.filter((r) => sagas.some((s) => s.id === r.sagaId)).map((r) => r.outcome)).toEqual(['done', 'done'])
    for (const saga of sagas) expect((await settled(o, saga.id))!.status).toBe('COMPLETED')
    const refusedBulk = await o.bulk('resolve', { type, status: 'COMPLETED' }, operator, true)
    expect(refusedBulk.results.every((r) => r.outcome === 'refused' && r.code === 'SAGA_NOT_RESOLVABLE')).toBe(true)
  })
})

describe('a deploy that changes a saga\'s definition', () => {
  // v2 adds a step between pay and award. Sagas started on v1 must finish on v1's steps.
  const v2 = defineSaga({ ...spec, steps: [...spec.steps.slice(0, 2), { name: 'invoice', kind: 'retriable', state: 'INVOICED', retry: patient, invoke: command('/invoice') }, ...spec.steps.slice(2)] })

  it('finishes in-flight sagas on the version they started on, and new ones on the new version', async () => {
    expect(v2.version).not.toBe(v1.version)
    // v1 is running; its sagas wait at the pivot when the deploy happens.
    let paymentUp = false
    const participants = new Participants().always('pay', () => (paymentUp ? ok : down))
    const old = open(participants)
    const inFlight = [await start(old), await start(old)]
    await expect.poll(() => inFlight.every((s) => participants.calls(s.id, 'pay').length > 0), { timeout: 5_000 }).toBe(true)
    await old.stop()
    opened.splice(opened.indexOf(old), 1)

    // The new deployment: v2 current, v1 kept for its unfinished sagas.
    paymentUp = true
    const next = open(participants, new SagaRegistry().register(v2).registerPrevious(v1))
    const summary = await next.recoverPendingSagas({ timeoutMs: 10_000 })
    expect(summary.sagaIds).toEqual(expect.arrayContaining(inFlight.map((s) => s.id)))
    for (const saga of inFlight) {
      const final = await next.getSaga(saga.id)
      expect(final).toMatchObject({ status: 'COMPLETED', definitionVersion: v1.version })
      expect(final.steps.map((s) => s.name)).toEqual(['reserve', 'pay', 'award', 'notify'])
      expect(participants.calls(saga.id, 'invoice')).toEqual([])
    }
    const fresh = await start(next)
    const final = (await next.waitForOutcome(fresh.id, 10_000))!
    expect(final).toMatchObject({ status: 'COMPLETED', definitionVersion: v2.version })
    expect(final.steps.map((s) => s.name)).toEqual(['reserve', 'pay', 'invoice', 'award', 'notify'])
  })

  it('leaves alone a saga whose version it does not have, and says so', async () => {
    const participants = new Participants().always('pay', down)
    const old = open(participants)
    const saga = await start(old)
    await expect.poll(() => participants.calls(saga.id, 'pay').length, { timeout: 5_000 }).toBeGreaterThan(0)
    await old.stop()
    opened.splice(opened.indexOf(old), 1)

    const onlyV2 = open(participants, new SagaRegistry().register(v2))
    const summary = await onlyV2.recoverPendingSagas({ timeoutMs: 2_000 })
    expect(summary.sagaIds).not.toContain(saga.id)
    expect(summary.leftAlone).toBeGreaterThanOrEqual(1)
    expect(onlyV2.viewOf(await onlyV2.getSaga(saga.id))).toMatchObject({ definitionVersion: v1.version, definitionKnown: false, actions: [] })
    expect(await refusal(onlyV2.act(saga.id, 'abort', operator))).toMatchObject({ code: 'SAGA_DEFINITION_UNKNOWN' })
    // An orchestrator that has v1 ends it.
    const withV1 = open(participants, new SagaRegistry().register(v1))
    await withV1.act(saga.id, 'abort', operator)
    expect((await withV1.waitForOutcome(saga.id, 10_000))!.status).toBe('FAILED')
  })
})

describe('recovery in bounded time', () => {
  it('ends a pass at its timeout, counting what still runs, and leaves it to the next owner', async () => {
    const participants = new Participants().always('award', down)
    const old = open(participants)
    const saga = await start(old)
    await expect.poll(() => participants.calls(saga.id, 'award').length, { timeout: 5_000 }).toBeGreaterThan(0)
    await old.stop()
    opened.splice(opened.indexOf(old), 1)

    const cli = open(participants)
    const began = Date.now()
    const summary = await cli.recoverPendingSagas({ timeoutMs: 500 })
    expect(Date.now() - began).toBeLessThan(5_000)
    expect(summary).toMatchObject({ recovered: expect.any(Number) })
    expect(summary.sagaIds).toContain(saga.id)
    expect(summary.stillRunning).toBeGreaterThanOrEqual(1)
    expect((await cli.getSaga(saga.id)).status).toBe('RUNNING')
  })
})

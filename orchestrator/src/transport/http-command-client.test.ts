import { randomUUID } from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { nock } from '../../../test/support/nock.ts'
import type { Clock, CommandMetadata, ParticipantReply } from '../engine/ports.ts'
import { defineSaga, type Command } from '../engine/saga-definition.ts'
import { SagaRegistry } from '../engine/saga-registry.ts'
import { SagaRunner } from '../engine/saga-runner.ts'
import { InMemorySagaStore } from '../persistence/in-memory-saga-store.ts'
import { HttpCommandClient, parseRetryAfter } from './http-command-client.ts'

// The orchestrator's HTTP transport against participants played by nock: what it sends, what
// it hands back for every kind of answer, and — through the engine's runner — that the
// engine's classification of those answers drives retries, back-off and fences end to end. Only the fake participant hosts
// are intercepted; local connections (Postgres, Redis, the refused-port test) go through.

const CATALOG = 'http://catalog.participant.test'
const BOOKING = 'http://booking.participant.test'
const REFUSED = 'http://127.0.0.1:9' // the discard port: nothing listens, the connection is refused

beforeAll(() => {
  nock.disableNetConnect()
  nock.enableNetConnect((host) => host.startsWith('127.0.0.1') || host.startsWith('localhost'))
})
afterEach(() => {
  nock.cleanAll()
})
afterAll(() => {
  nock.enableNetConnect()
  nock.restore()
})

// nock intercepts Node's http module: these tests use axios' own adapter (the undici one has
// its own tests against a real server, undici-adapter.test.ts).
const client = new HttpCommandClient({ baseUrls: { catalog: CATALOG, booking: BOOKING, down: REFUSED }, clientId: 'orchestrator-test', maxRetryAfterMs: 5_000, adapter: 'http' })

const reserve: Command = { participant: 'catalog', method: 'POST', path: '/api/tours/t-1/reservations', body: { spots: 2 } }

function metadata(overrides: Partial<CommandMetadata> = {}): CommandMetadata {
  const sagaId = randomUUID()
  return { idempotencyKey: `${sagaId}:reserveTour:forward`, sagaId, sagaType: 'tour-booking', step: 'reserveTour', timeoutMs: 2_000, ...overrides }
}

/** The catalog answers the reservation once with this status, body and headers. */
function catalogAnswers(status: number, body: unknown = {}, headers: Record<string, string> = {}) {
  return nock(CATALOG).post('/api/tours/t-1/reservations').reply(status, body as nock.Body, headers)
}

const participantError = (code: string, message = `${code} from the participant`) => ({ error: { code, message } })

describe('HttpCommandClient: what a command carries', () => {
  it('sends the body as JSON with the idempotency key, saga id, client id and a traceparent of the saga', async () => {
    let seen: { headers: Headers; body: unknown } | undefined
    nock(CATALOG).post('/api/tours/t-1/reservations').reply(async (request: Request) => {
      seen = { headers: request.headers, body: await request.json() }
      return [201, { reservationId: 'r-1' }]
    })
    const meta = metadata()
    const outcome = await client.send(reserve, meta)

    expect(outcome).toEqual({ kind: 'answer', status: 201, body: { reservationId: 'r-1' } })
    expect(seen!.body).toEqual({ spots: 2 })
    expect(seen!.headers.get('content-type')).toMatch(/^application\/json/)
    expect(seen!.headers.get('idempotency-key')).toBe(meta.idempotencyKey)
    expect(seen!.headers.get('x-saga-id')).toBe(meta.sagaId)
    expect(seen!.headers.get('x-saga-type')).toBe('tour-booking')
    expect(seen!.headers.get('x-client-id')).toBe('orchestrator-test')
    const traceparent = seen!.headers.get('traceparent')!
    expect(traceparent).toMatch(/^00-[\da-f]{32}-[\da-f]{16}-01$/)
    expect(traceparent.split('-')[1]).toBe(meta.sagaId.replaceAll('-', ''))
  })

  it('starts a new span for every attempt within the same trace', async () => {
    const traceparents: string[] = []
    nock(CATALOG).post('/api/tours/t-1/reservations').times(2).reply((request: Request) => {
      traceparents.push(request.headers.get('traceparent')!)
      return [200, {}]
    })
    const meta = metadata()
    await client.send(reserve, meta)
    await client.send(reserve, meta)
    expect(traceparents.map((t) => t.split('-')[1])).toEqual([meta.sagaId.replaceAll('-', ''), meta.sagaId.replaceAll('-', '')])
    expect(traceparents[0]!.split('-')[2]).not.toBe(traceparents[1]!.split('-')[2])
  })

  it('sends an empty JSON object for a command without a body', async () => {
    let body: unknown
    nock(BOOKING).post('/api/bookings/b-1/reinstate').reply(async (request: Request) => {
      body = await request.json()
      return [200, {}]
    })
    await client.send({ participant: 'booking', method: 'POST', path: '/api/bookings/b-1/reinstate' }, metadata())
    expect(body).toEqual({})
  })
})

describe('HttpCommandClient: answers come back as they came', () => {
  it.each([200, 201, 204])('hands back %i with the parsed body', async (status) => {
    catalogAnswers(status, status === 204 ? '' : { reservationId: 'r-9' })
    expect(await client.send(reserve, metadata())).toEqual({ kind: 'answer', status, body: status === 204 ? null : { reservationId: 'r-9' } })
  })

  it.each([400, 402, 404, 409, 422, 500, 503])('hands back %i with the participant\'s error body, for the engine to judge', async (status) => {
    catalogAnswers(status, participantError('SOME_CODE', 'the participant explains'))
    expect(await client.send(reserve, metadata())).toEqual({ kind: 'answer', status, body: participantError('SOME_CODE', 'the participant explains') })
  })

  it('keeps a body that is not JSON as text rather than failing', async () => {
    catalogAnswers(200, '{ not json', { 'content-type': 'application/json' })
    expect(await client.send(reserve, metadata())).toEqual({ kind: 'answer', status: 200, body: '{ not json' })
    catalogAnswers(502, 'Bad Gateway', { 'content-type': 'text/plain' })
    expect(await client.send(reserve, metadata())).toEqual({ kind: 'answer', status: 502, body: 'Bad Gateway' })
  })

  it('does not follow a redirect', async () => {
    catalogAnswers(302, '', { location: 'http://elsewhere.test/' })
    expect(await client.send(reserve, metadata())).toMatchObject({ kind: 'answer', status: 302 })
  })

  it('has no answer for a participant it has no address for', async () => {
    const outcome = await client.send({ ...reserve, participant: 'nobody' }, metadata())
    expect(outcome).toMatchObject({ kind: 'no-answer', error: { code: 'UNKNOWN_PARTICIPANT', participant: 'nobody' } })
  })

  it('sends its service token as a bearer header when it has one', async () => {
    const withToken = new HttpCommandClient({ baseUrls: { catalog: CATALOG }, token: 'tok-orchestrator', adapter: 'http' })
    let authorization: string | undefined
    nock(CATALOG).post('/api/tours/t-1/reservations').reply((request: Request) => {
      authorization = request.headers.get('authorization') ?? undefined
      return [201, {}]
    })
    await withToken.send(reserve, metadata())
    expect(authorization).toBe('Bearer tok-orchestrator')
  })
})

describe('HttpCommandClient: fences', () => {
  it('asks the participant to fence the command\'s key, with the saga\'s headers', async () => {
    const meta = metadata()
    let seen: Headers | undefined
    nock(CATALOG).post(`/api/idempotency-keys/${encodeURIComponent(meta.idempotencyKey)}/fence`).reply((request: Request) => {
      seen = request.headers
      return [200, { applied: false }]
    })
    expect(await client.fence('catalog', meta)).toEqual({ kind: 'answer', status: 200, body: { applied: false } })
    expect(seen?.get('idempotency-key')).toBe(meta.idempotencyKey)
    expect(seen?.get('x-saga-id')).toBe(meta.sagaId)
  })
})

describe('HttpCommandClient: Retry-After', () => {
  it('reads Retry-After in seconds', async () => {
    catalogAnswers(503, participantError('SERVICE_UNAVAILABLE'), { 'retry-after': '2' })
    expect(await client.send(reserve, metadata())).toMatchObject({ kind: 'answer', status: 503, retryAfterMs: 2_000 })
  })

  it('reads Retry-After as an HTTP date', async () => {
    const at = new Date(Date.now() + 4_000).toUTCString()
    catalogAnswers(429, participantError('RATE_LIMITED'), { 'retry-after': at })
    const outcome = await client.send(reserve, metadata()) as Extract<ParticipantReply, { kind: 'answer' }>
    // The date has whole seconds: between 3 and 4 seconds from now.
    expect(outcome.retryAfterMs).toBeGreaterThan(2_000)
    expect(outcome.retryAfterMs).toBeLessThanOrEqual(4_000)
  })

  it('caps a Retry-After asking for too long, as seconds or as a date', async () => {
    catalogAnswers(503, participantError('SERVICE_UNAVAILABLE'), { 'retry-after': '86400' })
    expect(await client.send(reserve, metadata())).toMatchObject({ retryAfterMs: 5_000 })
    catalogAnswers(503, participantError('SERVICE_UNAVAILABLE'), { 'retry-after': new Date(Date.now() + 3_600_000).toUTCString() })
    expect(await client.send(reserve, metadata())).toMatchObject({ retryAfterMs: 5_000 })
  })

  it('ignores a Retry-After it cannot read', async () => {
    catalogAnswers(503, participantError('SERVICE_UNAVAILABLE'), { 'retry-after': 'soon' })
    const outcome = await client.send(reserve, metadata())
    expect(outcome.kind).toBe('answer')
    expect(outcome).not.toHaveProperty('retryAfterMs')
  })

  it('parses the forms the header may take', () => {
    const now = Date.parse('2030-01-01T00:00:00Z')
    expect(parseRetryAfter('3', now)).toBe(3_000)
    expect(parseRetryAfter(' 0 ', now)).toBe(0)
    expect(parseRetryAfter('Tue, 01 Jan 2030 00:00:10 GMT', now)).toBe(10_000)
    expect(parseRetryAfter('Mon, 31 Dec 2029 23:59:00 GMT', now)).toBe(0) // in the past: at once
    expect(parseRetryAfter(['7', '9'], now)).toBe(7_000)
    expect(parseRetryAfter('999999', now, 30_000)).toBe(30_000)
    expect(parseRetryAfter('next tuesday-ish', now)).toBeUndefined()
    expect(parseRetryAfter('', now)).toBeUndefined()
    expect(parseRetryAfter(undefined, now)).toBeUndefined()
  })
})

describe('HttpCommandClient: network failures', () => {
  it('gives up on an answer slower than the step\'s timeout: no answer, TIMEOUT', async () => {
    nock(CATALOG).post('/api/tours/t-1/reservations').delay(1_000).reply(201, { reservationId: 'too-late' })
    const began = Date.now()
    const outcome = await client.send(reserve, metadata({ timeoutMs: 100 }))
    expect(outcome).toEqual({ kind: 'no-answer', error: { code: 'TIMEOUT', message: 'catalog did not answer within 100 ms', participant: 'catalog' } })
    expect(Date.now() - began).toBeLessThan(900)
  })

  it('has no answer from a refused connection: NETWORK_ERROR', async () => {
    const outcome = await client.send({ ...reserve, participant: 'down' }, metadata())
    expect(outcome).toMatchObject({ kind: 'no-answer', error: { code: 'NETWORK_ERROR', participant: 'down' } })
    expect((outcome as { error: { message: string } }).error.message).toContain('ECONNREFUSED')
  })

  it('has no answer from a connection dropped mid-request: NETWORK_ERROR', async () => {
    nock(CATALOG).post('/api/tours/t-1/reservations').replyWithError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))
    expect(await client.send(reserve, metadata())).toMatchObject({ kind: 'no-answer', error: { code: 'NETWORK_ERROR', message: 'catalog unreachable: ECONNRESET' } })
  })
})

// ---------------------------------------------------------------------------------------------
// End to end through the engine: the runner, this client, nock as the participant.

const QUICK = { maxAttempts: 3, initialDelayMs: 100, multiplier: 2, maxDelayMs: 1_000 }

const oneStep = defineSaga<{ tourId: string }>({
  type: 'transport-probe',
  deadlineMs: 600_000,
  steps: [
    {
      name: 'reserveTour', kind: 'compensatable', state: 'TOUR_RESERVED', retry: QUICK, compensationRetry: QUICK, timeoutMs: 250,
      invoke: ({ input }) => ({ participant: 'catalog', method: 'POST', path: `/api/tours/${input.tourId}/reservations`, body: { spots: 1 } }),
      compensate: () => ({ participant: 'catalog', method: 'POST', path: '/api/reservations/r-1/release' }),
    },
  ],
  result: ({ results }) => ({ reservationId: results.reserveTour?.reservationId }),
})

/** Sleeps return at once; each is recorded and moves time on. */
class RecordingClock implements Clock {
  readonly delays: number[] = []
  time = Date.now()
  now(): Date { return new Date(this.time) }
  random(): number { return 0.5 }
  async sleep(ms: number): Promise<void> {
    this.delays.push(ms)
    this.time += ms
  }
}

async function runnerWith() {
  const store = new InMemorySagaStore()
  const clock = new RecordingClock()
  const runner = new SagaRunner({ registry: new SagaRegistry().register(oneStep), store, transport: client, clock })
  const sagaId = randomUUID()
  const owner = { ownerId: 'test', epoch: 1 }
  const { saga } = await store.createSaga({
    id: sagaId, type: oneStep.type, definitionVersion: oneStep.version, state: oneStep.initialState, input: { tourId: 't-1' },
    deadlineAt: new Date(clock.time + oneStep.deadlineMs), references: {},
  }, owner)
  return { store, clock, drive: () => runner.drive(saga, owner), sagaId }
}

describe('retries through the engine with the real client', () => {
  it('retries 500, 500 and succeeds on the third attempt, with the same key every time', async () => {
    const keys: string[] = []
    nock(CATALOG).post('/api/tours/t-1/reservations').times(3).reply((request: Request) => {
      keys.push(request.headers.get('idempotency-key')!)
      return keys.length < 3 ? [500, participantError('INTERNAL_ERROR')] : [201, { reservationId: 'r-1' }]
    })
    const { drive, store, clock, sagaId } = await runnerWith()
    const saga = await drive()

    expect(saga.status).toBe('COMPLETED')
    expect(saga.results.reserveTour).toEqual({ reservationId: 'r-1' })
    expect(keys).toEqual(Array(3).fill(`${sagaId}:reserveTour:forward`))
    expect(store.transitions.map((t) => t.event.type)).toEqual(['STEP_RETRYING', 'STEP_RETRYING', 'STEP_SUCCEEDED'])
    expect(saga.steps[0]).toMatchObject({ status: 'SUCCEEDED', attempts: 3, lastError: { code: 'INTERNAL_ERROR', status: 500 } })
    // Backing off: 100 ms then 200 ms ceilings, half jitter at random() = 0.5.
    expect(clock.delays).toEqual([75, 150])
  })

  it('waits at least as long as a 429\'s Retry-After before trying again', async () => {
    catalogAnswers(429, participantError('RATE_LIMITED'), { 'retry-after': '1' })
    catalogAnswers(201, { reservationId: 'r-1' })
    const { drive, clock } = await runnerWith()
    const saga = await drive()
    expect(saga.status).toBe('COMPLETED')
    expect(clock.delays).toHaveLength(1)
    expect(clock.delays[0]).toBeGreaterThanOrEqual(1_000)
  })

  it('fails the step without retrying when the participant rejects it', async () => {
    const reservations = catalogAnswers(422, participantError('INSUFFICIENT_SPOTS'))
    const { drive, clock } = await runnerWith()
    const saga = await drive()
    expect(reservations.isDone()).toBe(true)
    expect(saga).toMatchObject({ status: 'FAILED', error: { code: 'INSUFFICIENT_SPOTS', status: 422, step: 'reserveTour' } })
    expect(clock.delays).toEqual([])
  })

  it('gives up with PARTICIPANT_UNAVAILABLE after timing out on every attempt', async () => {
    const slow = nock(CATALOG).post('/api/tours/t-1/reservations').times(3).delay(600).reply(201, { reservationId: 'too-late' })
    // Then the unknown outcome is settled with the catalog's fence: never applied.
    const fence = nock(CATALOG).post(/\/api\/idempotency-keys\/.+\/fence$/).reply(200, { applied: false })
    const { drive, store } = await runnerWith()
    const saga = await drive()
    expect(slow.isDone()).toBe(true)
    expect(fence.isDone()).toBe(true)
    expect(saga).toMatchObject({ status: 'FAILED', error: { code: 'PARTICIPANT_UNAVAILABLE', step: 'reserveTour' } })
    expect(store.transitions.slice(0, 3).map((t) => t.event.type)).toEqual(['STEP_RETRYING', 'STEP_RETRYING', 'STEP_EXHAUSTED'])
    expect(store.transitions.slice(0, 3).map((t) => (t.event as { error?: { code: string } }).error?.code)).toEqual(['TIMEOUT', 'TIMEOUT', 'PARTICIPANT_UNAVAILABLE'])
  })
})

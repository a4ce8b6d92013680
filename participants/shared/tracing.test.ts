import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HttpCommandClient, traceparentFor } from '../../orchestrator/src/transport/http-command-client.ts'
import { captureLogs } from '../../test/support/log-capture.ts'
import { participantHarness, read } from '../../test/support/participant-harness.ts'
import { buildParticipant } from './build-participant.ts'
import { requestBindings } from '../../platform/request-context.ts'
import { DEV_SERVICE_TOKEN } from '../../platform/service-tokens.ts'

// Tracing: the orchestrator sends each command with the saga id and a W3C traceparent whose
// trace id is that saga id; a participant puts both on every line it logs for the request,
// so grepping all services' logs for one saga finds its whole story.

const raw = (headers: Record<string, string | string[]>) => ({ headers }) as unknown as IncomingMessage

describe('requestBindings', () => {
  it('takes the saga id and the trace and parent span ids from a W3C traceparent', () => {
    const bindings = requestBindings(raw({ 'x-saga-id': 'saga-7', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }))
    expect(bindings).toEqual({ sagaId: 'saga-7', traceId: '0af7651916cd43dd8448eb211c80319c', parentSpanId: 'b7ad6b7169203331' })
  })

  it('ignores a malformed traceparent and an overlong saga id rather than logging them', () => {
    for (const traceparent of ['00-xyz-b7ad6b7169203331-01', '0af7651916cd43dd8448eb211c80319c', '00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01 trailing']) {
      expect(requestBindings(raw({ traceparent }))).toEqual({})
    }
    expect(requestBindings(raw({ 'x-saga-id': 'x'.repeat(65) }))).toEqual({})
  })

  it('binds nothing for a request without trace headers', () => {
    expect(requestBindings(raw({}))).toEqual({})
  })
})

const harness = participantHarness()
const logs = captureLogs({ service: 'probe' })
let app: FastifyInstance

async function probeRoutes(app: FastifyInstance): Promise<void> {
  app.get('/probe/read', async (request) => {
    request.log.info('reading')
    return { ok: true }
  })
  // A command: goes through the idempotency plugin's key check and transaction.
  app.post('/probe/commands', async (request, reply) => {
    request.log.info({ step: 'one' }, 'applying the command')
    request.log.warn('and warning about it')
    reply.code(201)
    return { applied: true }
  })
}

beforeAll(async () => {
  app = await buildParticipant({ name: 'tour-catalog', schema: 'tour_catalog', routes: probeRoutes, db: harness.db, redis: null, logger: logs.logger })
  await app.listen({ port: 0, host: '127.0.0.1' })
})
afterAll(async () => {
  await app?.close()
  await harness.close()
})

/** Lines logged while handling the request(s) with these ids (Fastify's reqId binding). */
function linesOf(reqIds: Set<unknown>) {
  return logs.lines().filter((line) => reqIds.has(line.reqId))
}

function reqIdsWhere(predicate: (line: Record<string, unknown>) => boolean): Set<unknown> {
  return new Set(logs.lines().filter(predicate).map((line) => line.reqId))
}

describe('a participant logging a request', () => {
  it('puts the saga id and trace id on every line of the request, its own lines included', async () => {
    const sagaId = randomUUID()
    const traceparent = traceparentFor(sagaId)
    const response = await read(app, '/probe/read', { 'x-saga-id': sagaId, traceparent })
    expect(response.statusCode).toBe(200)

    const lines = linesOf(reqIdsWhere((line) => line.sagaId === sagaId))
    // The handler's own line, and the one line per request (platform/request-log.ts).
    expect(lines.map((line) => line.msg)).toEqual(['reading', 'request completed'])
    expect(lines[1]).toMatchObject({ req: { method: 'GET', url: '/probe/read' }, res: { statusCode: 200 } })
    expect(lines[1]!.responseTime).toBeGreaterThan(0)
    for (const line of lines) {
      expect(line).toMatchObject({ sagaId, traceId: sagaId.replaceAll('-', ''), parentSpanId: traceparent.split('-')[2], service: 'probe' })
    }
  })

  it('keeps the ids of concurrent requests apart', async () => {
    const sagas = [randomUUID(), randomUUID(), randomUUID()]
    await Promise.all(sagas.map((sagaId) =>
      read(app, '/probe/read', { 'x-saga-id': sagaId, traceparent: traceparentFor(sagaId) })))
    for (const sagaId of sagas) {
      const lines = linesOf(reqIdsWhere((line) => line.sagaId === sagaId))
      expect(lines).toHaveLength(2)
      expect(new Set(lines.map((line) => line.traceId))).toEqual(new Set([sagaId.replaceAll('-', '')]))
    }
  })
})

describe('a command sent by the orchestrator\'s HTTP client', () => {
  it('is logged by the participant with the saga id and the saga id as trace id', async () => {
    const address = app.server.address()
    const port = typeof address === 'object' && address ? address.port : 0
    const client = new HttpCommandClient({ baseUrls: { probe: `http://127.0.0.1:${port}` }, token: DEV_SERVICE_TOKEN })
    const sagaId = randomUUID()

    const outcome = await client.send(
      { participant: 'probe', method: 'POST', path: '/probe/commands', body: { anything: 1 } },
      { idempotencyKey: `${sagaId}:apply:forward`, sagaId, sagaType: 'probe-saga', step: 'apply', timeoutMs: 5_000 },
    )
    expect(outcome).toMatchObject({ kind: 'answer', status: 201, body: { applied: true } })

    const lines = linesOf(reqIdsWhere((line) => line.msg === 'applying the command' && line.sagaId === sagaId))
    expect(lines.map((line) => line.msg)).toEqual(['applying the command', 'and warning about it', 'request completed'])
    for (const line of lines) expect(line).toMatchObject({ sagaId, traceId: sagaId.replaceAll('-', '') })
  })
})

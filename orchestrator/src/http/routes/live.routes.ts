import type { FastifyInstance } from 'fastify'
import { AppError } from '../../../../platform/errors.ts'
import { sagaView } from '../../application/saga-view.ts'
import { isTerminal } from '../../engine/saga-instance.ts'
import { RedisSagaUpdates } from '../../persistence/redis-saga-updates.ts'
import { errorSchema, sagaIdParams } from '../schemas/common.ts'

/** While Redis is down the stream polls Postgres this often; with Redis, as a safety net. */
const POLL_WITHOUT_REDIS_MS = 1_000
const POLL_WITH_REDIS_MS = 15_000

/** Who is calling, counts per status, and a saga's live updates as server-sent events. */
export default async function liveRoutes(app: FastifyInstance): Promise<void> {
  const updates = new RedisSagaUpdates(app.redis)
  // Open streams end with the app, or closing would wait for every watching page.
  const streams = new Set<() => void>()
  app.addHook('onClose', async () => {
    for (const end of streams) end()
    updates.close()
  })

  app.get('/api/orchestrator/me', {
    schema: { summary: 'The role of the calling token (and the userId of an end user\'s)', tags: ['support'], security: [{ bearer: [] }] },
    preHandler: app.requireRole('client', 'support', 'operator', 'user'),
  }, async (request) => {
    const principal = request.principal!
    return principal.role === 'user' ? { role: principal.role, userId: principal.userId } : { role: principal.role }
  })

  app.get('/api/orchestrator/sagas/stats', {
    schema: { summary: 'Number of sagas per status', tags: ['support'], security: [{ bearer: [] }] },
    preHandler: app.requireRole('support'),
  }, async () => ({ counts: await app.orchestrator.store.countByStatus() }))

  app.get<{ Params: { sagaId: string } }>('/api/orchestrator/sagas/:sagaId/events', {
    schema: {
      summary: 'Server-sent events: the saga view, again on every transition',
      tags: ['support'],
      security: [{ bearer: [] }],
      params: sagaIdParams,
      response: { 404: errorSchema },
    },
    preHandler: app.requireRole('support'),
  }, async (request, reply) => {
    const first = await app.orchestrator.store.findSaga(request.params.sagaId)
    if (!first) throw new AppError('SAGA_NOT_FOUND')

    reply.hijack()
    const raw = reply.raw
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    })
    let version = -1
    const send = (json: string, sagaVersion: number) => {
      if (sagaVersion <= version) return
      version = sagaVersion
      raw.write(`event: saga\nid: ${sagaVersion}\ndata: ${json}\n\n`)
    }
    send(JSON.stringify(sagaView(first)), first.version)

    const unsubscribe = updates.subscribe(first.id, (json) => {
      const parsed = JSON.parse(json) as { version?: number }
      send(json, parsed.version ?? version + 1)
    })
    const poll = async () => {
      const saga = await app.orchestrator.store.findSaga(first.id).catch(() => undefined)
      if (saga) send(JSON.stringify(sagaView(saga)), saga.version)
      schedule()
    }
    let timer: NodeJS.Timeout
    const schedule = () => { timer = setTimeout(poll, updates.live ? POLL_WITH_REDIS_MS : POLL_WITHOUT_REDIS_MS) }
    schedule()
    // Comments keep proxies from closing an idle stream.
    const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), 15_000)
    const close = () => {
      clearTimeout(timer)
      clearInterval(heartbeat)
      unsubscribe()
      streams.delete(end)
    }
    const end = () => { close(); raw.end() }
    streams.add(end)
    request.raw.on('close', close)
    if (isTerminal(first.status)) raw.write('event: settled\ndata: {}\n\n')
  })
}

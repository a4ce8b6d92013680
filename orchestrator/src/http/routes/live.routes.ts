import type { FastifyInstance } from 'fastify'
import { isTerminal, SAGA_STATUSES } from '../../engine/saga-instance.ts'
import { errorSchema, sagaIdParams } from '../schemas/common.ts'

/** While Redis is down the stream polls Postgres this often; with Redis, as a safety net. */
const POLL_WITHOUT_REDIS_MS = 1_000
const POLL_WITH_REDIS_MS = 15_000

/** Who is calling, counts per status, and a saga's live updates as server-sent events. */
export default async function liveRoutes(app: FastifyInstance): Promise<void> {
  // Open streams end with the app, or closing would wait for every watching page.
  const streams = new Set<() => void>()
  app.addHook('onClose', async () => {
    for (const end of streams) end()
  })

  app.get('/api/orchestrator/me', {
    schema: { summary: 'The role of the calling token (and the userId of an end user\'s), and the statuses a saga can have', tags: ['support'], security: [{ bearer: [] }] },
    preHandler: app.requireRole('client', 'support', 'operator', 'user'),
  }, async (request) => {
    const principal = request.principal!
    return { role: principal.role, ...(principal.role === 'user' ? { userId: principal.userId } : {}), statuses: SAGA_STATUSES }
  })

  app.get('/api/orchestrator/sagas/stats', {
    schema: { summary: 'Sagas per status (every status, zeros included) and waiting sagas per incident code', tags: ['support'], security: [{ bearer: [] }] },
    preHandler: app.requireRole('support'),
  }, async () => app.orchestrator.stats())

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
    const first = await app.orchestrator.getSaga(request.params.sagaId)

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
    send(JSON.stringify(app.orchestrator.viewOf(first)), first.version)

    const unsubscribe = app.orchestrator.watch(first.id, (json) => {
      const parsed = JSON.parse(json) as { version?: number }
      send(json, parsed.version ?? version + 1)
    }) ?? (() => {})
    const poll = async () => {
      const saga = await app.orchestrator.getSaga(first.id).catch(() => undefined)
      if (saga) send(JSON.stringify(app.orchestrator.viewOf(saga)), saga.version)
      schedule()
    }
    let timer: NodeJS.Timeout
    const schedule = () => { timer = setTimeout(poll, app.orchestrator.liveUpdates ? POLL_WITH_REDIS_MS : POLL_WITHOUT_REDIS_MS) }
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

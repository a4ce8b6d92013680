import { configWith } from '../../platform/config.ts'
import { DEV_SERVICE_TOKEN } from '../../platform/service-tokens.ts'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { createLogger } from '../../platform/logger.ts'
import type { ParticipantName } from '../../platform/services.ts'
import { PARTICIPANT_NAMES } from '../../platform/services.ts'
import { buildAnalytics } from '../../participants/analytics/analytics.app.ts'
import { buildBooking } from '../../participants/booking/booking.app.ts'
import { buildHotel } from '../../participants/hotel/hotel.app.ts'
import { buildLoyalty } from '../../participants/loyalty/loyalty.app.ts'
import { buildNotification } from '../../participants/notification/notification.app.ts'
import { buildPayment } from '../../participants/payment/payment.app.ts'
import { buildTourCatalog } from '../../participants/tour-catalog/tour-catalog.app.ts'
import { buildOrchestratorApp, type OrchestratorAppOptions } from '../../orchestrator/src/http/app.ts'
import type { SagaRegistry } from '../../orchestrator/src/engine/saga-registry.ts'
import { HttpCommandClient } from '../../orchestrator/src/transport/http-command-client.ts'
import { asService, participantHarness } from './participant-harness.ts'

const BUILDERS = {
  'tour-catalog': buildTourCatalog,
  booking: buildBooking,
  payment: buildPayment,
  notification: buildNotification,
  hotel: buildHotel,
  loyalty: buildLoyalty,
  analytics: buildAnalytics,
} satisfies Record<ParticipantName, unknown>

/**
 * A fault a test injects into a real participant: the participant's own code runs, but the
 * matching requests are answered by the fault first (for `times` requests, or forever).
 */
export interface Fault {
  participant: ParticipantName
  method?: string
  /** Matches the route pattern, e.g. '/api/reservations/:reservationId/release'. */
  route: string
  status: number
  body?: unknown
  headers?: Record<string, string>
  /** Default: every matching request. */
  times?: number
}

export interface SystemOptions {
  /** Participants not to start: their URL points at a closed port (a service that is down). */
  down?: ParticipantName[]
  registry?: SagaRegistry
  orchestrator?: Partial<OrchestratorAppOptions>
  /** Extra build options per participant (e.g. `{ analytics: { consumers: [...] } }`). */
  participants?: Partial<Record<ParticipantName, Record<string, unknown>>>
  /** A Redis of the test's own (an outage test's server). Default: `REDIS_URL`. */
  redisUrl?: string
}

/**
 * The whole system in this process, over real HTTP on ephemeral ports, with the real
 * Postgres and Redis: six participants and the orchestrator.
 */
export async function startSystem(options: SystemOptions = {}) {
  const shared = participantHarness(options.redisUrl ? { redisUrl: options.redisUrl } : {})
  const faults: (Fault & { hits: number })[] = []
  const participants = new Map<ParticipantName, FastifyInstance>()
  const baseUrls: Record<string, string> = {}
  const quiet = createLogger({ service: 'test', level: process.env.LOG_LEVEL ?? 'silent', format: 'json' })

  // The notification service first: the tour catalog tells waiting customers through it.
  const order = [...PARTICIPANT_NAMES].sort((a, b) => Number(b === 'notification') - Number(a === 'notification'))
  for (const name of order) {
    if (options.down?.includes(name)) {
      baseUrls[name] = 'http://127.0.0.1:9' // discard port: nothing listens, connections are refused
      continue
    }
    const app: FastifyInstance = await (BUILDERS[name] as (o: object) => Promise<FastifyInstance>)({
      db: shared.db,
      redis: shared.redis,
      logger: quiet.child({ service: name }),
      ...(name === 'tour-catalog' ? { notificationUrl: baseUrls.notification } : {}),
      ...options.participants?.[name],
    })
    app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      const fault = faults.find((f) => f.participant === name && f.route === request.routeOptions.url &&
        (!f.method || f.method === request.method) && (f.times === undefined || f.hits < f.times))
      if (!fault) return
      fault.hits++
      return reply.code(fault.status).headers(fault.headers ?? {}).send(fault.body ?? { error: { code: 'INJECTED_FAULT', message: `fault injected by the test (${fault.status})` } })
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    const address = app.server.address()
    baseUrls[name] = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`
    participants.set(name, app)
  }

  const orchestrator = await buildOrchestratorApp({
    db: shared.db,
    redis: shared.redis,
    logger: quiet.child({ service: 'orchestrator' }),
    transport: new HttpCommandClient({ baseUrls, token: DEV_SERVICE_TOKEN }),
    ...(baseUrls.analytics ? { analyticsUrl: baseUrls.analytics } : {}),
    config: configWith({ RATE_LIMIT_MAX: '0', API_TOKENS: '', NODE_ENV: 'test' }),
    ...(options.registry ? { registry: options.registry } : {}),
    ...options.orchestrator,
  })
  await orchestrator.ready()
  // Leases stay alive while tests run, so no other orchestrator sharing the test database
  // (the cross-process suites) mistakes these sagas for orphans.
  orchestrator.orchestrator.startLeaseRenewal()

  return {
    orchestrator,
    db: shared.db,
    redis: shared.redis,
    baseUrls,
    /** A participant, whose `inject` sends the orchestrator's (dev) service token unless told otherwise. */
    participant(name: ParticipantName): FastifyInstance {
      const app = participants.get(name)
      if (!app) throw new Error(`${name} is down in this system`)
      return asService(app)
    },
    /** Makes a participant answer matching requests with an error; returns a handle to count hits. */
    inject(fault: Fault) {
      const entry = { ...fault, hits: 0 }
      faults.push(entry)
      return entry
    },
    clearFaults() {
      faults.length = 0
    },
    async close() {
      await orchestrator.close()
      await Promise.all([...participants.values()].map((app) => app.close()))
      await shared.close()
    },
  }
}

export type TestSystem = Awaited<ReturnType<typeof startSystem>>

export const TOKENS = { client: 'Bearer dev-client', support: 'Bearer dev-support', operator: 'Bearer dev-operator' }

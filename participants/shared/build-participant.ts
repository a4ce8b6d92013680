import helmet from '@fastify/helmet'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync, type FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import { createDatabase, type PrismaClient } from '../../platform/database.ts'
import { errorBody } from '../../platform/errors.ts'
import { frameworkErrors, installErrorHandling } from '../../platform/http-errors.ts'
import { createLogger } from '../../platform/logger.ts'
import { createRedis, type Redis } from '../../platform/redis.ts'
import type { ParticipantName } from '../../platform/services.ts'
import { installValidation } from '../../platform/validation.ts'
import idempotency from './idempotency.plugin.ts'
import requestMetrics from './request-metrics.plugin.ts'
import { requestBindings } from './request-context.ts'

export interface ParticipantOptions {
  name: ParticipantName
  /** The Postgres schema this service owns (holds its `idempotency_keys` table). */
  schema: string
  /** The service's routes, registered after the shared plugins. */
  routes: FastifyPluginAsync
  /** Default: a new client on `DATABASE_URL`, closed with the app. */
  db?: PrismaClient
  /** Default: a new client on `REDIS_URL`, closed with the app. `null`: no Redis at all. */
  redis?: Redis | null
  /** Default: a pino logger named after the service (see platform/logger.ts). */
  logger?: Logger
  /** Largest accepted body. Default: 64 KiB. */
  bodyLimit?: number
  /** Longest a command's transaction may run. Default: 15000 ms. */
  transactionTimeoutMs?: number
  /** See IdempotencyOptions.onCommitted. */
  onCommitted?: (request: FastifyRequest) => void | Promise<void>
}

declare module 'fastify' {
  interface FastifyInstance {
    db: PrismaClient
    redis: Redis | undefined
  }
}

/**
 * Builds a participant service: logging with saga and trace ids, the contract's error shape,
 * JSON-schema validation, security headers, request metrics at `/metrics`, `/health` and
 * `/ready`, and the idempotency plugin in front of every mutating route.
 */
export async function buildParticipant(options: ParticipantOptions): Promise<FastifyInstance> {
  const logger = options.logger ?? createLogger({ service: options.name })
  const db = options.db ?? createDatabase()
  const redis = options.redis === null ? undefined : options.redis ?? createRedis({ logger })

  const app: FastifyInstance = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: options.bodyLimit ?? 64 * 1024,
    // Each request's log lines carry the saga and trace ids the orchestrator sent.
    childLoggerFactory: (parent, bindings, childOptions, raw) =>
      parent.child({ ...bindings, ...requestBindings(raw as FastifyRequest['raw']) }, childOptions),
    frameworkErrors,
    return503OnClosing: true,
  })
  app.decorate('db', db)
  app.decorate('redis', redis)
  installErrorHandling(app)
  installValidation(app)

  app.addHook('onClose', async () => {
    if (!options.db) await db.$disconnect()
    if (redis && options.redis === undefined) redis.disconnect()
  })

  // Participants answer JSON only, so helmet's defaults (a strict CSP included) fit as they are.
  await app.register(helmet)
  await app.register(requestMetrics, { service: options.name })

  app.get('/health', async () => ({ status: 'ok', service: options.name }))
  app.get('/ready', async (_request, reply) => {
    const postgres = await db.$queryRawUnsafe('SELECT 1').then(() => 'up', () => 'down')
    const cache = redis ? await redis.ping().then(() => 'up', () => 'down') : 'disabled'
    const ready = postgres === 'up' && cache !== 'down'
    if (ready) return { status: 'ready', postgres, redis: cache }
    // A 503 like any other: in the contract's error shape, with what is down beside it.
    return reply.code(503).send({ status: 'unavailable', postgres, redis: cache, ...errorBody('SERVICE_UNAVAILABLE', 'Postgres or Redis is unreachable') })
  })

  await app.register(idempotency, {
    service: options.name,
    schema: options.schema,
    db,
    redis,
    transactionTimeoutMs: options.transactionTimeoutMs,
    onCommitted: options.onCommitted ?? faultFromEnvironment(),
  })
  await app.register(options.routes)
  return app
}

/**
 * `PARTICIPANT_FAULT=exit-after-commit` makes the process die right after a command commits
 * and before it answers: the crash the idempotency plugin must survive (used by tests).
 */
function faultFromEnvironment(): ParticipantOptions['onCommitted'] {
  if (process.env.PARTICIPANT_FAULT !== 'exit-after-commit') return undefined
  return () => process.exit(75)
}

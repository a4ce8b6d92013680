import helmet from '@fastify/helmet'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync, type FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import { type Config, loadConfig } from '../../platform/config.ts'
import { createDatabase, poolOf, type PrismaClient } from '../../platform/database.ts'
import type { EventConsumer } from '../../platform/events/event-consumer.ts'
import { createServiceEvents, type ServiceEvents } from '../../platform/events/service-events.ts'
import { frameworkErrors, installErrorHandling } from '../../platform/http-errors.ts'
import { OneLinePerRequest } from '../../platform/request-log.ts'
import { createLogger } from '../../platform/logger.ts'
import { registerReadiness } from '../../platform/readiness.ts'
import { redisFromConfig, type Redis } from '../../platform/redis.ts'
import type { ParticipantName } from '../../platform/services.ts'
import { installValidation } from '../../platform/validation.ts'
import { requestBindings } from '../../platform/request-context.ts'
import { DEV_SERVICE_TOKEN, loadServiceTokens } from '../../platform/service-tokens.ts'
import idempotency, { MAX_ENCODED_KEY_LENGTH } from './idempotency.plugin.ts'
import requestMetrics from './request-metrics.plugin.ts'
import serviceAuth from './service-auth.plugin.ts'

export interface ParticipantOptions {
  name: ParticipantName
  /** The Postgres schema this service owns (holds its `idempotency_keys` table). */
  schema: string
  /** Default: loadConfig() (the process environment). */
  config?: Config
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
  /** Consumers of domain events this service runs (platform/events/event-consumer.ts). Default: none. */
  consumers?: readonly EventConsumer[]
  /** Overrides of the event settings, for tests. Default: `EVENT_CLAIM_IDLE_MS`, `EVENT_RELAY_POLL_MS`. */
  events?: { claimIdleMs?: number; pollIntervalMs?: number }
}

declare module 'fastify' {
  interface FastifyInstance {
    db: PrismaClient
    redis: Redis | undefined
    /** The service's domain events: its outbox schema, and the relay and consumers (started when the app is ready, stopped on close). */
    domainEvents: ServiceEvents & { schema: string }
  }
  interface FastifyRequest {
    /** A command wrote events to the outbox: the relay is nudged once the answer is out (after the commit). */
    eventsEmitted: boolean
  }
}

/**
 * Builds a participant service: logging with saga and trace ids, the contract's error shape,
 * JSON-schema validation, security headers, request metrics at `/metrics`, `/health` and
 * `/ready`, service authentication and per-caller rate limits on every other route, the
 * idempotency plugin in front of every mutating route, the fence
 * (`POST /api/idempotency-keys/:key/fence`), and the service's domain events: what its
 * commands emit goes to its outbox, its relay publishes the outbox, its consumers run.
 */
export async function buildParticipant(options: ParticipantOptions): Promise<FastifyInstance> {
  const config = options.config ?? loadConfig()
  const logger = options.logger ?? createLogger({ service: options.name, level: config.LOG_LEVEL ?? 'info', ...(config.LOG_FORMAT ? { format: config.LOG_FORMAT } : {}) })
  // Throws in production without SERVICE_TOKENS: a participant anyone could command must not start.
  const serviceTokens = loadServiceTokens(config)
  if (!config.SERVICE_TOKENS) logger.warn(`SERVICE_TOKENS is not set: the dev token "${DEV_SERVICE_TOKEN}" is accepted as caller orchestrator. Never run like this in production.`)
  const db = options.db ?? createDatabase({ url: config.DATABASE_URL, poolSize: config.DATABASE_POOL_SIZE })
  const redis = options.redis === null ? undefined : options.redis ?? redisFromConfig(config, logger)
  const pool = poolOf(db)
  if (!pool) throw new Error('A participant needs a database client made by platform/database.ts (createDatabase or databaseOnPool)')

  const app: FastifyInstance = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: options.bodyLimit ?? 64 * 1024,
    // Each request's log lines carry the saga and trace ids the orchestrator sent.
    childLoggerFactory: (parent, bindings, childOptions, raw) =>
      parent.child({ ...bindings, ...requestBindings(raw as FastifyRequest['raw']) }, childOptions),
    frameworkErrors,
    logController: new OneLinePerRequest(),
    // Room for an Idempotency-Key in a path (the fence's), percent-encoded; uuids and user ids
    // are much shorter and their schemas say so.
    routerOptions: { maxParamLength: MAX_ENCODED_KEY_LENGTH },
    return503OnClosing: true,
  })
  app.decorate('db', db)
  app.decorate('redis', redis)
  app.decorateRequest('eventsEmitted', false)
  installErrorHandling(app)
  installValidation(app)

  let events: ServiceEvents | undefined
  // The relay publishes from ready (listen, or a test's first inject); the consumers run once the
  // service listens, since a consumer may call other services (an app a test only injects into
  // is often one whose peers are not there). Close stops both before their clients are closed.
  app.addHook('onReady', async () => events?.startRelay())
  app.addHook('onListen', async () => events?.startConsumers())
  app.addHook('onResponse', async (request) => {
    if (request.eventsEmitted) events?.nudge()
  })
  app.addHook('onClose', async () => {
    await events?.stop()
    if (!options.db) await db.$disconnect()
    if (redis && options.redis === undefined) redis.disconnect()
  })

  // Participants answer JSON only, so helmet's defaults (a strict CSP included) fit as they are.
  await app.register(helmet)
  await app.register(requestMetrics, { service: options.name })
  events = createServiceEvents({
    config,
    schema: options.schema,
    pool,
    db,
    redis,
    logger,
    ...options.events,
    ...(options.consumers ? { consumers: options.consumers } : {}),
    registry: app.metricsRegistry,
  })
  app.decorate('domainEvents', { ...events, schema: options.schema })

  registerReadiness(app, { service: options.name, db, redis })

  await app.register(serviceAuth, {
    tokens: serviceTokens,
    rateLimitMax: config.SERVICE_RATE_LIMIT_MAX,
    rateLimitWindowMs: config.RATE_LIMIT_WINDOW_MS,
  })
  await app.register(idempotency, {
    schema: options.schema,
    db,
    transactionTimeoutMs: options.transactionTimeoutMs,
    onCommitted: options.onCommitted ?? faultFromConfig(config),
  })
  await app.register(options.routes)
  return app
}

/**
 * `PARTICIPANT_FAULT=exit-after-commit` makes the process die right after a command commits
 * and before it answers: the crash the idempotency plugin must survive (used by tests).
 */
function faultFromConfig(config: Config): ParticipantOptions['onCommitted'] {
  if (config.PARTICIPANT_FAULT !== 'exit-after-commit') return undefined
  return () => process.exit(75)
}

import { createHash } from 'node:crypto'
import helmet from '@fastify/helmet'
import rateLimit from '@fastify/rate-limit'
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { type Config, loadConfig } from '../../../platform/config.ts'
import { createDatabase, type PrismaClient } from '../../../platform/database.ts'
import { frameworkErrors, installErrorHandling } from '../../../platform/http-errors.ts'
import { createLogger } from '../../../platform/logger.ts'
import { redisFromConfig, type Redis } from '../../../platform/redis.ts'
import { serviceTokenOf } from '../../../platform/service-tokens.ts'
import { participantUrls } from '../../../platform/services.ts'
import { installValidation } from '../../../platform/validation.ts'
import { requestBindings } from '../../../platform/request-context.ts'
import { createMetrics, metricsObserver, type Metrics } from '../application/metrics.ts'
import { Orchestrator } from '../application/orchestrator.ts'
import type { CommandTransport } from '../engine/ports.ts'
import type { SagaRegistry } from '../engine/saga-registry.ts'
import { createSagaRegistry } from '../sagas/index.ts'
import { HttpCommandClient } from '../transport/http-command-client.ts'
import authPlugin, { loadTokens } from './plugins/auth.plugin.ts'
import docsPlugin from './plugins/docs.plugin.ts'
import bookingRoutes from './routes/bookings.routes.ts'
import healthRoutes from './routes/health.routes.ts'
import hotelReservationRoutes from './routes/hotel-reservations.routes.ts'
import liveRoutes from './routes/live.routes.ts'
import sagaTypeRoutes from './routes/saga-types.routes.ts'
import uiRoutes from './routes/ui.routes.ts'
import sagaRoutes from './routes/sagas.routes.ts'

export interface OrchestratorAppOptions {
  /** Default: a new client on `DATABASE_URL`, closed with the app. */
  db?: PrismaClient
  /** Default: a new client on `REDIS_URL`, closed with the app. `null`: run without Redis. */
  redis?: Redis | null
  logger?: Logger
  /** Default: every saga in orchestrator/src/sagas. */
  registry?: SagaRegistry
  /** Default: HTTP to the participants at their `<NAME>_URL`. */
  transport?: CommandTransport
  /** Default: loadConfig(), the process environment. */
  config?: Config
  instanceId?: string
  leaseTtlMs?: number
}

declare module 'fastify' {
  interface FastifyInstance {
    orchestrator: Orchestrator
    metrics: Metrics
    db: PrismaClient
    redis: Redis | undefined
  }
}

/** The orchestrator's HTTP app: external plugins, then ours, then routes. */
export async function buildOrchestratorApp(options: OrchestratorAppOptions = {}): Promise<FastifyInstance> {
  const config = options.config ?? loadConfig()
  const logger = options.logger ?? createLogger({ service: 'orchestrator', level: config.LOG_LEVEL ?? 'info', ...(config.LOG_FORMAT ? { format: config.LOG_FORMAT } : {}) })
  const tokens = loadTokens(config, (message) => logger.warn(message))
  const db = options.db ?? createDatabase({ url: config.DATABASE_URL, poolSize: config.DATABASE_POOL_SIZE })
  const redis = options.redis === null ? undefined : options.redis ?? redisFromConfig(config, logger)
  const metrics = createMetrics()
  const registry = options.registry ?? createSagaRegistry(config)
  const transport = options.transport ?? new HttpCommandClient({ baseUrls: participantUrls(config), token: serviceTokenOf(config) })
  const orchestrator = new Orchestrator({
    db, redis, registry, transport, logger,
    observer: metricsObserver(metrics),
    onRecovery: (trigger, summary) => {
      metrics.recoveryRuns.inc({ trigger })
      metrics.leaseTakeovers.inc(summary.recovered)
    },
    ...(options.instanceId ? { instanceId: options.instanceId } : {}),
    leaseTtlMs: options.leaseTtlMs ?? config.SAGA_LEASE_TTL_MS,
    recoveryIntervalMs: config.SAGA_RECOVERY_INTERVAL_MS,
  })

  const app: FastifyInstance = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: 64 * 1024,
    childLoggerFactory: (parent, bindings, childOptions, raw) => parent.child({ ...bindings, ...requestBindings(raw as never) }, childOptions),
    frameworkErrors,
    return503OnClosing: true,
  })
  app.decorate('db', db)
  app.decorate('redis', redis)
  app.decorate('metrics', metrics)
  app.decorate('orchestrator', orchestrator)
  installErrorHandling(app)
  installValidation(app)
  app.addHook('onClose', async () => {
    await orchestrator.stop()
    if (!options.db) await db.$disconnect()
    if (redis && options.redis === undefined) redis.disconnect()
  })

  await app.register(helmet, {
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
      },
    },
  })
  const max = config.RATE_LIMIT_MAX
  if (max > 0) {
    await app.register(rateLimit, {
      max,
      timeWindow: config.RATE_LIMIT_WINDOW_MS,
      // Per token (hashed, so no token sits in memory as a key); requests without one share their
      // address's budget. Counted in this process: a Redis store would stop limiting whenever
      // Redis blinks (it can only fail open), and N instances behind a balancer share load anyway.
      keyGenerator: (request) => request.headers.authorization
        ? `token:${createHash('sha256').update(request.headers.authorization).digest('base64url')}`
        : `ip:${request.ip}`,
      allowList: (request) => ['/health', '/ready', '/metrics'].includes(request.url),
      errorResponseBuilder: (_request, context) => ({
        statusCode: 429,
        error: { code: 'RATE_LIMITED', message: `Too many requests: at most ${context.max} per ${context.after}` },
      }),
    })
  }
  await app.register(docsPlugin)
  await app.register(authPlugin, { tokens })
  await app.register(healthRoutes)
  await app.register(bookingRoutes)
  await app.register(hotelReservationRoutes)
  await app.register(sagaRoutes)
  await app.register(sagaTypeRoutes)
  await app.register(liveRoutes)
  await app.register(uiRoutes)
  return app
}

import { createHash } from 'node:crypto'
import helmet from '@fastify/helmet'
import rateLimit from '@fastify/rate-limit'
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import { type Config, loadConfig } from '../../../platform/config.ts'
import { frameworkErrors, installErrorHandling } from '../../../platform/http-errors.ts'
import { requestBindings } from '../../../platform/request-context.ts'
import { installValidation } from '../../../platform/validation.ts'
import { createOrchestrator, type OrchestratorOverrides } from '../application/create-orchestrator.ts'
import type { Metrics } from '../application/metrics.ts'
import type { Orchestrator } from '../application/orchestrator.ts'
import authPlugin, { loadTokens } from './plugins/auth.plugin.ts'
import docsPlugin from './plugins/docs.plugin.ts'
import bookingRoutes from './routes/bookings.routes.ts'
import healthRoutes from './routes/health.routes.ts'
import hotelReservationRoutes from './routes/hotel-reservations.routes.ts'
import liveRoutes from './routes/live.routes.ts'
import operatorRoutes from './routes/operator-actions.routes.ts'
import sagaTypeRoutes from './routes/saga-types.routes.ts'
import uiRoutes from './routes/ui.routes.ts'
import sagaRoutes from './routes/sagas.routes.ts'

export interface OrchestratorAppOptions extends OrchestratorOverrides {
  /** Default: loadConfig(), the process environment. */
  config?: Config
}

declare module 'fastify' {
  interface FastifyInstance {
    orchestrator: Orchestrator
    metrics: Metrics
  }
}

/** The orchestrator's HTTP app: external plugins, then ours, then routes. */
export async function buildOrchestratorApp(options: OrchestratorAppOptions = {}): Promise<FastifyInstance> {
  const { config: given, ...overrides } = options
  const config = given ?? loadConfig()
  const graph = createOrchestrator(config, overrides)
  const { orchestrator, metrics, logger, db, redis } = graph
  const tokens = loadTokens(config, (message) => logger.warn(message))

  const app: FastifyInstance = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: 64 * 1024,
    childLoggerFactory: (parent, bindings, childOptions, raw) => parent.child({ ...bindings, ...requestBindings(raw as never) }, childOptions),
    frameworkErrors,
    return503OnClosing: true,
  })
  app.decorate('metrics', metrics)
  app.decorate('orchestrator', orchestrator)
  installErrorHandling(app)
  installValidation(app)
  app.addHook('onClose', () => graph.close())

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
  await app.register(healthRoutes, { db, redis })
  await app.register(bookingRoutes)
  await app.register(hotelReservationRoutes)
  await app.register(sagaRoutes)
  await app.register(operatorRoutes)
  await app.register(sagaTypeRoutes)
  await app.register(liveRoutes)
  await app.register(uiRoutes)
  return app
}

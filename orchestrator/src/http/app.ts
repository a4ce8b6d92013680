import helmet from '@fastify/helmet'
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import { type Config, loadConfig } from '../../../platform/config.ts'
import { frameworkErrors, installErrorHandling } from '../../../platform/http-errors.ts'
import { OneLinePerRequest } from '../../../platform/request-log.ts'
import { requestBindings } from '../../../platform/request-context.ts'
import { installValidation } from '../../../platform/validation.ts'
import { createOrchestrator, type OrchestratorOverrides } from '../application/create-orchestrator.ts'
import type { Metrics } from '../application/metrics.ts'
import type { Orchestrator } from '../application/orchestrator.ts'
import authPlugin, { loadTokens } from './plugins/auth.plugin.ts'
import docsPlugin from './plugins/docs.plugin.ts'
import { createEndUserTokens, type EndUserTokenOptions } from './plugins/end-user-tokens.ts'
import rateLimitPlugin from './plugins/rate-limit.plugin.ts'
import analyticsRoutes from './routes/analytics.routes.ts'
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
  /** How end-user JWTs are checked beyond the configuration. Default: a 30 s JWKS refetch cooldown. */
  endUserTokens?: Omit<EndUserTokenOptions, 'warn'>
}

declare module 'fastify' {
  interface FastifyInstance {
    orchestrator: Orchestrator
    metrics: Metrics
  }
}

/**
 * Every answer's policy; what it is for is the page at /ui (plain files from this origin, see
 * http/ui): scripts, styles, images and API calls only from here, so no inline script or style,
 * no `eval`, no third-party origin, no plugins, no framing, no <base> rewrite. Spelled out in full
 * (helmet's defaults are off) because those defaults allow `https:` fonts and inline styles.
 * The page needs no `'unsafe-inline'` for styles: it sets classes and `hidden`, never a style attribute.
 */
const CONTENT_SECURITY_POLICY = {
  defaultSrc: ["'none'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'"],
  fontSrc: ["'self'"],
  connectSrc: ["'self'"],
  formAction: ["'self'"],
  baseUri: ["'none'"],
  frameAncestors: ["'none'"],
  objectSrc: ["'none'"],
  scriptSrcAttr: ["'none'"],
}

/** The orchestrator's HTTP app: external plugins, then ours, then routes. */
export async function buildOrchestratorApp(options: OrchestratorAppOptions = {}): Promise<FastifyInstance> {
  const { config: given, endUserTokens, ...overrides } = options
  const config = given ?? loadConfig()
  const graph = createOrchestrator(config, overrides)
  const { orchestrator, metrics, logger, db, redis } = graph
  const tokens = loadTokens(config, (message) => logger.warn(message))
  const endUsers = createEndUserTokens(config, { ...endUserTokens, warn: (message) => logger.warn(message) })

  const app: FastifyInstance = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: 64 * 1024,
    childLoggerFactory: (parent, bindings, childOptions, raw) => parent.child({ ...bindings, ...requestBindings(raw as never) }, childOptions),
    frameworkErrors,
    logController: new OneLinePerRequest(),
    return503OnClosing: true,
  })
  app.decorate('metrics', metrics)
  app.decorate('orchestrator', orchestrator)
  installErrorHandling(app)
  installValidation(app)
  app.addHook('onClose', () => graph.close())
  // Completed sagas' facts go out while the app runs (graph.close stops the relay).
  app.addHook('onReady', async () => graph.events.start())

  await app.register(helmet, { contentSecurityPolicy: { useDefaults: false, directives: CONTENT_SECURITY_POLICY } })
  await app.register(authPlugin, { tokens, endUsers })
  await app.register(rateLimitPlugin, { max: config.RATE_LIMIT_MAX, windowMs: config.RATE_LIMIT_WINDOW_MS })
  await app.register(docsPlugin)
  await app.register(healthRoutes, { db, redis })
  await app.register(bookingRoutes)
  await app.register(hotelReservationRoutes)
  await app.register(sagaRoutes)
  await app.register(operatorRoutes)
  await app.register(sagaTypeRoutes)
  await app.register(liveRoutes)
  await app.register(analyticsRoutes, { analytics: graph.analytics })
  await app.register(uiRoutes)
  return app
}

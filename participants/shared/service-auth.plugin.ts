import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { bearerToken, tokenMatcher } from '../../platform/bearer.ts'
import { AppError } from '../../platform/errors.ts'

export interface ServiceAuthOptions {
  /** Token → caller, as `loadServiceTokens` (platform/service-tokens.ts) parses `SERVICE_TOKENS`. */
  tokens: ReadonlyMap<string, string>
  /**
   * Requests one caller may make per window; requests without valid credentials share their
   * client address's budget. `0`: no limit. (`SERVICE_RATE_LIMIT_MAX`, default 600000.)
   */
  rateLimitMax: number
  /** The rate-limit window in ms (`RATE_LIMIT_WINDOW_MS`, default 60000). */
  rateLimitWindowMs: number
}

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The authenticated caller (`orchestrator`, `support`…), the name its token is listed under.
     * Null only on the public probes: every other route refuses a request without one.
     */
    caller: string | null
  }
}

/** Routes anyone may call: load balancers and Prometheus carry no service token. */
export const PUBLIC_ROUTES: ReadonlySet<string> = new Set(['/health', '/ready', '/metrics'])


/**
 * Service identity: every participant route but the public probes needs
 * `Authorization: Bearer <service token>`, and answers 401 UNAUTHORIZED without a known one.
 *
 * Three steps, in this order, so that a storm of bad credentials is limited too:
 * 1. onRequest: the token is looked up and `request.caller` set (never refused here);
 * 2. the rate limit, per caller, or per client address without a known token (its hooks are
 *    route-level onRequest hooks, which run after this app-level one);
 * 3. preParsing: a request without a caller is refused, before its body is read and before
 *    the idempotency plugin looks at its key, so a refused command applies and stores nothing.
 *
 * The header is read and tokens compared as the orchestrator does (platform/bearer.ts: SHA-256
 * digests in constant time, against every known token). Tokens are never logged: the logger
 * redacts the authorization header.
 */
async function serviceAuthPlugin(app: FastifyInstance, options: ServiceAuthOptions): Promise<void> {
  const match = tokenMatcher(options.tokens)

  app.decorateRequest('caller', null)
  app.addHook('onRequest', async (request) => {
    request.caller = callerOf(request.headers.authorization)
  })

  if (options.rateLimitMax > 0) {
    await app.register(rateLimit, {
      max: options.rateLimitMax,
      timeWindow: options.rateLimitWindowMs,
      // Per caller, however its token is spelled (a caller may hold two during a rotation).
      // Counted in this process, like the orchestrator's: a Redis store can only fail open.
      keyGenerator: (request) => (request.caller ? `caller:${request.caller}` : `address:${request.ip}`),
      allowList: (request) => isPublic(request),
      errorResponseBuilder: (_request, context) =>
        new AppError('RATE_LIMITED', `Too many requests: at most ${context.max} per ${context.after}`),
    })
  }

  app.addHook('preParsing', async (request, reply) => {
    if (request.caller || isPublic(request)) return
    reply.header('www-authenticate', 'Bearer')
    throw new AppError('UNAUTHORIZED', 'A valid service token is required (Authorization: Bearer <token>)')
  })

  function callerOf(header: string | undefined): string | null {
    const token = bearerToken(header)
    return token ? match(token).value ?? null : null
  }
}

function isPublic(request: FastifyRequest): boolean {
  return PUBLIC_ROUTES.has(request.routeOptions.url ?? '')
}

export default fp(serviceAuthPlugin, { name: 'service-auth', fastify: '5.x' })

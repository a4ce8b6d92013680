import { createHash, timingSafeEqual } from 'node:crypto'
import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
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

const BEARER = /^Bearer +(\S+) *$/

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
 * Tokens are compared as SHA-256 digests with timingSafeEqual, against every known token
 * (no early exit), so timings reveal neither a token's bytes nor which entry matched. Tokens
 * are never logged: the logger redacts the authorization header.
 */
async function serviceAuthPlugin(app: FastifyInstance, options: ServiceAuthOptions): Promise<void> {
  const known = [...options.tokens].map(([token, caller]) => ({ digest: sha256(token), caller }))

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
    const match = typeof header === 'string' ? BEARER.exec(header) : null
    if (!match) return null
    const presented = sha256(match[1]!)
    let caller: string | null = null
    for (const entry of known) if (timingSafeEqual(entry.digest, presented)) caller = entry.caller
    return caller
  }
}

function isPublic(request: FastifyRequest): boolean {
  return PUBLIC_ROUTES.has(request.routeOptions.url ?? '')
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest()
}

export default fp(serviceAuthPlugin, { name: 'service-auth', fastify: '5.x' })

import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'

export interface RateLimitOptions {
  /** Requests per principal per window; 0 turns limiting off. Default: 6000 (`RATE_LIMIT_MAX`) */
  max: number
  /** Default: 60000 ms (`RATE_LIMIT_WINDOW_MS`) */
  windowMs: number
}

/** Probes and scrapes: never limited, or a busy client would make its orchestrator look dead. */
const UNLIMITED = new Set(['/health', '/ready', '/metrics'])

/**
 * The budget a request spends: its authenticated principal's, however the token was spelled
 * (the header used to be the key, and `Bearer  x` with one more space was a fresh budget), or,
 * with missing or unaccepted credentials, its client address's (so a storm of made-up tokens
 * shares one budget).
 */
export function rateLimitKey(request: FastifyRequest): string {
  return request.principal ? `principal:${request.principal.id}` : `address:${request.ip}`
}

async function rateLimitPlugin(app: FastifyInstance, options: RateLimitOptions): Promise<void> {
  if (options.max <= 0) return
  await app.register(rateLimit, {
    max: options.max,
    timeWindow: options.windowMs,
    // After every onRequest hook, so after auth has resolved the principal; before the body
    // is parsed, so a limited request costs no parsing.
    hook: 'preParsing',
    keyGenerator: rateLimitKey,
    // Counted in this process: a Redis store would stop limiting whenever Redis blinks (it can
    // only fail open), and N instances behind a balancer share the load anyway.
    allowList: (request) => UNLIMITED.has(request.routeOptions.url ?? request.url.split('?')[0]!),
    errorResponseBuilder: (_request, context) => ({
      statusCode: 429,
      error: { code: 'RATE_LIMITED', message: `Too many requests: at most ${context.max} per ${context.after}` },
    }),
  })
}

/** Per-principal rate limits (contract: Rate limits). Register after auth, before the routes. */
export default fp(rateLimitPlugin, { name: 'rate-limit', fastify: '5.x', dependencies: ['auth'] })

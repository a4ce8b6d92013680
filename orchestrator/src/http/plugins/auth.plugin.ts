import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { type Config, isProduction } from '../../../../platform/config.ts'
import { bearerToken, tokenMatcher } from '../../../../platform/bearer.ts'
import { AppError } from '../../../../platform/errors.ts'
import type { EndUserTokens } from './end-user-tokens.ts'

/**
 * - client: a trusted backend; starts sagas for any userId it asserts, reads what it started.
 * - support: reads sagas.
 * - operator: reads sagas and acts on them.
 * - user: an end user (a JWT whose `sub` is its userId); starts, cancels, reads only its own.
 */
export type Role = 'client' | 'support' | 'operator' | 'user'
/** The roles an API token (API_TOKENS) may have; `user` comes only from a JWT. */
export type ServiceRole = Exclude<Role, 'user'>
const SERVICE_ROLES: readonly ServiceRole[] = ['client', 'support', 'operator']

/** What each role may do; operator includes support. */
const GRANTS: Record<Role, ReadonlySet<Role>> = {
  client: new Set(['client']),
  support: new Set(['support']),
  operator: new Set(['support', 'operator']),
  user: new Set(['user']),
}

/**
 * Who is calling. `id` is stable and never the token itself: it scopes idempotency keys, is
 * kept as a saga's `startedBy`, and keys the rate limit, so it must be the same however the
 * token is spelled.
 */
export type Principal =
  | { role: ServiceRole; id: string }
  | { role: 'user'; id: string; userId: string }

export const DEV_TOKENS = 'client:dev-client,support:dev-support,operator:dev-operator'

/**
 * Parses `API_TOKENS` ("role:token,role:token"). When it is unset outside production the dev
 * tokens apply (with a warning); in production the orchestrator refuses to start without it.
 */
export function loadTokens(config: Pick<Config, 'API_TOKENS' | 'NODE_ENV'>, warn: (message: string) => void): Map<string, ServiceRole> {
  let spec = config.API_TOKENS
  if (!spec) {
    if (isProduction(config)) throw new Error('API_TOKENS must be set in production (comma-separated role:token pairs)')
    warn('API_TOKENS is not set: the dev tokens dev-client, dev-support and dev-operator are accepted. Never run like this in production.')
    spec = DEV_TOKENS
  }
  const tokens = new Map<string, ServiceRole>()
  for (const pair of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const separator = pair.indexOf(':')
    const role = pair.slice(0, separator) as ServiceRole
    const token = pair.slice(separator + 1)
    if (separator < 1 || !SERVICE_ROLES.includes(role) || token.length < 8 && isProduction(config) || !token) {
      throw new Error(`API_TOKENS entry "${pair.slice(0, separator > 0 ? separator : 0)}:…" is not role:token with role one of ${SERVICE_ROLES.join(', ')}`)
    }
    tokens.set(token, role)
  }
  return tokens
}

// Three base64url parts: worth asking jose about. Anything else is no JWT, refused without parsing.
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/

declare module 'fastify' {
  interface FastifyRequest {
    /** Resolved before anything else runs (onRequest); null: no credentials, or not accepted. */
    principal: Principal | null
    /** Why presented credentials were not accepted, when they were not. */
    authFailure: AppError | null
  }
  interface FastifyInstance {
    /**
     * preHandler: 401 without an accepted token (503 when a user token cannot be checked now),
     * 403 when the caller's role may do none of `roles`.
     */
    requireRole(...roles: Role[]): (request: FastifyRequest, reply: FastifyReply) => Promise<void>
  }
}

export interface AuthOptions {
  tokens: Map<string, ServiceRole>
  /** End-user JWTs; without it only API tokens are accepted. */
  endUsers?: EndUserTokens
}

async function authPlugin(app: FastifyInstance, options: AuthOptions): Promise<void> {
  const match = tokenMatcher(options.tokens)

  app.decorateRequest('principal', null)
  app.decorateRequest('authFailure', null)
  app.addHook('onRequest', async (request) => {
    const header = request.headers.authorization
    if (header === undefined) return
    const token = bearerToken(header)
    if (!token) {
      request.authFailure = new AppError('UNAUTHORIZED', 'Send the token as Authorization: Bearer <token>')
      return
    }
    const { value: role, digest: presented } = match(token)
    if (role) {
      request.principal = { role, id: `${role}:${presented.toString('hex').slice(0, 16)}` }
      return
    }
    if (options.endUsers && JWT_SHAPE.test(token)) {
      const verdict = await options.endUsers.verify(token)
      if ('userId' in verdict) {
        // Encoded, so the id has no ':' of its own and `${id}:${key}` cannot collide across users.
        request.principal = { role: 'user', id: `user:${encodeURIComponent(verdict.userId)}`, userId: verdict.userId }
      } else {
        request.authFailure = verdict.refused
      }
      return
    }
    request.authFailure = new AppError('UNAUTHORIZED', 'The token is not accepted')
  })

  app.decorate('requireRole', (...roles: Role[]) => async (request: FastifyRequest, reply: FastifyReply) => {
    const principal = request.principal
    if (!principal) {
      const failure = request.authFailure ?? new AppError('UNAUTHORIZED')
      if (failure.statusCode === 401) {
        reply.header('www-authenticate', request.authFailure ? `Bearer error="invalid_token", error_description="${failure.message}"` : 'Bearer')
      }
      throw failure
    }
    if (!roles.some((role) => GRANTS[principal.role].has(role))) {
      throw new AppError('FORBIDDEN', `The ${principal.role} role may not do this; it needs ${roles.join(' or ')}`)
    }
  })
}

/** The caller's role and id; resolves before rate limiting, routes and validation run. */
export default fp(authPlugin, { name: 'auth', fastify: '5.x' })

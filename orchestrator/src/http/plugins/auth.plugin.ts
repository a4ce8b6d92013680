import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { type Config, isProduction } from '../../../../platform/config.ts'
import { AppError } from '../../../../platform/errors.ts'

/**
 * - client: starts sagas.
 * - support: reads sagas.
 * - operator: reads sagas, retries and aborts them.
 */
export type Role = 'client' | 'support' | 'operator'
const ROLES: readonly Role[] = ['client', 'support', 'operator']

/** What each role may do; operator includes support. */
const GRANTS: Record<Role, ReadonlySet<Role>> = {
  client: new Set(['client']),
  support: new Set(['support']),
  operator: new Set(['support', 'operator']),
}

export interface Principal {
  role: Role
  /** Stable id derived from the token, never the token itself: scopes idempotency keys. */
  id: string
}

export const DEV_TOKENS = 'client:dev-client,support:dev-support,operator:dev-operator'

/**
 * Parses `API_TOKENS` ("role:token,role:token"). When it is unset outside production the dev
 * tokens apply (with a warning); in production the orchestrator refuses to start without it.
 */
export function loadTokens(config: Pick<Config, 'API_TOKENS' | 'NODE_ENV'>, warn: (message: string) => void): Map<string, Role> {
  let spec = config.API_TOKENS
  if (!spec) {
    if (isProduction(config)) throw new Error('API_TOKENS must be set in production (comma-separated role:token pairs)')
    warn('API_TOKENS is not set: the dev tokens dev-client, dev-support and dev-operator are accepted. Never run like this in production.')
    spec = DEV_TOKENS
  }
  const tokens = new Map<string, Role>()
  for (const pair of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const separator = pair.indexOf(':')
    const role = pair.slice(0, separator) as Role
    const token = pair.slice(separator + 1)
    if (separator < 1 || !ROLES.includes(role) || token.length < 8 && isProduction(config) || !token) {
      throw new Error(`API_TOKENS entry "${pair.slice(0, separator > 0 ? separator : 0)}:…" is not role:token with role one of ${ROLES.join(', ')}`)
    }
    tokens.set(token, role)
  }
  return tokens
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null
  }
  interface FastifyInstance {
    /** preHandler: 401 without a known bearer token, 403 when its role may not do this. */
    requireRole(role: Role): (request: FastifyRequest) => Promise<void>
  }
}

export interface AuthOptions {
  tokens: Map<string, Role>
}

async function authPlugin(app: FastifyInstance, options: AuthOptions): Promise<void> {
  // Compare digests in constant time so a token cannot be guessed byte by byte from timings.
  const digests = [...options.tokens].map(([token, role]) => ({ digest: sha256(token), role }))

  app.decorateRequest('principal', null)
  app.addHook('onRequest', async (request) => {
    const header = request.headers.authorization
    if (typeof header !== 'string' || !header.startsWith('Bearer ')) return
    const presented = sha256(header.slice(7).trim())
    const match = digests.find(({ digest }) => timingSafeEqual(digest, presented))
    if (match) request.principal = { role: match.role, id: `${match.role}:${presented.toString('hex').slice(0, 16)}` }
  })

  app.decorate('requireRole', (role: Role) => async (request: FastifyRequest) => {
    if (!request.principal) throw new AppError('UNAUTHORIZED')
    if (!GRANTS[request.principal.role].has(role)) {
      throw new AppError('FORBIDDEN', `The ${request.principal.role} role may not do this; it needs ${role}`)
    }
  })
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest()
}

export default fp(authPlugin, { name: 'auth', fastify: '5.x' })

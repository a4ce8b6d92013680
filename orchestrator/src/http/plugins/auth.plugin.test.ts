import { randomUUID } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { configWith, type Environment } from '../../../../platform/config.ts'
import { createLogger } from '../../../../platform/logger.ts'
import { participantHarness } from '../../../../test/support/participant-harness.ts'
import { buildOrchestratorApp, type OrchestratorAppOptions } from '../app.ts'
import { bearerToken } from '../../../../platform/bearer.ts'
import { DEV_JWT_SECRET } from './end-user-tokens.ts'

const shared = participantHarness()
const quiet = createLogger({ service: 'test', level: 'silent', format: 'json' })
const apps: FastifyInstance[] = []

/** An orchestrator app with only these auth settings (nothing from the environment leaks in). */
async function appWith(env: Environment = {}, options: Partial<OrchestratorAppOptions> = {}): Promise<FastifyInstance> {
  const app = await buildOrchestratorApp({
    db: shared.db,
    redis: null,
    logger: quiet,
    config: configWith({ NODE_ENV: 'test', API_TOKENS: '', RATE_LIMIT_MAX: '0', AUTH_JWT_SECRET: '', AUTH_JWKS_URL: '', AUTH_JWT_ISSUER: '', AUTH_JWT_AUDIENCE: '', ...env }),
    ...options,
  })
  apps.push(app)
  return app
}

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()))
})
afterAll(async () => {
  await shared.close()
})

const me = (app: FastifyInstance, authorization?: string) =>
  app.inject({ method: 'GET', url: '/api/orchestrator/me', headers: authorization === undefined ? {} : { authorization } })

const now = () => Math.floor(Date.now() / 1000)
const encoder = new TextEncoder()

/** An HS256 token; `claims` adjust the default (sub alice, valid for an hour). */
function hs256(secret: string, claims: { sub?: string | null; exp?: number; nbf?: number; iss?: string; aud?: string } = {}) {
  const jwt = new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuedAt()
  if (claims.sub !== null) jwt.setSubject(claims.sub ?? 'alice')
  jwt.setExpirationTime(claims.exp ?? now() + 3600)
  if (claims.nbf !== undefined) jwt.setNotBefore(claims.nbf)
  if (claims.iss) jwt.setIssuer(claims.iss)
  if (claims.aud) jwt.setAudience(claims.aud)
  return jwt.sign(encoder.encode(secret))
}

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')

describe('end-user JWTs (HS256)', () => {
  it('accepts a token signed with the dev secret when nothing is configured, and answers its role and userId', async () => {
    const app = await appWith()
    const response = await me(app, `Bearer ${await hs256(DEV_JWT_SECRET)}`)
    expect(response.statusCode).toBe(200)
    expect(response.json()).toMatchObject({ role: 'user', userId: 'alice' })
  })

  it('refuses expired, not-yet-valid, wrongly signed, subject-less and alg:none tokens with 401', async () => {
    const app = await appWith()
    const refused = {
      expired: await hs256(DEV_JWT_SECRET, { exp: now() - 120 }),
      'not valid yet': await hs256(DEV_JWT_SECRET, { nbf: now() + 120 }),
      'wrong secret': await hs256('another-secret-entirely'),
      'no subject': await hs256(DEV_JWT_SECRET, { sub: null }),
      'alg none': `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'alice', exp: now() + 3600 })}.`,
      // A valid HS256 signature, relabelled as another algorithm.
      'alg HS512': await new SignJWT({}).setProtectedHeader({ alg: 'HS512' }).setSubject('alice').setExpirationTime('1h').sign(encoder.encode(DEV_JWT_SECRET)),
      'not a JWT': 'eyJhbGciOiJIUzI1NiJ9.bm9wZQ.c2ln',
    }
    for (const [why, token] of Object.entries(refused)) {
      const response = await me(app, `Bearer ${token}`)
      expect(response.statusCode, why).toBe(401)
      expect(response.json().error.code, why).toBe('UNAUTHORIZED')
      expect(response.headers['www-authenticate'], why).toMatch(/^Bearer error="invalid_token"/)
    }
    expect((await me(app, `Bearer ${refused.expired}`)).json().error.message).toMatch(/expired/)
  })

  it('allows 30 s of clock skew on exp and nbf', async () => {
    const app = await appWith()
    expect((await me(app, `Bearer ${await hs256(DEV_JWT_SECRET, { exp: now() - 10 })}`)).statusCode).toBe(200)
    expect((await me(app, `Bearer ${await hs256(DEV_JWT_SECRET, { nbf: now() + 10 })}`)).statusCode).toBe(200)
  })

  it('checks AUTH_JWT_SECRET, AUTH_JWT_ISSUER and AUTH_JWT_AUDIENCE when set (and no longer the dev secret)', async () => {
    const secret = `secret-${randomUUID()}`
    const app = await appWith({ AUTH_JWT_SECRET: secret, AUTH_JWT_ISSUER: 'https://id.example', AUTH_JWT_AUDIENCE: 'orchestrator' })
    const good = { iss: 'https://id.example', aud: 'orchestrator' }
    expect((await me(app, `Bearer ${await hs256(secret, good)}`)).json()).toMatchObject({ role: 'user', userId: 'alice' })
    for (const [why, token] of Object.entries({
      'wrong issuer': await hs256(secret, { ...good, iss: 'https://evil.example' }),
      'no issuer': await hs256(secret, { aud: 'orchestrator' }),
      'wrong audience': await hs256(secret, { ...good, aud: 'another-api' }),
      'dev secret': await hs256(DEV_JWT_SECRET, good),
    })) {
      expect((await me(app, `Bearer ${token}`)).statusCode, why).toBe(401)
    }
  })

  it('in production: refuses a short AUTH_JWT_SECRET at start, and without any JWT setting accepts no JWT', async () => {
    const production = { NODE_ENV: 'production', API_TOKENS: 'client:client-token-1234', SERVICE_TOKENS: 'orchestrator:service-token-1234' }
    await expect(appWith({ ...production, AUTH_JWT_SECRET: 'short' })).rejects.toThrow(/AUTH_JWT_SECRET/)
    const app = await appWith(production)
    expect((await me(app, `Bearer ${await hs256(DEV_JWT_SECRET)}`)).statusCode).toBe(401)
  })
})

describe('the Authorization header', () => {
  it('takes Bearer with any spaces or tabs after it and one token, and nothing else', async () => {
    expect(bearerToken('Bearer dev-client')).toBe('dev-client')
    expect(bearerToken('Bearer \t  dev-client  ')).toBe('dev-client')
    expect(bearerToken('bearer dev-client')).toBeUndefined()
    expect(bearerToken('Basic dev-client')).toBeUndefined()
    expect(bearerToken('Bearer dev client')).toBeUndefined()
    expect(bearerToken('Bearer')).toBeUndefined()
    const app = await appWith()
    expect((await me(app, 'Bearer \t   dev-client')).json()).toMatchObject({ role: 'client' })
    expect((await me(app)).statusCode).toBe(401)
    expect((await me(app, 'Bearer not-a-known-token')).statusCode).toBe(401)
  })
})

/** A JWKS endpoint on a local port whose keys a test replaces at will; counts its fetches. */
async function startJwksServer() {
  const state = { keys: [] as JWK[], fetches: 0, down: false }
  const server: Server = createServer((request, response) => {
    state.fetches++
    if (state.down) return void response.writeHead(503).end()
    response.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify({ keys: state.keys }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    state,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

async function signingKey(alg: 'RS256' | 'ES256') {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
  const kid = `${alg}-${randomUUID().slice(0, 8)}`
  return {
    kid,
    jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } as JWK,
    sign: (sub = 'alice', header: { kid?: string } = {}) =>
      new SignJWT({}).setProtectedHeader({ alg, kid, ...header }).setSubject(sub).setIssuedAt().setExpirationTime('1h').sign(privateKey),
  }
}

describe('end-user JWTs from a JWKS (RS256/ES256)', () => {
  let jwks: Awaited<ReturnType<typeof startJwksServer>>
  beforeAll(async () => {
    jwks = await startJwksServer()
  })
  afterAll(async () => {
    await jwks?.close()
  })

  it('accepts RS256 and ES256 tokens signed by a published key, and refuses HS256 (not configured)', async () => {
    const rsa = await signingKey('RS256')
    const ec = await signingKey('ES256')
    jwks.state.keys = [rsa.jwk, ec.jwk]
    jwks.state.down = false
    const app = await appWith({ AUTH_JWKS_URL: jwks.url })
    expect((await me(app, `Bearer ${await rsa.sign('bob')}`)).json()).toMatchObject({ role: 'user', userId: 'bob' })
    expect((await me(app, `Bearer ${await ec.sign('carol')}`)).json()).toMatchObject({ role: 'user', userId: 'carol' })
    expect((await me(app, `Bearer ${await hs256(DEV_JWT_SECRET)}`)).statusCode).toBe(401)
    // Signed by a key nobody published, under a published key's id.
    const impostor = await signingKey('RS256')
    expect((await me(app, `Bearer ${await impostor.sign('bob', { kid: rsa.kid })}`)).statusCode).toBe(401)
  })

  it('follows a key rotation: a new key id fetches the set again; a withdrawn key stops working', async () => {
    const before = await signingKey('RS256')
    const after = await signingKey('ES256')
    jwks.state.keys = [before.jwk]
    jwks.state.down = false
    const app = await appWith({ AUTH_JWKS_URL: jwks.url }, { endUserTokens: { jwksCooldownMs: 0 } })
    const oldToken = await before.sign()
    expect((await me(app, `Bearer ${oldToken}`)).statusCode).toBe(200)

    jwks.state.keys = [after.jwk]
    const fetched = jwks.state.fetches
    expect((await me(app, `Bearer ${await after.sign('dave')}`)).json()).toMatchObject({ role: 'user', userId: 'dave' })
    expect(jwks.state.fetches).toBe(fetched + 1)
    expect((await me(app, `Bearer ${oldToken}`)).statusCode).toBe(401)
  })

  it('does not let a storm of made-up key ids turn into a storm of JWKS fetches', async () => {
    const key = await signingKey('RS256')
    jwks.state.keys = [key.jwk]
    jwks.state.down = false
    const app = await appWith({ AUTH_JWKS_URL: jwks.url })
    expect((await me(app, `Bearer ${await key.sign()}`)).statusCode).toBe(200)
    const fetched = jwks.state.fetches
    for (let i = 0; i < 25; i++) {
      const response = await me(app, `Bearer ${await key.sign('alice', { kid: randomUUID() })}`)
      expect(response.statusCode).toBe(401)
    }
    // jose's cooldown (30 s by default): no refetch so soon after the last one.
    expect(jwks.state.fetches).toBe(fetched)
  })

  it('answers 503 when the key set cannot be fetched (the token may be fine)', async () => {
    const key = await signingKey('ES256')
    jwks.state.down = true
    const app = await appWith({ AUTH_JWKS_URL: jwks.url })
    const response = await me(app, `Bearer ${await key.sign()}`)
    expect(response.statusCode).toBe(503)
    expect(response.json().error.code).toBe('SERVICE_UNAVAILABLE')
  })
})

import { createRemoteJWKSet, errors, type JWTHeaderParameters, jwtVerify, type FlattenedJWSInput } from 'jose'
import { type Config, isProduction } from '../../../../platform/config.ts'
import { AppError } from '../../../../platform/errors.ts'

/** The HS256 secret accepted outside production when neither AUTH_JWT_SECRET nor AUTH_JWKS_URL is set. */
export const DEV_JWT_SECRET = 'dev-jwt-secret'

/** Seconds `exp` and `nbf` may be off by (the issuer's clock and ours are not the same clock). */
export const CLOCK_TOLERANCE_S = 30

/** Shortest AUTH_JWT_SECRET accepted in production: HS256 wants at least its output size, 32 bytes. */
const MIN_SECRET_LENGTH = 32

const ASYMMETRIC = ['RS256', 'ES256'] as const

export interface EndUserTokenOptions {
  warn: (message: string) => void
  /**
   * Least time between two JWKS fetches caused by an unknown key id, so a storm of tokens with
   * made-up `kid`s cannot turn into a storm of requests to the identity provider.
   * Default: 30000 ms (jose's default)
   */
  jwksCooldownMs?: number
  /** Keys fetched longer ago than this are fetched again before use. Default: 600000 ms */
  jwksCacheMaxAgeMs?: number
}

/**
 * - `userId`: the token verified; its `sub`.
 * - `refused`: the token is not accepted (401) or cannot be checked now (503), and why.
 */
export type EndUserVerdict = { userId: string } | { refused: AppError }

export interface EndUserTokens {
  /** The algorithms a token may be signed with (any other, `none` included, is refused). */
  readonly algorithms: readonly string[]
  verify(token: string): Promise<EndUserVerdict>
}

/** Thrown by the key lookup when the key set itself could not be read (down, slow, garbage). */
class KeySetUnavailable extends Error {}

/**
 * Verifies end users' bearer JWTs: HS256 with AUTH_JWT_SECRET and/or RS256/ES256 with the keys
 * at AUTH_JWKS_URL (cached; an unknown `kid` fetches the set again, which is how a rotation
 * is followed). `iss` and `aud` are checked when configured, `exp` and `nbf` always with
 * CLOCK_TOLERANCE_S of slack; `sub` is required, and in production `exp` too (a token that
 * never expires is a password sent with every request).
 *
 * With neither setting outside production the dev secret is accepted (with a warning); in
 * production without either there are no end users, and every JWT is refused.
 */
export function createEndUserTokens(config: Pick<Config, 'AUTH_JWT_SECRET' | 'AUTH_JWKS_URL' | 'AUTH_JWT_ISSUER' | 'AUTH_JWT_AUDIENCE' | 'NODE_ENV'>, options: EndUserTokenOptions): EndUserTokens {
  const production = isProduction(config)
  let secretText = config.AUTH_JWT_SECRET
  if (!secretText && !config.AUTH_JWKS_URL && !production) {
    options.warn(`Neither AUTH_JWT_SECRET nor AUTH_JWKS_URL is set: end-user JWTs signed with the dev secret "${DEV_JWT_SECRET}" (HS256) are accepted. Never run like this in production.`)
    secretText = DEV_JWT_SECRET
  }
  if (secretText && production && secretText.length < MIN_SECRET_LENGTH) {
    throw new Error(`AUTH_JWT_SECRET must be at least ${MIN_SECRET_LENGTH} characters in production`)
  }
  const secret = secretText ? new TextEncoder().encode(secretText) : undefined
  const jwks = config.AUTH_JWKS_URL
    ? createRemoteJWKSet(new URL(config.AUTH_JWKS_URL), {
      cooldownDuration: options.jwksCooldownMs ?? 30_000,
      cacheMaxAge: options.jwksCacheMaxAgeMs ?? 600_000,
      timeoutDuration: 5_000,
    })
    : undefined
  const algorithms = [...(secret ? ['HS256'] : []), ...(jwks ? ASYMMETRIC : [])]

  // Each algorithm has exactly one source of keys: an HS256 token is never checked against a
  // JWKS key used as an HMAC secret (the classic algorithm confusion), nor RS256 against the secret.
  const keyFor = async (header: JWTHeaderParameters, token: FlattenedJWSInput) => {
    if (header.alg === 'HS256' && secret) return secret
    if (jwks && (ASYMMETRIC as readonly string[]).includes(header.alg)) {
      try {
        return await jwks(header, token)
      } catch (error) {
        if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys || error instanceof errors.JOSENotSupported) throw error
        throw new KeySetUnavailable('The key set of end-user tokens cannot be read', { cause: error })
      }
    }
    throw new errors.JOSEAlgNotAllowed('"alg" (Algorithm) Header Parameter value not allowed')
  }

  return {
    algorithms,
    async verify(token) {
      if (!algorithms.length) return { refused: new AppError('UNAUTHORIZED', 'End-user tokens are not accepted here') }
      try {
        const { payload } = await jwtVerify(token, keyFor, {
          algorithms,
          clockTolerance: CLOCK_TOLERANCE_S,
          requiredClaims: production ? ['sub', 'exp'] : ['sub'],
          ...(config.AUTH_JWT_ISSUER ? { issuer: config.AUTH_JWT_ISSUER } : {}),
          ...(config.AUTH_JWT_AUDIENCE ? { audience: config.AUTH_JWT_AUDIENCE } : {}),
        })
        if (typeof payload.sub !== 'string' || !payload.sub) return { refused: new AppError('UNAUTHORIZED', 'The token has no subject (sub)') }
        return { userId: payload.sub }
      } catch (error) {
        return { refused: refusal(error) }
      }
    },
  }
}

/** Why a token was refused, in words a client developer can act on (RFC 6750's error_description). */
function refusal(error: unknown): AppError {
  if (error instanceof KeySetUnavailable) return new AppError('SERVICE_UNAVAILABLE', error.message)
  if (error instanceof errors.JWTExpired) return new AppError('UNAUTHORIZED', 'The token has expired')
  if (error instanceof errors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case 'nbf': return new AppError('UNAUTHORIZED', 'The token is not valid yet')
      case 'iss': return new AppError('UNAUTHORIZED', 'The token was not issued by the accepted issuer')
      case 'aud': return new AppError('UNAUTHORIZED', 'The token is not meant for this API (audience)')
      default: return new AppError('UNAUTHORIZED', `The token's ${error.claim} claim is missing or invalid`)
    }
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return new AppError('UNAUTHORIZED', 'The token\'s signing algorithm is not accepted')
  if (error instanceof errors.JWSSignatureVerificationFailed || error instanceof errors.JWKSNoMatchingKey) {
    return new AppError('UNAUTHORIZED', 'The token\'s signature does not verify')
  }
  return new AppError('UNAUTHORIZED', 'The token is not a valid JWT')
}

import { type Command, InvalidArgumentError } from 'commander'
import { SignJWT } from 'jose'
import { type Config, isProduction } from '../../../platform/config.ts'
import { AppError } from '../../../platform/errors.ts'
import { DEV_JWT_SECRET } from '../http/plugins/end-user-tokens.ts'

/** Longest lifetime a dev token may have: long enough for a day's work, short enough to forget. */
const MAX_TTL_S = 7 * 24 * 3600
const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 }

/** Seconds in a lifetime written `90`, `90s`, `15m`, `1h` or `2d`; throws for anything else. */
export function parseTtl(text: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(text.trim())
  const seconds = match ? Number(match[1]) * UNITS[match[2] || 's']! : Number.NaN
  if (!(seconds >= 1 && seconds <= MAX_TTL_S)) throw new InvalidArgumentError(`must be a lifetime like 90s, 15m, 1h or 2d, at most ${MAX_TTL_S / 86_400}d`)
  return seconds
}

export interface DevTokenRequest {
  /** The end user: the token's `sub`. */
  userId: string
  /** Lifetime in seconds. Default: 3600 */
  ttlSeconds?: number
  config: Pick<Config, 'NODE_ENV' | 'AUTH_JWT_SECRET' | 'AUTH_JWKS_URL' | 'AUTH_JWT_ISSUER' | 'AUTH_JWT_AUDIENCE'>
  /** Default: now. */
  now?: Date
}

/**
 * An end-user JWT the orchestrator accepts, for trying the API as a user: HS256 with
 * AUTH_JWT_SECRET, or with the dev secret when nothing is configured; `iss`/`aud` as configured.
 * Refused in production (real users get tokens from the identity provider), and when only
 * AUTH_JWKS_URL is set (the orchestrator then accepts only the provider's signatures).
 */
export async function mintDevToken(request: DevTokenRequest): Promise<string> {
  const { config } = request
  if (isProduction(config)) throw new AppError('FORBIDDEN', 'Dev tokens are not minted in production: get one from the identity provider')
  if (!config.AUTH_JWT_SECRET && config.AUTH_JWKS_URL) {
    throw new AppError('FORBIDDEN', 'AUTH_JWKS_URL is set without AUTH_JWT_SECRET: the orchestrator accepts only the identity provider\'s tokens')
  }
  if (!request.userId) throw new InvalidArgumentError('a user id is required')
  const issuedAt = Math.floor((request.now ?? new Date()).getTime() / 1000)
  const jwt = new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(request.userId)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + (request.ttlSeconds ?? 3600))
  if (config.AUTH_JWT_ISSUER) jwt.setIssuer(config.AUTH_JWT_ISSUER)
  if (config.AUTH_JWT_AUDIENCE) jwt.setAudience(config.AUTH_JWT_AUDIENCE)
  return jwt.sign(new TextEncoder().encode(config.AUTH_JWT_SECRET ?? DEV_JWT_SECRET))
}

export interface DevTokenCommandOptions {
  config: DevTokenRequest['config']
  /** Where the token goes: one line, nothing else, so `$(npm run -s saga -- token …)` is the token. */
  out: (line: string) => void
}

/**
 * Adds `token --user <id> [--ttl 1h]` to a commander program (it inherits the program's exit
 * and output handling): prints a dev token for that end user.
 */
export function addDevTokenCommand(program: Command, options: DevTokenCommandOptions): Command {
  return program.command('token')
    .description('Print an end-user JWT for trying the API as that user (not in production)')
    .requiredOption('--user <userId>', 'the end user (the token\'s sub)')
    .option('--ttl <lifetime>', 'how long it is valid: 90s, 15m, 1h, 2d', parseTtl, 3600)
    .action(async (flags: { user: string; ttl: number }) => {
      options.out(await mintDevToken({ userId: flags.user, ttlSeconds: flags.ttl, config: options.config }))
    })
}

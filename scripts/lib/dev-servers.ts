import path from 'node:path'
import { type Environment, loadConfig } from '../../platform/config.ts'
import { REDIS_DISABLED, WITHOUT_REDIS } from '../../platform/redis.ts'
import { reachable, safeUrl, START_POSTGRES, START_REDIS } from './check-servers.ts'
import { EmbeddedPostgresUnavailable, startEmbeddedPostgres, type EmbeddedPostgres } from './embedded-postgres.ts'
import { EmbeddedRedisUnavailable, startEmbeddedRedis, type EmbeddedRedis } from './embedded-redis.ts'
import { testDatabaseUrl } from './test-database.ts'

// Which PostgreSQL and Redis `npm start` and `npm test` use, in this order:
// 1. the URL the environment names (DATABASE_URL / TEST_DATABASE_URL, REDIS_URL): real
//    servers are the production path, and naming one always wins;
// 2. else the server on its standard port on this machine (127.0.0.1:5432 / :6379);
// 3. else a server of our own: the embedded PostgreSQL (data in .data/, kept between runs)
//    and the embedded Redis-protocol server (in memory). For Redis, when its package is
//    missing, the explicit degraded mode REDIS_URL=disabled.
// Embedded servers stop with the command that started them, whatever ends it.

export type Purpose = 'start' | 'test'

export interface ServerChoice {
  /** For the processes of the run: DATABASE_URL (and TEST_DATABASE_URL for tests) and REDIS_URL. */
  env: Record<string, string>
  /** The database the run uses (for tests: the test database). */
  databaseUrl: string
  /** A redis:// URL or "disabled". */
  redisUrl: string
  /** One line per server: which one, where, why, and where its data lives. */
  lines: string[]
  /** Lines that stop the command (a named server is down, nothing usable). */
  problems: string[]
  /** The embedded servers running for this command, if any. */
  embedded: { postgres?: EmbeddedPostgres; redis?: EmbeddedRedis }
  /** Stops the embedded servers (the ones named by URL are not ours to stop). */
  stop(): Promise<void>
}

export interface ChooseOptions {
  /** Default: process.env */
  env?: Environment
  /** The repository (where .data/ lives). Default: this checkout. */
  root?: string
  /** Progress lines while an embedded server initialises. */
  log?: (line: string) => void
}

const ROOT = path.resolve(import.meta.dirname, '../..')
const LOCAL_POSTGRES = 'postgresql://postgres@127.0.0.1:5432'
const LOCAL_REDIS = 'redis://127.0.0.1:6379'

/** Ports the embedded servers prefer (any free one when taken): beside, never on, the standard ones. */
export const EMBEDDED_PORTS = { start: { postgres: 54_320, redis: 63_790 }, test: { postgres: 54_330, redis: 0 } } as const

const isSet = (value: string | undefined) => value !== undefined && value.trim() !== ''
const label = (name: string) => name.padEnd(11)

export async function chooseServers(purpose: Purpose, options: ChooseOptions = {}): Promise<ServerChoice> {
  const env = options.env ?? process.env
  const root = options.root ?? ROOT
  const config = loadConfig(env)
  const lines: string[] = []
  const problems: string[] = []
  const embedded: ServerChoice['embedded'] = {}
  const stop = async () => {
    await embedded.redis?.stop()
    await embedded.postgres?.stop()
  }

  // PostgreSQL.
  const named = purpose === 'test' ? isSet(env.TEST_DATABASE_URL) || isSet(env.DATABASE_URL) : isSet(env.DATABASE_URL)
  const forPurpose = (url: string) => (purpose === 'test' ? testDatabaseUrl({ DATABASE_URL: url, TEST_DATABASE_URL: config.TEST_DATABASE_URL }) : url)
  let databaseUrl: string
  const defaultName = new URL(config.DATABASE_URL).pathname
  if (named) {
    databaseUrl = forPurpose(config.DATABASE_URL)
    const which = purpose === 'test' && isSet(env.TEST_DATABASE_URL) ? 'TEST_DATABASE_URL' : 'DATABASE_URL'
    lines.push(`${label('PostgreSQL')} ${safeUrl(databaseUrl)} (${which})`)
    if (!(await reachable(databaseUrl, 5432))) problems.push(`PostgreSQL is not reachable at ${safeUrl(databaseUrl)} (${which}); start it, or unset ${which} to use the embedded one`)
  } else if (await reachable(LOCAL_POSTGRES, 5432)) {
    databaseUrl = forPurpose(`${LOCAL_POSTGRES}${defaultName}`)
    lines.push(`${label('PostgreSQL')} ${safeUrl(databaseUrl)} (the server on 127.0.0.1:5432; DATABASE_URL is unset)`)
  } else {
    try {
      const dataDir = path.join(root, '.data', purpose === 'test' ? 'test' : '', 'postgres')
      // Test data is thrown away: trade durability for speed there, never for npm start.
      embedded.postgres = await startEmbeddedPostgres({ dataDir, port: EMBEDDED_PORTS[purpose].postgres, fast: purpose === 'test', ...(options.log ? { log: options.log } : {}) })
      databaseUrl = forPurpose(embedded.postgres.url(defaultName.slice(1)))
      lines.push(`${label('PostgreSQL')} embedded PostgreSQL 15 on 127.0.0.1:${embedded.postgres.port}, data in ${shown(root, embedded.postgres.dataDir)}, log ${shown(root, embedded.postgres.logFile)} ` +
        '(nothing answers on 127.0.0.1:5432 and DATABASE_URL is unset)')
    } catch (error) {
      databaseUrl = forPurpose(config.DATABASE_URL)
      problems.push(error instanceof EmbeddedPostgresUnavailable
        ? `PostgreSQL is not reachable at 127.0.0.1:5432 and ${error.message}; start one with: ${START_POSTGRES} (or set DATABASE_URL)`
        : `The embedded PostgreSQL did not start: ${(error as Error).message}`)
    }
  }

  // Redis.
  let redisUrl: string
  if (isSet(env.REDIS_URL)) {
    redisUrl = config.REDIS_URL
    if (redisUrl === REDIS_DISABLED) {
      lines.push(`${label('Redis')} disabled (REDIS_URL=disabled): ${WITHOUT_REDIS}`)
    } else {
      lines.push(`${label('Redis')} ${safeUrl(redisUrl)} (REDIS_URL)`)
      if (!(await reachable(redisUrl, 6379))) {
        // Redis is a mirror and a cache: the services start without it and reconnect when it
        // is back. The tests, though, check what is mirrored there.
        if (purpose === 'test') problems.push(`Redis is not reachable at ${safeUrl(redisUrl)} (REDIS_URL); start it with: ${START_REDIS} (or unset REDIS_URL to use the embedded one)`)
        else lines.push(`${label('')} not reachable now: the services start without it and connect when it is up`)
      }
    }
  } else if (await reachable(LOCAL_REDIS, 6379)) {
    redisUrl = LOCAL_REDIS
    lines.push(`${label('Redis')} ${LOCAL_REDIS} (the server on 127.0.0.1:6379; REDIS_URL is unset)`)
  } else {
    try {
      embedded.redis = await startEmbeddedRedis({ port: EMBEDDED_PORTS[purpose].redis })
      redisUrl = embedded.redis.url
      lines.push(`${label('Redis')} embedded Redis-protocol server (js-redis-server) on 127.0.0.1:${embedded.redis.port}, in this process's memory only ` +
        '(nothing answers on 127.0.0.1:6379 and REDIS_URL is unset)')
    } catch (error) {
      if (!(error instanceof EmbeddedRedisUnavailable)) throw error
      redisUrl = REDIS_DISABLED
      lines.push(`${label('Redis')} disabled: nothing answers on 127.0.0.1:6379, REDIS_URL is unset and ${error.message}; ` +
        WITHOUT_REDIS)
    }
  }

  const childEnv: Record<string, string> = { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl }
  if (purpose === 'test') childEnv.TEST_DATABASE_URL = databaseUrl
  // Tests that compare the embedded server with a real one need to know which this is.
  if (purpose === 'test' && embedded.redis) childEnv.SAGA_EMBEDDED_REDIS = embedded.redis.url
  return { env: childEnv, databaseUrl, redisUrl, lines, problems, embedded, stop }
}

function shown(root: string, file: string): string {
  const relative = path.relative(root, file)
  return relative.startsWith('..') ? file : relative
}

import { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { type Config, loadConfig } from './config.ts'

export type { Redis }

/** `REDIS_URL=disabled`: run without Redis (see WITHOUT_REDIS). */
export const REDIS_DISABLED = 'disabled'
/** What the system does without Redis, as the start-up lines and the warning say it. */
export const WITHOUT_REDIS = 'no saga mirror, no event streams; reads and live updates from Postgres'

/**
 * The process's Redis client as configured: a client on `REDIS_URL`, or undefined when it is
 * `disabled`, which is said once in the log so that nobody wonders where the mirror went.
 * Redis being down is no reason not to start: it is a mirror and a cache, Postgres is the
 * source of truth, and the client reconnects by itself (see createRedis).
 */
export function redisFromConfig(config: Pick<Config, 'REDIS_URL'>, logger?: Logger): Redis | undefined {
  if (config.REDIS_URL === REDIS_DISABLED) {
    logger?.warn(`Redis disabled (REDIS_URL=disabled): ${WITHOUT_REDIS}`)
    return undefined
  }
  return createRedis({ url: config.REDIS_URL, ...(logger ? { logger } : {}) })
}

export interface RedisOptions {
  /** Default: `REDIS_URL`, else redis://127.0.0.1:6379 */
  url?: string
  logger?: Logger
}

/**
 * A Redis client for a mirror/cache role: commands fail fast while Redis is down (no offline
 * queue, one try) so that callers fall back to Postgres instead of waiting, and the client
 * keeps reconnecting in the background. Outages are logged once, not once per retry.
 */
export function createRedis(options: RedisOptions = {}): Redis {
  const url = options.url ?? loadConfig().REDIS_URL
  // ioredis would read "disabled" as a host name and retry it forever.
  if (url === REDIS_DISABLED) throw new Error('REDIS_URL is "disabled": use redisFromConfig(), which gives no client then')
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    commandTimeout: 2_000,
    lazyConnect: false,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  })
  let down = false
  redis.on('error', (error: Error) => {
    if (down) return
    down = true
    options.logger?.warn({ err: error.message }, 'Redis unavailable; continuing on Postgres alone')
  })
  redis.on('ready', () => {
    if (down) options.logger?.info('Redis reachable again')
    down = false
  })
  return redis
}

import { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { loadConfig } from './config.ts'

export type { Redis }

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
  const redis = new Redis(options.url ?? loadConfig().REDIS_URL, {
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

/** Runs a Redis command as a best effort: undefined when Redis is down or slow. */
export async function tryRedis<T>(redis: Redis | undefined, command: (redis: Redis) => Promise<T>): Promise<T | undefined> {
  if (!redis || redis.status !== 'ready') return undefined
  try {
    return await command(redis)
  } catch {
    return undefined
  }
}

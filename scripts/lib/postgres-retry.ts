import { setTimeout as sleep } from 'node:timers/promises'
import { isDatabaseUnavailable } from '../../platform/database-errors.ts'
import { safeUrl } from './check-servers.ts'

export interface PostgresRetryOptions {
  /** Where the waiting is said. Default: console.error */
  log?: (line: string) => void
  /** First pause; doubled each time up to maxDelayMs. Default: 500 ms */
  initialDelayMs?: number
  /** Default: 5000 ms */
  maxDelayMs?: number
  /** Give up after this long (the last error is thrown). Default: never */
  timeoutMs?: number
}

/**
 * Runs `work` (a migration, a seed) until it gets past a Postgres that is not there yet or
 * went away for a moment, pausing with exponential backoff and saying so, instead of dying at
 * the first refused connection: a process started before its database (a machine booting, a
 * restart, docker compose without health checks) comes up once the database does. Errors that
 * are not about reaching Postgres are thrown at once.
 */
export async function withPostgresRetry<T>(url: string, work: () => Promise<T>, options: PostgresRetryOptions = {}): Promise<T> {
  const log = options.log ?? ((line: string) => console.error(line))
  const maxDelayMs = options.maxDelayMs ?? 5_000
  const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs
  let delayMs = options.initialDelayMs ?? 500
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await work()
      if (attempt > 1) log(`PostgreSQL at ${safeUrl(url)} is reachable again`)
      return result
    } catch (error) {
      if (!isDatabaseUnavailable(error) || Date.now() + delayMs > deadline) throw error
      const reason = (error as { code?: string; message?: string }).code ?? (error as Error).message
      log(`PostgreSQL is not reachable at ${safeUrl(url)} (${reason}); retrying in ${(delayMs / 1000).toFixed(1)} s (attempt ${attempt})`)
      await sleep(delayMs)
      delayMs = Math.min(delayMs * 2, maxDelayMs)
    }
  }
}

/**
 * How often and how patiently a step is attempted. Delays grow exponentially with full
 * jitter ("exponential backoff and jitter", AWS architecture blog) up to a cap.
 */
export interface RetryPolicy {
  /** Attempts in total, the first included. `Infinity`: until a definitive answer. */
  maxAttempts: number
  /** Delay before the second attempt. */
  initialDelayMs: number
  /** Growth factor between attempts. */
  multiplier: number
  /** Upper bound of any single delay. */
  maxDelayMs: number
}

/** Default: 3 attempts, 100 ms growing ×2, capped at 2 s. */
export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 3, initialDelayMs: 100, multiplier: 2, maxDelayMs: 2_000 }

/** Default for compensations: 8 attempts, 200 ms growing ×2, capped at 5 s. */
export const DEFAULT_COMPENSATION_RETRY: RetryPolicy = { maxAttempts: 8, initialDelayMs: 200, multiplier: 2, maxDelayMs: 5_000 }

/** Default for steps after the pivot: retried until they succeed, at most 10 s apart. */
export const RETRY_FOREVER: RetryPolicy = { maxAttempts: Infinity, initialDelayMs: 200, multiplier: 2, maxDelayMs: 10_000 }

/**
 * Writes to the saga store while the store fails (not while it refuses: a lost lease is final):
 * 8 attempts, 100 ms growing ×2, capped at 3 s — about 10 s, longer than a Postgres restart.
 */
export const STORE_RETRY: RetryPolicy = { maxAttempts: 8, initialDelayMs: 100, multiplier: 2, maxDelayMs: 3_000 }

/**
 * Delay before attempt `attempt + 1`, given that `attempt` attempts (≥ 1) have failed.
 * `random` is in [0, 1); full jitter spreads the retries of many sagas hitting one participant.
 * A participant's Retry-After wins when it asks for longer.
 */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: number, retryAfterMs?: number): number {
  const exponential = policy.initialDelayMs * policy.multiplier ** Math.max(0, attempt - 1)
  const ceiling = Math.min(policy.maxDelayMs, exponential)
  // Half fixed, half jitter: never retry immediately, never all at the same instant.
  const delay = Math.round(ceiling / 2 + (ceiling / 2) * random)
  return retryAfterMs !== undefined ? Math.max(delay, Math.min(retryAfterMs, Math.max(policy.maxDelayMs, retryAfterMs))) : delay
}

export function hasAttemptsLeft(policy: RetryPolicy, attemptsMade: number): boolean {
  return attemptsMade < policy.maxAttempts
}

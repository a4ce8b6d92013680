import { describe, expect, it } from 'vitest'
import { backoffDelay, DEFAULT_RETRY, hasAttemptsLeft, RETRY_FOREVER, type RetryPolicy } from './retry-policy.ts'

const policy: RetryPolicy = { maxAttempts: 5, initialDelayMs: 100, multiplier: 2, maxDelayMs: 1_000 }
const JUST_BELOW_ONE = 0.999_999

describe('backoffDelay', () => {
  it('grows exponentially from the initial delay', () => {
    // With no jitter the delay is the top of its range: initialDelayMs × multiplier^(attempt-1).
    expect([1, 2, 3, 4].map((attempt) => backoffDelay(policy, attempt, JUST_BELOW_ONE))).toEqual([100, 200, 400, 800])
  })

  it('is capped at maxDelayMs however many attempts failed', () => {
    expect(backoffDelay(policy, 5, JUST_BELOW_ONE)).toBe(1_000)
    expect(backoffDelay(policy, 60, JUST_BELOW_ONE)).toBe(1_000)
    expect(backoffDelay(RETRY_FOREVER, 1_000, JUST_BELOW_ONE)).toBe(RETRY_FOREVER.maxDelayMs)
  })

  it('keeps the jitter between half the ceiling and the ceiling', () => {
    for (const attempt of [1, 3, 7]) {
      const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.multiplier ** (attempt - 1))
      for (const random of [0, 0.1, 0.25, 0.5, 0.75, 0.9, JUST_BELOW_ONE]) {
        const delay = backoffDelay(policy, attempt, random)
        expect(delay).toBeGreaterThanOrEqual(ceiling / 2)
        expect(delay).toBeLessThanOrEqual(ceiling)
      }
    }
    expect(backoffDelay(policy, 2, 0)).toBe(100)
    expect(backoffDelay(policy, 2, 0.5)).toBe(150)
  })

  it('spreads retries: different random draws give different delays', () => {
    const delays = new Set([0, 0.2, 0.4, 0.6, 0.8].map((random) => backoffDelay(policy, 3, random)))
    expect(delays.size).toBe(5)
  })

  it('waits as long as a Retry-After asks when it is longer than the backoff', () => {
    expect(backoffDelay(policy, 1, 0.5, 3_000)).toBe(3_000)
    // Longer than maxDelayMs too: the participant knows when it will be back.
    expect(backoffDelay(policy, 1, 0.5, 30_000)).toBe(30_000)
  })

  it('keeps the backoff when a Retry-After is shorter', () => {
    expect(backoffDelay(policy, 3, 0.5, 10)).toBe(backoffDelay(policy, 3, 0.5))
    expect(backoffDelay(policy, 3, 0.5, 0)).toBe(300)
  })
})

describe('hasAttemptsLeft', () => {
  it('counts the first attempt in maxAttempts', () => {
    expect(hasAttemptsLeft(DEFAULT_RETRY, 0)).toBe(true)
    expect(hasAttemptsLeft(DEFAULT_RETRY, 2)).toBe(true)
    expect(hasAttemptsLeft(DEFAULT_RETRY, 3)).toBe(false)
    expect(hasAttemptsLeft(DEFAULT_RETRY, 4)).toBe(false)
  })

  it('never runs out for a policy of Infinity attempts', () => {
    expect(hasAttemptsLeft(RETRY_FOREVER, 1)).toBe(true)
    expect(hasAttemptsLeft(RETRY_FOREVER, Number.MAX_SAFE_INTEGER)).toBe(true)
  })
})

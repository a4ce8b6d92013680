import type { ParticipantReply } from './ports.ts'
import type { StepError } from './saga-instance.ts'

// Every participant answer is judged here, once, into what it proves about the command:
//
// - applied: 2xx (a first answer or a replay of the stored one).
// - rejected: a business rejection; the participant stored it under the key, so the command
//   was not applied and never will be under that key. Never retried with the same key.
// - already: an undo whose target state already holds (the step lists the code): done.
// - unknown: nothing proves either way — timeouts, dropped connections, 5xx, 408, 429,
//   409 REQUEST_IN_PROGRESS, 422 IDEMPOTENCY_KEY_REUSED (the key was processed, with another
//   body: what happened is stored under it), 401/403 (a credential problem, not an answer about
//   the command), 404 without a business code (the route itself is missing), 1xx/3xx.
//   Retried with the same key (safe: a replay), or settled with the participant's fence.

export type Outcome =
  | { kind: 'applied'; status: number; body: unknown }
  | { kind: 'rejected'; status: number; error: StepError }
  | { kind: 'already'; status: number; error: StepError }
  | { kind: 'unknown'; error: StepError; status?: number; retryAfterMs?: number }

/** What a fence proved: the command was applied (its stored answer), or never will be. */
export type FenceOutcome =
  | { kind: 'applied'; body: unknown }
  | { kind: 'not-applied'; error?: StepError }
  | { kind: 'unknown'; error: StepError; status?: number; retryAfterMs?: number }

/** Codes with which a participant proves something about the key, whatever the route. */
const IN_PROGRESS = 'REQUEST_IN_PROGRESS'
const KEY_REUSED = 'IDEMPOTENCY_KEY_REUSED'
const KEY_FENCED = 'IDEMPOTENCY_KEY_FENCED'
/** The code a participant's router answers for a route it does not have. */
const NO_SUCH_ROUTE = 'NOT_FOUND'

export function classifyReply(reply: ParticipantReply, participant: string, alreadyCodes: readonly string[] = []): Outcome {
  if (reply.kind === 'no-answer') return { kind: 'unknown', error: reply.error }
  const { status, body } = reply
  if (status >= 200 && status < 300) return { kind: 'applied', status, body }
  const error = participantError(status, body, participant)
  const unknown = (): Outcome => ({ kind: 'unknown', status, error, ...(reply.retryAfterMs !== undefined ? { retryAfterMs: reply.retryAfterMs } : {}) })
  if (status < 400 || status >= 500 || status === 408 || status === 429 || status === 401 || status === 403) return unknown()
  if (error.code === IN_PROGRESS || error.code === KEY_REUSED) return unknown()
  if (status === 404 && (error.code === NO_SUCH_ROUTE || error.code === `HTTP_${status}`)) return unknown()
  // A fenced key never applies: as definitive as a rejection (a retry needs a new generation).
  if (error.code === KEY_FENCED) return { kind: 'rejected', status, error }
  if (alreadyCodes.includes(error.code)) return { kind: 'already', status, error }
  return { kind: 'rejected', status, error }
}

/**
 * Judges a fence's answer (contract: `{ applied: true, status, body }` — the stored answer — or
 * `{ applied: false }`). A stored answer is a success or a business rejection (participants
 * store nothing else); a stored rejection means the command was not applied.
 */
export function classifyFence(reply: ParticipantReply, participant: string): FenceOutcome {
  const outcome = classifyReply(reply, participant)
  if (outcome.kind !== 'applied') {
    if (outcome.kind === 'unknown') return outcome
    // A fence is never refused for business reasons; a refusal means something is wrong with
    // the route or the key: keep asking rather than guess.
    return { kind: 'unknown', error: outcome.error, status: outcome.status }
  }
  const answer = outcome.body as { applied?: unknown; status?: unknown; body?: unknown } | null
  if (answer?.applied === false) return { kind: 'not-applied' }
  if (answer?.applied !== true || typeof answer.status !== 'number') {
    return { kind: 'unknown', error: { code: 'INVALID_FENCE_ANSWER', message: `${participant} answered the fence with something the protocol does not have`, participant } }
  }
  const stored = classifyReply({ kind: 'answer', status: answer.status, body: answer.body }, participant)
  if (stored.kind === 'applied') return { kind: 'applied', body: stored.body }
  if (stored.kind === 'rejected' || stored.kind === 'already') return { kind: 'not-applied', error: stored.error }
  return { kind: 'unknown', error: stored.error }
}

export function participantError(status: number, body: unknown, participant: string): StepError {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error
  const code = typeof error?.code === 'string' ? error.code : `HTTP_${status}`
  const message = typeof error?.message === 'string' ? error.message : `${participant} answered ${status}`
  return { code, message, status, participant }
}

import { describe, expect, it } from 'vitest'
import { classifyFence, classifyReply } from './classify.ts'
import type { ParticipantReply } from './ports.ts'

// Every participant answer is judged in one place, into what it proves about the command.

const answer = (status: number, body: unknown = {}, retryAfterMs?: number): ParticipantReply =>
  ({ kind: 'answer', status, body, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) })
const failure = (code: string, message = `${code} explained`) => ({ error: { code, message } })

describe('classifying a participant\'s answer', () => {
  it.each([200, 201, 204])('takes %i as applied, with its body', (status) => {
    expect(classifyReply(answer(status, { id: 'x' }), 'catalog')).toEqual({ kind: 'applied', status, body: { id: 'x' } })
  })

  it.each([
    [400, 'VALIDATION_FAILED'],
    [402, 'PAYMENT_DECLINED'],
    [404, 'TOUR_NOT_FOUND'],
    [409, 'BOOKING_ALREADY_CANCELLED'],
    [422, 'INSUFFICIENT_SPOTS'],
  ])('takes %i %s as a definitive rejection: stored under the key, never applied', (status, code) => {
    expect(classifyReply(answer(status, failure(code)), 'catalog')).toEqual({
      kind: 'rejected', status, error: { code, message: `${code} explained`, status, participant: 'catalog' },
    })
  })

  it('takes 409 IDEMPOTENCY_KEY_FENCED as definitive: the key was fenced, nothing applies under it', () => {
    expect(classifyReply(answer(409, failure('IDEMPOTENCY_KEY_FENCED')), 'payment')).toMatchObject({ kind: 'rejected', error: { code: 'IDEMPOTENCY_KEY_FENCED' } })
  })

  it.each([
    ['408', 408, 'REQUEST_TIMEOUT'],
    ['409 in progress', 409, 'REQUEST_IN_PROGRESS'],
    ['422 key reused: the key was processed, with another body', 422, 'IDEMPOTENCY_KEY_REUSED'],
    ['429', 429, 'RATE_LIMITED'],
    ['401: a credential problem, not an answer about the command', 401, 'UNAUTHORIZED'],
    ['403', 403, 'FORBIDDEN'],
    ['404 without a business code: the route is missing', 404, 'NOT_FOUND'],
    ['500', 500, 'INTERNAL_ERROR'],
    ['502', 502, 'PAYMENT_PROVIDER_ERROR'],
    ['503', 503, 'SERVICE_UNAVAILABLE'],
  ])('takes %s as unknown', (_name, status, code) => {
    expect(classifyReply(answer(status, failure(code)), 'catalog')).toMatchObject({ kind: 'unknown', status, error: { code, status, participant: 'catalog' } })
  })

  it('takes a 404 that is not in the contract\'s shape as a missing route (unknown), named after its status', () => {
    expect(classifyReply(answer(404, '<html>Not Found</html>'), 'catalog')).toEqual({
      kind: 'unknown', status: 404, error: { code: 'HTTP_404', message: 'catalog answered 404', status: 404, participant: 'catalog' },
    })
  })

  it('takes a redirect as unknown rather than guess what it meant', () => {
    expect(classifyReply(answer(302, ''), 'catalog')).toMatchObject({ kind: 'unknown', status: 302 })
  })

  it('takes no answer at all (timeout, refused, dropped) as unknown', () => {
    const error = { code: 'TIMEOUT', message: 'catalog did not answer within 100 ms', participant: 'catalog' }
    expect(classifyReply({ kind: 'no-answer', error }, 'catalog')).toEqual({ kind: 'unknown', error })
  })

  it('keeps Retry-After with an unknown outcome', () => {
    expect(classifyReply(answer(503, failure('SERVICE_UNAVAILABLE'), 2_000), 'catalog')).toMatchObject({ kind: 'unknown', retryAfterMs: 2_000 })
  })

  it('takes a code the step lists as "already undone" as done, for that step only', () => {
    const cancelled = answer(409, failure('BOOKING_ALREADY_CANCELLED'))
    expect(classifyReply(cancelled, 'booking', ['BOOKING_ALREADY_CANCELLED'])).toMatchObject({ kind: 'already', status: 409, error: { code: 'BOOKING_ALREADY_CANCELLED' } })
    expect(classifyReply(cancelled, 'booking')).toMatchObject({ kind: 'rejected' })
    // A listed code never turns an unknown answer into a success.
    expect(classifyReply(answer(503, failure('BOOKING_ALREADY_CANCELLED')), 'booking', ['BOOKING_ALREADY_CANCELLED'])).toMatchObject({ kind: 'unknown' })
  })
})

describe('classifying a fence\'s answer', () => {
  it('takes a stored success as applied, with the stored body', () => {
    expect(classifyFence(answer(200, { applied: true, status: 201, body: { paymentId: 'p-1' } }), 'payment')).toEqual({ kind: 'applied', body: { paymentId: 'p-1' } })
  })

  it('takes a stored rejection as never applied', () => {
    expect(classifyFence(answer(200, { applied: true, status: 402, body: failure('PAYMENT_DECLINED') }), 'payment'))
      .toEqual({ kind: 'not-applied', error: { code: 'PAYMENT_DECLINED', message: 'PAYMENT_DECLINED explained', status: 402, participant: 'payment' } })
  })

  it('takes "applied: false" as never applied: the key is fenced now', () => {
    expect(classifyFence(answer(200, { applied: false }), 'payment')).toEqual({ kind: 'not-applied' })
  })

  it.each([
    ['the command still running', answer(409, failure('REQUEST_IN_PROGRESS'))],
    ['a participant that is down', { kind: 'no-answer', error: { code: 'NETWORK_ERROR', message: 'refused' } } as ParticipantReply],
    ['a 503', answer(503, failure('SERVICE_UNAVAILABLE'))],
    ['a participant without the fence route', answer(404, failure('NOT_FOUND'))],
    ['a fence refused for a reason the protocol does not have', answer(400, failure('VALIDATION_FAILED'))],
    ['an answer without applied', answer(200, { ok: true })],
    ['a stored answer that is not one the protocol stores', answer(200, { applied: true, status: 500, body: {} })],
  ])('keeps asking after %s (unknown)', (_name, reply) => {
    expect(classifyFence(reply, 'payment').kind).toBe('unknown')
  })
})

import type { Command, StepContext, StepSpec } from '../engine/saga-definition.ts'

/** Builds commands for one participant, by the name its base URL is configured under. */
function participant(name: string) {
  return {
    post: (path: string, body?: unknown): Command => ({ participant: name, method: 'POST', path, body }),
  }
}

export const tourCatalog = participant('tour-catalog')
export const booking = participant('booking')
export const payment = participant('payment')
export const notification = participant('notification')
export const hotel = participant('hotel')
export const loyalty = participant('loyalty')

/** Path segment from data a participant returned: never let an id change the path's shape. */
export function segment(value: unknown): string {
  return encodeURIComponent(String(value))
}

/**
 * The last step of every saga: tell the customer. Non-critical, so a notification service
 * that stays down costs three quick attempts and a FAILED line in the timeline, never the saga.
 */
export function notifyCustomer<Input extends { userId: string }>(spec: {
  name: string
  state: string
  type: 'booking-confirmed' | 'cancellation-confirmed' | 'hotel-reservation-confirmed'
  data: (context: StepContext<Input>) => Record<string, unknown>
}): StepSpec<Input> {
  return {
    name: spec.name,
    kind: 'retriable',
    critical: false,
    state: spec.state,
    retry: { maxAttempts: 3, initialDelayMs: 100, multiplier: 2, maxDelayMs: 1_000 },
    timeoutMs: 3_000,
    invoke: (context) => notification.post('/api/notifications', {
      userId: context.input.userId,
      type: spec.type,
      sagaId: context.sagaId,
      data: spec.data(context),
    }),
  }
}

import type { Prisma } from '../../platform/database.ts'
import type { DomainEvent } from '../../platform/events/domain-event.ts'
import { defineConsumer } from '../../platform/events/event-consumer.ts'
import { toMinor } from '../../platform/money.ts'

/** Above this share of cancellations a tour is flagged, once (analytics.high.cancellation.rate). */
export const HIGH_CANCELLATION_RATE = 0.3

/** What a customer gave as a cancellation's reason, or this when none. */
export const NO_REASON = 'unspecified'

/** cancellations / bookings, 4 decimals; 0 for a tour without bookings. */
export function cancellationRate(bookings: number, cancellations: number): number {
  return bookings > 0 ? Math.round((cancellations / bookings) * 10_000) / 10_000 : 0
}

interface Figures {
  bookings: number
  cancellations: number
  alerted: boolean
}

/**
 * The analytics service's figures, from the orchestrator's facts: per tour, bookings and
 * revenue (booking.confirmed), cancellations and refunds (booking.canceled), and cancellations
 * per reason. A tour whose cancellation rate passes 30 % is flagged once, with an event of its own.
 * Each event counts once: the kit records its id in the same transaction (processed_events).
 */
export const bookingFigures = defineConsumer({
  name: 'analytics.booking-figures',
  eventTypes: ['booking.confirmed', 'booking.canceled'],
  async handle(event, { tx, emit }) {
    const [tourId, currency] = required(event, ['tourId', 'currency'] as const)
    if (event.eventType === 'booking.confirmed') {
      await count(tx, tourId, currency, { bookings: 1, revenueMinor: minor(event, 'totalPrice', currency) })
      return
    }
    const figures = await count(tx, tourId, currency, { cancellations: 1, refundedMinor: minor(event, 'refundAmount', currency) })
    const reason = typeof event.data.cancellationReason === 'string' && event.data.cancellationReason.trim() ? event.data.cancellationReason.trim().slice(0, 500) : NO_REASON
    await tx.$executeRaw`INSERT INTO "analytics"."cancellation_reasons" (reason, count) VALUES (${reason}, 1)
                         ON CONFLICT (reason) DO UPDATE SET count = "cancellation_reasons".count + 1`
    const rate = cancellationRate(figures.bookings, figures.cancellations)
    if (rate > HIGH_CANCELLATION_RATE && !figures.alerted) {
      await tx.$executeRaw`UPDATE "analytics"."tour_stats" SET alerted_at = now() WHERE tour_id = ${tourId}::uuid`
      emit('analytics.high.cancellation.rate', {
        tourId, bookings: figures.bookings, cancellations: figures.cancellations, cancellationRate: rate, threshold: HIGH_CANCELLATION_RATE,
      })
    }
  },
})

/** Adds to a tour's figures (the row appears with its first event); answers them after. */
async function count(tx: Prisma.TransactionClient, tourId: string, currency: string, add: { bookings?: number; cancellations?: number; revenueMinor?: number; refundedMinor?: number }): Promise<Figures> {
  const { bookings = 0, cancellations = 0, revenueMinor = 0, refundedMinor = 0 } = add
  const [row] = await tx.$queryRaw<{ bookings: number; cancellations: number; alerted: boolean }[]>`
    INSERT INTO "analytics"."tour_stats" (tour_id, bookings, cancellations, revenue_minor, refunded_minor, currency)
    VALUES (${tourId}::uuid, ${bookings}, ${cancellations}, ${revenueMinor}, ${refundedMinor}, ${currency})
    ON CONFLICT (tour_id) DO UPDATE SET
      bookings = "tour_stats".bookings + EXCLUDED.bookings,
      cancellations = "tour_stats".cancellations + EXCLUDED.cancellations,
      revenue_minor = "tour_stats".revenue_minor + EXCLUDED.revenue_minor,
      refunded_minor = "tour_stats".refunded_minor + EXCLUDED.refunded_minor,
      currency = COALESCE("tour_stats".currency, EXCLUDED.currency),
      updated_at = now()
    RETURNING bookings, cancellations, alerted_at IS NOT NULL AS alerted`
  return row!
}

/** The named string fields of the event's data; throws (the event goes to events:dead in the end) when one is missing. */
function required<const N extends readonly string[]>(event: DomainEvent, names: N): { [K in keyof N]: string } {
  return names.map((name) => {
    const value = event.data[name]
    if (typeof value !== 'string' || !value) throw new Error(`${event.eventType} ${event.eventId} has no ${name}`)
    return value
  }) as { [K in keyof N]: string }
}

function minor(event: DomainEvent, name: string, currency: string): number {
  const value = event.data[name]
  if (value === undefined || value === null) return 0
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new Error(`${event.eventType} ${event.eventId}: ${name} is not an amount`)
  return toMinor(value, currency)
}

import { daysBetween, isoDateOf, todayUtc } from '../shared/calendar.ts'

// The cancellation policy of a booking: the snapshot of the tour's policy the customer agreed
// to when booking. Pure arithmetic on integer minor units; the routes do the I/O.

export interface CancellationPolicy {
  /** Cancelling is allowed while the tour is at least this many whole days ahead. */
  minDays: number
  /** Share of the price kept as a fee, in percent (0..100). */
  feePercent: number
}

export type CancellationQuote =
  | { allowed: true; daysBefore: number; refundMinor: number }
  | { allowed: false; daysBefore: number; minDays: number }

/**
 * Whole days from `today` (UTC) to the tour date: 0 on the day of the tour, negative once it
 * is past. Both sides are taken at UTC midnight, so the time of day never shifts the answer.
 */
export function daysBeforeTour(tourDate: Date, today: Date): number {
  return daysBetween(todayUtc(today), isoDateOf(tourDate))
}

/** The refund for cancelling now: the price minus the fee, rounded to the nearest minor unit. */
export function quoteCancellation(
  booking: { tourDate: Date; totalPriceMinor: number; policy: CancellationPolicy },
  today: Date,
): CancellationQuote {
  const daysBefore = daysBeforeTour(booking.tourDate, today)
  const { minDays, feePercent } = booking.policy
  if (daysBefore < minDays) return { allowed: false, daysBefore, minDays }
  // totalPriceMinor × (100 − fee) is an exact integer; only the final division can round.
  return { allowed: true, daysBefore, refundMinor: Math.round((booking.totalPriceMinor * (100 - feePercent)) / 100) }
}

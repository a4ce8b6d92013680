import { AppError } from '../../../../platform/errors.ts'
import { toMajor, toMinor } from '../../../../platform/money.ts'
import { reason, userId, uuid } from '../../../../platform/vocabulary.ts'
import { defineSaga } from '../../engine/saga-definition.ts'
import { booking, loyalty, notifyCustomer, payment, segment, tourCatalog } from '../participants.ts'

export interface BookingCancellationInput {
  bookingId: string
  userId: string
  reason?: string
}

export const bookingCancellationBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['userId'],
  properties: {
    userId,
    reason,
  },
} as const

export const bookingCancellationInputSchema = {
  ...bookingCancellationBodySchema,
  required: ['bookingId', 'userId'],
  properties: { ...bookingCancellationBodySchema.properties, bookingId: uuid },
} as const

/**
 * A customer cancels a confirmed booking: cancel it (the booking service applies the tour's
 * policy and computes the refund) → refund that amount (the pivot) → release the spots →
 * take back the loyalty points the booking earned → tell the customer (non-critical).
 * After the refund nothing is undone: the last steps are retried until they succeed.
 */
export const bookingCancellationSaga = defineSaga<BookingCancellationInput>({
  type: 'booking-cancellation',
  // Default; the registry applies `BOOKING_CANCELLATION_DEADLINE_MS` (see sagas/index.ts).
  deadlineMs: 120_000,
  inputSchema: bookingCancellationInputSchema,
  completedState: 'CANCELLATION_COMPLETED',
  compensatedState: 'CANCELLATION_ROLLED_BACK',
  // One cancellation per booking and customer: asking again returns the first one's outcome
  // (never a second refund). Another user's attempt is a separate saga, refused by the booking.
  businessKey: (input) => `booking-cancellation:${input.bookingId}:${input.userId}`,
  // While the booking's own saga is unfinished (running, or waiting for an operator), the
  // booking is not settled: refused before any saga exists, whichever route started it.
  guard: async (input, sagas) => {
    const sagaId = await sagas.findUnfinished({ type: 'tour-booking', bookingId: input.bookingId })
    if (sagaId) throw new AppError('BOOKING_SAGA_IN_PROGRESS', undefined, { bookingId: input.bookingId, sagaId })
  },
  steps: [
    {
      name: 'cancelBooking',
      kind: 'compensatable',
      state: 'BOOKING_CANCELLED',
      compensatedState: 'BOOKING_REINSTATED',
      // Only a CONFIRMED booking: one whose booking saga is still running is refused untouched.
      invoke: ({ input }) => booking.post(`/api/bookings/${segment(input.bookingId)}/cancel`, {
        userId: input.userId,
        ...(input.reason ? { reason: input.reason } : {}),
        expectedStatus: 'CONFIRMED',
      }),
      compensate: ({ input }) => booking.post(`/api/bookings/${segment(input.bookingId)}/reinstate`),
      // Reinstating a booking that is not cancelled answers 2xx: nothing to list here.
    },
    {
      name: 'refundPayment',
      kind: 'pivot',
      state: 'PAYMENT_REFUNDED',
      timeoutMs: 20_000,
      invoke: ({ input, results }) => payment.post(`/api/payments/${segment(results.cancelBooking.paymentId)}/refunds`, {
        amount: results.cancelBooking.refundAmount,
        reason: input.reason ?? 'booking cancelled by the customer',
      }),
    },
    {
      name: 'releaseSpots',
      kind: 'retriable',
      state: 'SPOTS_RELEASED',
      invoke: ({ results }) => tourCatalog.post(`/api/reservations/${segment(results.cancelBooking.reservationId)}/release`),
    },
    {
      name: 'deductLoyaltyPoints',
      kind: 'retriable',
      state: 'POINTS_DEDUCTED',
      invoke: ({ input }) => loyalty.post(`/api/loyalty/accounts/${segment(input.userId)}/deductions`, {
        reference: `booking:${input.bookingId}`,
      }),
    },
    notifyCustomer({
      name: 'sendNotification',
      state: 'NOTIFICATION_SENT',
      type: 'cancellation-confirmed',
      data: ({ input, results }) => ({
        bookingId: input.bookingId,
        refundAmount: results.cancelBooking.refundAmount,
        currency: results.cancelBooking.currency,
        loyaltyPointsDeducted: results.deductLoyaltyPoints?.pointsDeducted ?? 0,
      }),
    }),
  ],
  // The cancellation is refunded, the spots are free and the points taken back: one
  // booking.canceled with the contract's fields, written with the completing transition.
  onCompleted: ({ input, results, completedAt }) => [{ type: 'booking.canceled', data: canceledData(input, results, completedAt) }],
  result: ({ input, results }) => ({
    bookingId: input.bookingId,
    refundAmount: results.cancelBooking?.refundAmount,
    currency: results.cancelBooking?.currency,
    ...(results.refundPayment?.refundId ? { refundId: results.refundPayment.refundId } : {}),
    loyaltyPointsDeducted: results.deductLoyaltyPoints?.pointsDeducted ?? 0,
  }),
  references: ({ input, results }) => ({
    userId: input.userId,
    bookingId: input.bookingId,
    reservationId: results.cancelBooking?.reservationId,
  }),
})

const DAY_MS = 86_400_000

/** The contract's booking.canceled fields, from what the booking and payment services answered. */
function canceledData(input: BookingCancellationInput, results: Record<string, any>, completedAt: Date): Record<string, unknown> {
  const cancelled = results.cancelBooking as {
    tourId: string; userId: string; numberOfSpots: number; totalPrice: number; currency: string; refundAmount: number
    tourDate: string; createdAt: string; cancelledAt: string | null; cancellationReason: string | null
  }
  const refund = results.refundPayment as { amount?: number; payment?: { status?: string } } | undefined
  const canceledAt = cancelled.cancelledAt ?? completedAt.toISOString()
  const refunded = refund?.amount ?? 0
  return {
    bookingId: input.bookingId,
    tourId: cancelled.tourId,
    userId: cancelled.userId,
    originalBookingDate: cancelled.createdAt,
    participants: cancelled.numberOfSpots,
    totalPrice: cancelled.totalPrice,
    currency: cancelled.currency,
    canceledAt,
    cancellationReason: cancelled.cancellationReason ?? input.reason ?? null,
    refundAmount: cancelled.refundAmount,
    refundStatus: refunded > 0 ? (refund?.payment?.status ?? 'REFUNDED') : 'NONE',
    daysBeforeTour: Math.floor((Date.parse(`${cancelled.tourDate}T00:00:00Z`) - Date.parse(`${canceledAt.slice(0, 10)}T00:00:00Z`)) / DAY_MS),
    cancellationFee: toMajor(toMinor(cancelled.totalPrice, cancelled.currency) - toMinor(cancelled.refundAmount, cancelled.currency), cancelled.currency),
  }
}

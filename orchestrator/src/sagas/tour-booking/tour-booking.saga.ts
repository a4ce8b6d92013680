import { currency, paymentMethod, spots, userId, uuid } from '../../../../platform/vocabulary.ts'
import { defineSaga } from '../../engine/saga-definition.ts'
import { booking, loyalty, notifyCustomer, payment, segment, tourCatalog } from '../participants.ts'

export interface TourBookingInput {
  tourId: string
  userId: string
  numberOfSpots: number
  paymentMethod: string
  currency?: string
}

/** Results of the steps, as the participants answer them (only the fields used here). */
interface Reservation {
  reservationId: string
  amount: number
  currency: string
  tour: { name: string; date: string; cancellationPolicy: { minDays: number; feePercent: number } }
}

export const tourBookingInputSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['tourId', 'userId', 'numberOfSpots', 'paymentMethod'],
  properties: {
    tourId: uuid,
    userId,
    numberOfSpots: spots,
    paymentMethod,
    currency,
  },
} as const

/**
 * Books spots on a tour: reserve the spots → create the booking (PENDING) → charge the
 * catalog's quote (the pivot) → confirm the booking → award loyalty points for the amount
 * paid → tell the customer (non-critical).
 * A failure before the pivot releases the spots and cancels the booking, in that reverse order.
 */
export const tourBookingSaga = defineSaga<TourBookingInput>({
  type: 'tour-booking',
  // Default; the registry applies `TOUR_BOOKING_DEADLINE_MS` (see sagas/index.ts).
  deadlineMs: 120_000,
  inputSchema: tourBookingInputSchema,
  completedState: 'BOOKING_COMPLETED',
  compensatedState: 'BOOKING_ROLLED_BACK',
  steps: [
    {
      name: 'reserveTour',
      kind: 'compensatable',
      state: 'TOUR_RESERVED',
      compensatedState: 'TOUR_RELEASED',
      invoke: ({ input }) => tourCatalog.post(`/api/tours/${segment(input.tourId)}/reservations`, {
        spots: input.numberOfSpots,
        ...(input.currency ? { currency: input.currency } : {}),
      }),
      compensate: ({ results }) => tourCatalog.post(`/api/reservations/${segment(results.reserveTour.reservationId)}/release`),
    },
    {
      name: 'createBooking',
      kind: 'compensatable',
      state: 'BOOKING_CREATED',
      compensatedState: 'BOOKING_CANCELLED',
      invoke: ({ input, results }) => {
        const reservation: Reservation = results.reserveTour
        return booking.post('/api/bookings', {
          reservationId: reservation.reservationId,
          tourId: input.tourId,
          userId: input.userId,
          numberOfSpots: input.numberOfSpots,
          totalPrice: reservation.amount,
          currency: reservation.currency,
          tourDate: reservation.tour.date,
          cancellationPolicy: reservation.tour.cancellationPolicy,
        })
      },
      compensate: ({ input, results }) => booking.post(`/api/bookings/${segment(results.createBooking.bookingId)}/cancel`, {
        userId: input.userId,
        reason: 'booking saga rolled back',
      }),
      // Cancelled already (by hand, or by an earlier generation of this undo): the undo is done.
      alreadyUndone: ['BOOKING_ALREADY_CANCELLED'],
    },
    {
      name: 'processPayment',
      kind: 'pivot',
      state: 'PAYMENT_PROCESSED',
      timeoutMs: 20_000,
      // The amount is the catalog's quote, never a number the client sent.
      invoke: ({ input, results }) => payment.post('/api/payments', {
        userId: input.userId,
        amount: results.reserveTour.amount,
        currency: results.reserveTour.currency,
        paymentMethod: input.paymentMethod,
        bookingId: results.createBooking.bookingId,
        reservationId: results.reserveTour.reservationId,
      }),
    },
    {
      name: 'confirmBooking',
      kind: 'retriable',
      state: 'BOOKING_CONFIRMED',
      invoke: ({ results }) => booking.post(`/api/bookings/${segment(results.createBooking.bookingId)}/confirm`, {
        paymentId: results.processPayment.paymentId,
      }),
    },
    {
      // Points on payment, as for hotel stays; a cancellation takes them back by reference.
      name: 'awardLoyaltyPoints',
      kind: 'retriable',
      state: 'POINTS_AWARDED',
      invoke: ({ input, results }) => loyalty.post(`/api/loyalty/accounts/${segment(input.userId)}/points`, {
        amount: results.reserveTour.amount,
        currency: results.reserveTour.currency,
        reference: `booking:${results.createBooking.bookingId}`,
      }),
    },
    notifyCustomer({
      name: 'sendNotification',
      state: 'NOTIFICATION_SENT',
      type: 'booking-confirmed',
      data: ({ input, results }) => ({
        bookingId: results.createBooking.bookingId,
        tourId: input.tourId,
        tourName: results.reserveTour.tour?.name,
        tourDate: results.reserveTour.tour?.date,
        numberOfSpots: input.numberOfSpots,
        totalPrice: results.reserveTour.amount,
        currency: results.reserveTour.currency,
        loyaltyPointsAdded: results.awardLoyaltyPoints?.pointsAdded ?? 0,
      }),
    }),
  ],
  // The booking is paid and confirmed: the fact the rest of the business hears about.
  onCompleted: ({ input, results, completedAt }) => [{
    type: 'booking.confirmed',
    data: {
      bookingId: results.createBooking.bookingId,
      tourId: input.tourId,
      userId: input.userId,
      participants: input.numberOfSpots,
      totalPrice: results.reserveTour.amount,
      currency: results.reserveTour.currency,
      tourDate: results.reserveTour.tour?.date,
      reservationId: results.reserveTour.reservationId,
      paymentId: results.processPayment?.paymentId ?? null,
      loyaltyPointsAdded: results.awardLoyaltyPoints?.pointsAdded ?? 0,
      confirmedAt: completedAt.toISOString(),
    },
  }],
  result: ({ results }) => ({
    bookingId: results.createBooking?.bookingId,
    reservationId: results.reserveTour?.reservationId,
    paymentId: results.processPayment?.paymentId,
    totalPrice: results.reserveTour?.amount,
    currency: results.reserveTour?.currency,
    loyaltyPointsAdded: results.awardLoyaltyPoints?.pointsAdded ?? 0,
  }),
  references: ({ input, results }) => ({
    userId: input.userId,
    bookingId: results.createBooking?.bookingId,
    reservationId: results.reserveTour?.reservationId,
  }),
})

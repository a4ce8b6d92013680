import { AppError } from '../../../../platform/errors.ts'
import { guests, isoDate, paymentMethod, roomType, userId, uuid } from '../../../../platform/vocabulary.ts'
import { defineSaga } from '../../engine/saga-definition.ts'
import { hotel, loyalty, notifyCustomer, payment, segment } from '../participants.ts'

export interface HotelReservationInput {
  hotelId: string
  roomType: string
  userId: string
  checkIn: string
  checkOut: string
  guests: number
  paymentMethod: string
}

export const hotelReservationInputSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['hotelId', 'roomType', 'userId', 'checkIn', 'checkOut', 'guests', 'paymentMethod'],
  properties: {
    hotelId: uuid,
    roomType,
    userId,
    checkIn: isoDate,
    checkOut: isoDate,
    guests,
    paymentMethod,
  },
} as const

/**
 * Books a hotel room: hold one room of the type for every night → charge price × nights (the
 * pivot) → add loyalty points for the amount paid → confirm the reservation → send the
 * confirmation (non-critical). Before the payment, a failure releases the room; after it,
 * a loyalty service that stays down is retried, never a reason to undo a paid stay.
 */
export const hotelReservationSaga = defineSaga<HotelReservationInput>({
  type: 'hotel-reservation',
  // Default; the registry applies `HOTEL_RESERVATION_DEADLINE_MS` (see sagas/index.ts).
  deadlineMs: 120_000,
  inputSchema: hotelReservationInputSchema,
  // A stay that ends before it starts is a bad request, not a saga that fails.
  guard: async (input) => {
    if (input.checkOut <= input.checkIn) {
      throw new AppError('VALIDATION_FAILED', 'checkOut must be after checkIn', {
        details: [{ location: 'body', path: '/checkOut', message: 'must be after checkIn' }],
      })
    }
  },
  completedState: 'RESERVATION_COMPLETED',
  compensatedState: 'RESERVATION_ROLLED_BACK',
  steps: [
    {
      name: 'reserveRoom',
      kind: 'compensatable',
      state: 'ROOM_RESERVED',
      compensatedState: 'ROOM_RELEASED',
      invoke: ({ input }) => hotel.post(`/api/hotels/${segment(input.hotelId)}/reservations`, {
        roomType: input.roomType,
        userId: input.userId,
        checkIn: input.checkIn,
        checkOut: input.checkOut,
        guests: input.guests,
      }),
      compensate: ({ results }) => hotel.post(`/api/hotel-reservations/${segment(results.reserveRoom.reservationId)}/release`),
    },
    {
      name: 'processPayment',
      kind: 'pivot',
      state: 'PAYMENT_PROCESSED',
      timeoutMs: 20_000,
      invoke: ({ input, results }) => payment.post('/api/payments', {
        userId: input.userId,
        amount: results.reserveRoom.amount,
        currency: results.reserveRoom.currency,
        paymentMethod: input.paymentMethod,
        reservationId: results.reserveRoom.reservationId,
      }),
    },
    {
      name: 'addLoyaltyPoints',
      kind: 'retriable',
      state: 'POINTS_ADDED',
      invoke: ({ input, results }) => loyalty.post(`/api/loyalty/accounts/${segment(input.userId)}/points`, {
        amount: results.reserveRoom.amount,
        currency: results.reserveRoom.currency,
        reference: `hotel-reservation:${results.reserveRoom.reservationId}`,
      }),
    },
    {
      name: 'confirmReservation',
      kind: 'retriable',
      state: 'RESERVATION_CONFIRMED',
      invoke: ({ results }) => hotel.post(`/api/hotel-reservations/${segment(results.reserveRoom.reservationId)}/confirm`),
    },
    notifyCustomer({
      name: 'sendConfirmation',
      state: 'CONFIRMATION_SENT',
      type: 'hotel-reservation-confirmed',
      data: ({ input, results }) => ({
        reservationId: results.reserveRoom.reservationId,
        hotelId: input.hotelId,
        roomType: input.roomType,
        checkIn: input.checkIn,
        checkOut: input.checkOut,
        totalPrice: results.reserveRoom.amount,
        currency: results.reserveRoom.currency,
        loyaltyPointsAdded: results.addLoyaltyPoints?.pointsAdded ?? 0,
      }),
    }),
  ],
  onCompleted: ({ input, results, completedAt }) => [{
    type: 'hotel.reservation.confirmed',
    data: {
      reservationId: results.reserveRoom.reservationId,
      hotelId: input.hotelId,
      roomType: input.roomType,
      userId: input.userId,
      checkIn: input.checkIn,
      checkOut: input.checkOut,
      guests: input.guests,
      nights: results.reserveRoom.nights ?? null,
      totalPrice: results.reserveRoom.amount,
      currency: results.reserveRoom.currency,
      paymentId: results.processPayment?.paymentId ?? null,
      loyaltyPointsAdded: results.addLoyaltyPoints?.pointsAdded ?? 0,
      confirmedAt: completedAt.toISOString(),
    },
  }],
  result: ({ results }) => ({
    reservationId: results.reserveRoom?.reservationId,
    paymentId: results.processPayment?.paymentId,
    totalPrice: results.reserveRoom?.amount,
    currency: results.reserveRoom?.currency,
    loyaltyPointsAdded: results.addLoyaltyPoints?.pointsAdded ?? 0,
  }),
  references: ({ input, results }) => ({
    userId: input.userId,
    reservationId: results.reserveRoom?.reservationId,
  }),
})

import { describe, expect, it } from 'vitest'
import { sagaScript } from '../../../test/support/saga-script.ts'
import { bookingCancellationSaga } from './booking-cancellation/booking-cancellation.saga.ts'
import { hotelReservationSaga } from './hotel-reservation/hotel-reservation.saga.ts'
import { tourBookingSaga } from './tour-booking/tour-booking.saga.ts'

// Each real saga's decisions, read as scripts: the command it sends → the participant's answer
// → the next command, the undo, or where it ends. No database, no HTTP: the same pure
// functions the runner uses (see test/support/saga-script.ts).

const TOUR = '0d7e5f8a-1111-4a6b-9c3d-000000000001'
const BOOKING = '0d7e5f8a-2222-4a6b-9c3d-000000000002'
const RESERVATION = '0d7e5f8a-3333-4a6b-9c3d-000000000003'
const PAYMENT = '0d7e5f8a-4444-4a6b-9c3d-000000000004'
const HOTEL = '0d7e5f8a-5555-4a6b-9c3d-000000000005'

const reservation = { reservationId: RESERVATION, amount: 98, currency: 'EUR', tour: { name: 'Old Town Walk', date: '2031-05-01', cancellationPolicy: { minDays: 3, feePercent: 25 } } }
const booking = { bookingId: BOOKING, status: 'PENDING' }
const payment = { paymentId: PAYMENT, status: 'SUCCEEDED' }
const tourInput = { tourId: TOUR, userId: 'alice', numberOfSpots: 2, paymentMethod: 'pm_card_visa' }

describe('tour booking, step by step', () => {
  const script = () => sagaScript(tourBookingSaga, tourInput)
  const toPayment = () => script()
    .expectCommand({ participant: 'tour-catalog', method: 'POST', path: `/api/tours/${TOUR}/reservations`, body: { spots: 2 } }).answer(201, reservation)
    .expectCommand({ participant: 'booking', path: '/api/bookings', body: { reservationId: RESERVATION, tourId: TOUR, userId: 'alice', numberOfSpots: 2, totalPrice: 98, currency: 'EUR', tourDate: '2031-05-01' } }).answer(201, booking)

  it('reserves, creates the booking, charges the catalog\'s quote, confirms, awards points and notifies', () => {
    toPayment()
      // The amount is the catalog's quote, never a number the client sent.
      .expectCommand({ participant: 'payment', path: '/api/payments', body: { userId: 'alice', amount: 98, currency: 'EUR', paymentMethod: 'pm_card_visa', bookingId: BOOKING, reservationId: RESERVATION } }).answer(201, payment)
      .expectCommand({ participant: 'booking', path: `/api/bookings/${BOOKING}/confirm`, body: { paymentId: PAYMENT } }).answer(200, { ...booking, status: 'CONFIRMED' })
      .expectCommand({ participant: 'loyalty', path: '/api/loyalty/accounts/alice/points', body: { amount: 98, currency: 'EUR', reference: `booking:${BOOKING}` } }).answer(201, { pointsAdded: 98 })
      .expectCommand({ participant: 'notification', path: '/api/notifications', body: { userId: 'alice', type: 'booking-confirmed', data: { bookingId: BOOKING, totalPrice: 98, loyaltyPointsAdded: 98 } } }).answer(201, {})
      .expectStatus('COMPLETED', { state: 'BOOKING_COMPLETED' })
  })

  it('tells the business once it completes: one booking.confirmed, correlated with the saga', () => {
    const done = toPayment().answer(201, payment).answer(200, {}).answer(201, { pointsAdded: 98 }).answer(201, {})
    expect(done.events).toEqual([expect.objectContaining({
      eventType: 'booking.confirmed', eventVersion: 1, correlationId: 'saga-under-test', eventId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      data: expect.objectContaining({ bookingId: BOOKING, tourId: TOUR, userId: 'alice', participants: 2, totalPrice: 98, currency: 'EUR', paymentId: PAYMENT }),
    })])
    expect(toPayment().expectCommand({ participant: 'payment' }).reject(402, 'PAYMENT_DECLINED').answer(200, {}).answer(200, {}).events).toEqual([])
  })

  it('cancels the booking and releases the spots, in that order, when the card is declined', () => {
    toPayment()
      .expectCommand({ participant: 'payment' }).reject(402, 'PAYMENT_DECLINED')
      .expectUndo({ participant: 'booking', path: `/api/bookings/${BOOKING}/cancel`, body: { userId: 'alice', reason: 'booking saga rolled back' } }).answer(200, {})
      .expectUndo({ participant: 'tour-catalog', path: `/api/reservations/${RESERVATION}/release` }).answer(200, {})
      .expectStatus('FAILED', { state: 'BOOKING_ROLLED_BACK', error: { code: 'PAYMENT_DECLINED', step: 'processPayment' } })
  })

  it('takes a booking already cancelled as undone, and goes on releasing the spots', () => {
    toPayment()
      .expectCommand({ participant: 'payment' }).reject(402, 'PAYMENT_DECLINED')
      .expectUndo({ participant: 'booking' }).reject(409, 'BOOKING_ALREADY_CANCELLED')
      .expectUndo({ participant: 'tour-catalog' }).answer(200, {})
      .expectStatus('FAILED')
  })

  it('fails at once, undoing nothing, for a tour that has departed', () => {
    script().expectCommand({ participant: 'tour-catalog' }).reject(422, 'TOUR_DEPARTED')
      .expectStatus('FAILED', { error: { code: 'TOUR_DEPARTED', step: 'reserveTour' } })
  })

  it('parks after the charge when loyalty refuses the points for good, and an operator skips them', () => {
    toPayment()
      .expectCommand({ participant: 'payment' }).answer(201, payment)
      .expectCommand({ participant: 'booking' }).answer(200, {})
      .expectCommand({ participant: 'loyalty' }).reject(400, 'VALIDATION_FAILED')
      .expectStatus('PARKED', { state: 'BOOKING_CONFIRMED', incident: { step: 'awardLoyaltyPoints', code: 'VALIDATION_FAILED', kind: 'rejected' } })
      .operator('skip', { reason: 'points granted by hand', result: { pointsAdded: 0 } })
      .expectCommand({ participant: 'notification', body: { data: { loyaltyPointsAdded: 0 } } }).answer(201, {})
      .expectStatus('COMPLETED')
  })

  it('settles a charge that got no answer with the payment service\'s fence when aborted, and goes forward if it went through', () => {
    toPayment().expectCommand({ participant: 'payment' }).noAnswer(3)
      .requestAbort()
      .expectFence('payment', 'processPayment').answer(200, { applied: true, status: 201, body: payment })
      .expectCommand({ participant: 'booking', path: `/api/bookings/${BOOKING}/confirm` })
  })
})

describe('booking cancellation, step by step', () => {
  const cancelled = { bookingId: BOOKING, status: 'CANCELLED', refundAmount: 73.5, currency: 'EUR', paymentId: PAYMENT, reservationId: RESERVATION }
  const script = () => sagaScript(bookingCancellationSaga, { bookingId: BOOKING, userId: 'alice', reason: 'sick' })
    .expectCommand({ participant: 'booking', path: `/api/bookings/${BOOKING}/cancel`, body: { userId: 'alice', reason: 'sick', expectedStatus: 'CONFIRMED' } }).answer(200, cancelled)

  it('cancels, refunds what the policy allows, frees the spots, takes the points back and notifies', () => {
    script()
      .expectCommand({ participant: 'payment', path: `/api/payments/${PAYMENT}/refunds`, body: { amount: 73.5, reason: 'sick' } }).answer(201, { refundId: 'r-1' })
      .expectCommand({ participant: 'tour-catalog', path: `/api/reservations/${RESERVATION}/release` }).answer(200, {})
      .expectCommand({ participant: 'loyalty', path: '/api/loyalty/accounts/alice/deductions', body: { reference: `booking:${BOOKING}` } }).answer(200, { pointsDeducted: 98 })
      .expectCommand({ participant: 'notification', body: { type: 'cancellation-confirmed', data: { refundAmount: 73.5, loyaltyPointsDeducted: 98 } } }).answer(201, {})
      .expectStatus('COMPLETED', { state: 'CANCELLATION_COMPLETED' })
  })

  it('tells the business once it completes: one booking.canceled with the contract\'s fields', () => {
    const booked = { ...cancelled, tourId: TOUR, userId: 'alice', numberOfSpots: 2, totalPrice: 98, tourDate: '2030-01-15', createdAt: '2029-12-01T10:00:00.000Z', cancelledAt: '2030-01-01T09:00:00.000Z', cancellationReason: 'sick' }
    const done = sagaScript(bookingCancellationSaga, { bookingId: BOOKING, userId: 'alice', reason: 'sick' })
      .answer(200, booked).answer(201, { refundId: 'r-1', amount: 73.5, payment: { status: 'PARTIALLY_REFUNDED' } }).answer(200, {}).answer(200, { pointsDeducted: 98 }).answer(201, {})
    expect(done.events).toHaveLength(1)
    expect(done.events[0]).toMatchObject({ eventType: 'booking.canceled', correlationId: 'saga-under-test' })
    expect(done.events[0]!.data).toEqual({
      bookingId: BOOKING, tourId: TOUR, userId: 'alice', originalBookingDate: '2029-12-01T10:00:00.000Z', participants: 2, totalPrice: 98, currency: 'EUR',
      canceledAt: '2030-01-01T09:00:00.000Z', cancellationReason: 'sick', refundAmount: 73.5, refundStatus: 'PARTIALLY_REFUNDED', daysBeforeTour: 14, cancellationFee: 24.5,
    })
  })

  it('reinstates the booking when the refund is refused', () => {
    script()
      .expectCommand({ participant: 'payment' }).reject(422, 'REFUND_EXCEEDS_CHARGE')
      .expectUndo({ participant: 'booking', path: `/api/bookings/${BOOKING}/reinstate` }).answer(200, {})
      .expectStatus('FAILED', { state: 'CANCELLATION_ROLLED_BACK', error: { code: 'REFUND_EXCEEDS_CHARGE' } })
  })

  it('refuses nothing twice: a policy refusal ends it at once', () => {
    sagaScript(bookingCancellationSaga, { bookingId: BOOKING, userId: 'alice' })
      .expectCommand({ participant: 'booking' }).reject(422, 'CANCELLATION_NOT_ALLOWED')
      .expectStatus('FAILED', { error: { code: 'CANCELLATION_NOT_ALLOWED' } })
  })

  it('parks after the refund when the spots cannot be released for good, never undoing the refund', () => {
    script()
      .expectCommand({ participant: 'payment' }).answer(201, {})
      .expectCommand({ participant: 'tour-catalog' }).reject(404, 'RESERVATION_NOT_FOUND')
      .expectStatus('PARKED', { incident: { step: 'releaseSpots', code: 'RESERVATION_NOT_FOUND' } })
  })
})

describe('hotel reservation, step by step', () => {
  const input = { hotelId: HOTEL, roomType: 'double', userId: 'bob', checkIn: '2031-06-01', checkOut: '2031-06-04', guests: 2, paymentMethod: 'pm_card_visa' }
  const held = { reservationId: RESERVATION, amount: 360, currency: 'EUR' }
  const script = () => sagaScript(hotelReservationSaga, input)
    .expectCommand({ participant: 'hotel', path: `/api/hotels/${HOTEL}/reservations`, body: { roomType: 'double', userId: 'bob', checkIn: '2031-06-01', checkOut: '2031-06-04', guests: 2 } }).answer(201, held)

  it('holds the room, charges price × nights, adds points, confirms and notifies', () => {
    script()
      .expectCommand({ participant: 'payment', body: { userId: 'bob', amount: 360, currency: 'EUR', reservationId: RESERVATION } }).answer(201, payment)
      .expectCommand({ participant: 'loyalty', path: '/api/loyalty/accounts/bob/points', body: { amount: 360, reference: `hotel-reservation:${RESERVATION}` } }).answer(201, { pointsAdded: 360 })
      .expectCommand({ participant: 'hotel', path: `/api/hotel-reservations/${RESERVATION}/confirm` }).answer(200, {})
      .expectCommand({ participant: 'notification', body: { type: 'hotel-reservation-confirmed' } }).answer(201, {})
      .expectStatus('COMPLETED', { state: 'RESERVATION_COMPLETED' })
  })

  it('releases the room when the card is declined', () => {
    script()
      .expectCommand({ participant: 'payment' }).reject(402, 'PAYMENT_DECLINED')
      .expectUndo({ participant: 'hotel', path: `/api/hotel-reservations/${RESERVATION}/release` }).answer(200, {})
      .expectStatus('FAILED', { state: 'RESERVATION_ROLLED_BACK' })
  })

  it('fails at once when a night is full, or the stay starts in the past', () => {
    for (const code of ['ROOM_UNAVAILABLE', 'STAY_IN_PAST']) {
      sagaScript(hotelReservationSaga, input).expectCommand({ participant: 'hotel' }).reject(422, code).expectStatus('FAILED', { error: { code, step: 'reserveRoom' } })
    }
  })
})

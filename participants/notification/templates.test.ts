import { describe, expect, it } from 'vitest'
import { formatMoney, renderNotification } from './templates.ts'

describe('notification templates', () => {
  it('confirms a booking with the tour, the amount paid and the points earned', () => {
    expect(renderNotification('booking-confirmed', {
      bookingId: 'b-1', tourName: 'Sunrise kayak', totalPrice: 361.5, currency: 'EUR', loyaltyPointsAdded: 361,
    })).toEqual({
      subject: 'Booking confirmed: Sunrise kayak',
      body: 'Your booking b-1 is confirmed.\nTour: Sunrise kayak.\nAmount paid: 361.50 EUR.\nYou earned 361 loyalty points.\nThank you for booking with us.',
    })
  })

  it('leaves out the facts it was not given', () => {
    expect(renderNotification('booking-confirmed', { bookingId: 'b-2', totalPrice: 10 })).toEqual({
      subject: 'Your booking is confirmed',
      body: 'Your booking b-2 is confirmed.\nThank you for booking with us.',
    })
  })

  it('confirms a cancellation with its refund, or says that none is due', () => {
    expect(renderNotification('cancellation-confirmed', { bookingId: 'b-3', refundAmount: 325.35, currency: 'EUR' })).toEqual({
      subject: 'Your booking is cancelled',
      body: 'Your booking b-3 is cancelled.\nA refund of 325.35 EUR is on its way to your original payment method.',
    })
    expect(renderNotification('cancellation-confirmed', { bookingId: 'b-4', refundAmount: 0, currency: 'USD' }).body)
      .toBe("Your booking b-4 is cancelled.\nNo refund is due under the tour's cancellation policy.")
  })

  it('confirms a hotel reservation with its dates, amount and points', () => {
    expect(renderNotification('hotel-reservation-confirmed', {
      reservationId: 'r-1', checkIn: '2026-07-01', checkOut: '2026-07-04', totalPrice: 269.7, currency: 'EUR', loyaltyPointsAdded: 1,
    })).toEqual({
      subject: 'Your hotel reservation is confirmed',
      body: 'Your hotel reservation r-1 is confirmed.\nCheck-in 2026-07-01, check-out 2026-07-04.\nAmount paid: 269.70 EUR.\nYou earned 1 loyalty point.\nWe look forward to your stay.',
    })
  })

  it('formats amounts with the currency\'s minor units', () => {
    expect(formatMoney(5, 'EUR')).toBe('5.00 EUR')
    expect(formatMoney(1500, 'JPY')).toBe('1500 JPY')
  })
})

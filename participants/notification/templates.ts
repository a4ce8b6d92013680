import { minorPerMajor } from '../../platform/money.ts'

// What each notification says. Pure functions of the saga's facts: a fact that is missing
// leaves its sentence out rather than printing "undefined".

export const NOTIFICATION_TYPES = ['booking-confirmed', 'cancellation-confirmed', 'hotel-reservation-confirmed', 'waiting-list-spots-available'] as const
export type NotificationType = (typeof NOTIFICATION_TYPES)[number]

/** The saga's facts, e.g. bookingId, tourName, totalPrice, currency, refundAmount, checkIn. */
export type NotificationData = Record<string, unknown>

export interface RenderedNotification {
  subject: string
  body: string
}

const TEMPLATES: Record<NotificationType, (data: NotificationData) => RenderedNotification> = {
  'booking-confirmed': (data) => {
    const tourName = text(data, 'tourName')
    return {
      subject: tourName ? `Booking confirmed: ${tourName}` : 'Your booking is confirmed',
      body: lines(
        `Your booking${idOf(data, 'bookingId')} is confirmed.`,
        tourName && `Tour: ${tourName}.`,
        paid(data),
        pointsEarned(data),
        'Thank you for booking with us.',
      ),
    }
  },

  'cancellation-confirmed': (data) => {
    const refund = money(data, 'refundAmount')
    return {
      subject: 'Your booking is cancelled',
      body: lines(
        `Your booking${idOf(data, 'bookingId')} is cancelled.`,
        refund === undefined ? undefined
          : number(data, 'refundAmount') === 0 ? "No refund is due under the tour's cancellation policy."
          : `A refund of ${refund} is on its way to your original payment method.`,
      ),
    }
  },

  'hotel-reservation-confirmed': (data) => {
    const hotelName = text(data, 'hotelName')
    const checkIn = text(data, 'checkIn')
    const checkOut = text(data, 'checkOut')
    return {
      subject: hotelName ? `Hotel reservation confirmed: ${hotelName}` : 'Your hotel reservation is confirmed',
      body: lines(
        `Your hotel reservation${idOf(data, 'reservationId')} is confirmed.`,
        checkIn && checkOut && `Check-in ${checkIn}, check-out ${checkOut}.`,
        paid(data),
        pointsEarned(data),
        'We look forward to your stay.',
      ),
    }
  },

  'waiting-list-spots-available': (data) => {
    const tourName = text(data, 'tourName')
    const spots = number(data, 'spots')
    const available = number(data, 'availableSpots')
    return {
      subject: tourName ? `Spots are free again: ${tourName}` : 'Spots are free again on a tour you wait for',
      body: lines(
        `Spots were freed on ${tourName ? `the tour ${tourName}` : 'a tour you are on the waiting list for'}.`,
        spots === undefined ? undefined : `You asked for ${spots} ${spots === 1 ? 'spot' : 'spots'}${available !== undefined ? `; ${available} ${available === 1 ? 'is' : 'are'} free now` : ''}.`,
        'Spots go to whoever books first: book soon to get yours.',
      ),
    }
  },
}

export function renderNotification(type: NotificationType, data: NotificationData): RenderedNotification {
  return TEMPLATES[type](data)
}

/** "361.50 EUR"; "1500 JPY" for currencies without minor units. */
export function formatMoney(amount: number, currency: string): string {
  const digits = Math.round(Math.log10(minorPerMajor(currency)))
  return `${amount.toFixed(digits)} ${currency}`
}

function text(data: NotificationData, key: string): string | undefined {
  const value = data[key]
  return typeof value === 'string' && value.trim() !== '' ? value : undefined
}

function number(data: NotificationData, key: string): number | undefined {
  const value = data[key]
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined
}

function money(data: NotificationData, key: string): string | undefined {
  const amount = number(data, key)
  const currency = text(data, 'currency')
  return amount === undefined || !currency ? undefined : formatMoney(amount, currency)
}

function idOf(data: NotificationData, key: string): string {
  const id = text(data, key)
  return id ? ` ${id}` : ''
}

function paid(data: NotificationData): string | undefined {
  const total = money(data, 'totalPrice')
  return total && `Amount paid: ${total}.`
}

function pointsEarned(data: NotificationData): string | undefined {
  const points = number(data, 'loyaltyPointsAdded')
  if (!points || points <= 0) return undefined
  return `You earned ${points} loyalty ${points === 1 ? 'point' : 'points'}.`
}

function lines(...parts: (string | undefined)[]): string {
  return parts.filter((part): part is string => Boolean(part)).join('\n')
}

import type { FastifyInstance } from 'fastify'
import { buildParticipant, type ParticipantOptions } from '../shared/build-participant.ts'
import { bookingRoutes, type BookingRoutesOptions } from './bookings.routes.ts'

export type BookingOptions = Partial<ParticipantOptions> & BookingRoutesOptions

/** Bookings of tour spots: created, confirmed once paid, cancelled under the tour's policy. */
export function buildBooking(options: BookingOptions = {}): Promise<FastifyInstance> {
  const { now, ...participant } = options
  return buildParticipant({ name: 'booking', schema: 'booking', routes: bookingRoutes({ now }), ...participant })
}

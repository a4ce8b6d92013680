import type { FastifyInstance } from 'fastify'
import { buildParticipant, type ParticipantOptions } from '../shared/build-participant.ts'
import hotelReservationRoutes from './hotel-reservations.routes.ts'
import hotelRoutes from './hotels.routes.ts'

/** The hotel: hotels, their room types, rooms taken per night and reservations of stays. */
export function buildHotel(options: Partial<ParticipantOptions> = {}): Promise<FastifyInstance> {
  return buildParticipant({
    name: 'hotel',
    schema: 'hotel',
    routes: async (app) => {
      await app.register(hotelRoutes)
      await app.register(hotelReservationRoutes)
    },
    ...options,
  })
}

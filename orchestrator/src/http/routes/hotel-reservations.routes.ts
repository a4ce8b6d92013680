import type { FastifyInstance } from 'fastify'
import { hotelReservationInputSchema } from '../../sagas/hotel-reservation/hotel-reservation.saga.ts'
import { registerStartRoute } from './start-saga.routes.ts'

export default async function hotelReservationRoutes(app: FastifyInstance): Promise<void> {
  registerStartRoute(app, {
    url: '/api/orchestrator/hotel-reservations',
    type: 'hotel-reservation',
    summary: 'Reserve a hotel room for a stay (hotel reservation saga)',
    body: hotelReservationInputSchema,
    toInput: (request) => request.body,
    endUsers: true,
  })
}

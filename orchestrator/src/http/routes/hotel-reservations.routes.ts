import type { FastifyInstance } from 'fastify'
import { AppError } from '../../../../platform/errors.ts'
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
    // A stay that ends before it starts is a bad request, not a saga that fails.
    guard: async (request) => {
      const { checkIn, checkOut } = request.body as { checkIn: string; checkOut: string }
      if (checkOut <= checkIn) {
        throw new AppError('VALIDATION_FAILED', 'checkOut must be after checkIn', {
          details: [{ location: 'body', path: '/checkOut', message: 'must be after checkIn' }],
        })
      }
    },
  })
}

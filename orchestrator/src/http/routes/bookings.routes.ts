import type { FastifyInstance } from 'fastify'
import { tourBookingInputSchema } from '../../sagas/tour-booking/tour-booking.saga.ts'
import { registerStartRoute } from './start-saga.routes.ts'

export default async function bookingRoutes(app: FastifyInstance): Promise<void> {
  registerStartRoute(app, {
    url: '/api/orchestrator/bookings',
    type: 'tour-booking',
    summary: 'Book spots on a tour (tour booking saga)',
    body: tourBookingInputSchema,
    toInput: (request) => request.body,
  })
}

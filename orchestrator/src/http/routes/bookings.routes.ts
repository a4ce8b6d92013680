import type { FastifyInstance } from 'fastify'
import { uuidParams } from '../../../../platform/vocabulary.ts'
import { bookingCancellationBodySchema } from '../../sagas/booking-cancellation/booking-cancellation.saga.ts'
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

  // The saga's guard refuses a booking whose own saga is unfinished (BOOKING_SAGA_IN_PROGRESS),
  // here and on the generic POST /api/orchestrator/sagas/booking-cancellation alike.
  registerStartRoute(app, {
    url: '/api/orchestrator/bookings/:bookingId/cancellation',
    type: 'booking-cancellation',
    summary: 'Cancel a confirmed booking; the refund follows the tour\'s policy (cancellation saga)',
    params: uuidParams('bookingId'),
    body: bookingCancellationBodySchema,
    toInput: (request) => ({ ...(request.body as object), bookingId: (request.params as { bookingId: string }).bookingId }),
  })
}

import type { FastifyInstance, FastifyRequest } from 'fastify'
import { AppError } from '../../../../platform/errors.ts'
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
    endUsers: true,
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
    endUsers: true,
    authorize: async (request: FastifyRequest) => {
      // An end user cancels only what it booked. Who booked it is what the orchestrator itself
      // recorded: the userId of the tour-booking saga that created the booking (the booking
      // service's tables are its own). Someone else's booking, or one this orchestrator did not
      // make, is 404 like a booking that does not exist: a user learns nothing of others' ids.
      const principal = request.principal!
      if (principal.role !== 'user') return
      const { bookingId } = request.params as { bookingId: string }
      const { items } = await app.orchestrator.listSagas({ type: 'tour-booking', bookingId, limit: 1 })
      if (items[0]?.userId !== principal.userId) throw new AppError('BOOKING_NOT_FOUND')
    },
  })
}

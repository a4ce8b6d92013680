import type { FastifyInstance, FastifyRequest } from 'fastify'
import { AppError } from '../../../../platform/errors.ts'
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

  registerStartRoute(app, {
    url: '/api/orchestrator/bookings/:bookingId/cancellation',
    type: 'booking-cancellation',
    summary: 'Cancel a confirmed booking; the refund follows the tour\'s policy (cancellation saga)',
    params: { type: 'object', required: ['bookingId'], properties: { bookingId: { type: 'string', format: 'uuid' } } },
    body: bookingCancellationBodySchema,
    toInput: (request) => ({ ...(request.body as object), bookingId: (request.params as { bookingId: string }).bookingId }),
    // While the booking's own saga still runs, the booking is not settled: refuse untouched.
    guard: async (request: FastifyRequest) => {
      const { bookingId } = request.params as { bookingId: string }
      for (const status of ['RUNNING', 'COMPENSATING'] as const) {
        const { items } = await app.orchestrator.listSagas({ type: 'tour-booking', bookingId, status, limit: 1 })
        if (items.length) {
          throw new AppError('BOOKING_SAGA_IN_PROGRESS', undefined, { bookingId, sagaId: items[0]!.id })
        }
      }
    },
  })
}

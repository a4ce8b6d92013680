import type { FastifyInstance } from 'fastify'
import { uuid } from '../../../../platform/vocabulary.ts'
import type { AnalyticsClient } from '../../transport/analytics-client.ts'
import { errorSchema } from '../schemas/common.ts'

const figuresSchema = {
  type: 'object',
  required: ['tourId', 'bookings', 'cancellations', 'cancellationRate', 'revenue', 'refunded', 'currency'],
  properties: {
    tourId: { type: 'string' },
    bookings: { type: 'integer' },
    cancellations: { type: 'integer' },
    cancellationRate: { type: 'number', description: 'cancellations / bookings, 4 decimals' },
    revenue: { type: 'number' },
    refunded: { type: 'number' },
    currency: { type: ['string', 'null'] },
  },
} as const

/** What the analytics service knows about a tour, for support staff (read with the orchestrator's service token). */
export default async function analyticsRoutes(app: FastifyInstance, options: { analytics: AnalyticsClient }): Promise<void> {
  app.get<{ Params: { tourId: string } }>('/api/orchestrator/analytics/tours/:tourId', {
    schema: {
      summary: 'A tour\'s bookings, cancellations, cancellation rate, revenue and refunds (from the analytics service)',
      tags: ['support'],
      security: [{ bearer: [] }],
      params: { type: 'object', required: ['tourId'], properties: { tourId: uuid } },
      response: { 200: figuresSchema, 503: errorSchema },
    },
    preHandler: app.requireRole('support'),
  }, async (request) => options.analytics.tourFigures(request.params.tourId))
}

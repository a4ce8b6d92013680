import type { FastifyInstance } from 'fastify'
import { buildParticipant, type ParticipantOptions } from '../shared/build-participant.ts'
import analyticsRoutes from './analytics.routes.ts'
import { bookingFigures } from './booking-figures.consumer.ts'

/**
 * Analytics: figures per tour and cancellations per reason, built from the domain events
 * (booking.confirmed, booking.canceled) and read by support staff through the orchestrator.
 */
export function buildAnalytics(options: Partial<ParticipantOptions> = {}): Promise<FastifyInstance> {
  return buildParticipant({ name: 'analytics', schema: 'analytics', routes: analyticsRoutes, consumers: [bookingFigures], ...options })
}

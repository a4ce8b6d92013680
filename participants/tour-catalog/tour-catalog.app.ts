import type { FastifyInstance } from 'fastify'
import { buildParticipant, type ParticipantOptions } from '../shared/build-participant.ts'
import tourRoutes from './tours.routes.ts'

/** The tour catalog: tours, their spots and reservations of spots. */
export function buildTourCatalog(options: Partial<ParticipantOptions> = {}): Promise<FastifyInstance> {
  return buildParticipant({ name: 'tour-catalog', schema: 'tour_catalog', routes: tourRoutes, ...options })
}

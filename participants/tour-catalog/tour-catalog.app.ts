import type { FastifyInstance } from 'fastify'
import { buildParticipant, type ParticipantOptions } from '../shared/build-participant.ts'
import { tourRoutes, type TourRoutesOptions } from './tours.routes.ts'

export type TourCatalogOptions = Partial<ParticipantOptions> & TourRoutesOptions

/** The tour catalog: tours, their spots and reservations of spots. */
export function buildTourCatalog(options: TourCatalogOptions = {}): Promise<FastifyInstance> {
  const { now, ...participant } = options
  return buildParticipant({ name: 'tour-catalog', schema: 'tour_catalog', routes: tourRoutes({ now }), ...participant })
}

import type { FastifyInstance } from 'fastify'
import { buildParticipant, type ParticipantOptions } from '../shared/build-participant.ts'
import loyaltyRoutes from './loyalty.routes.ts'

/** Loyalty: points earned per payment, the tier they give, and their undo. */
export function buildLoyalty(options: Partial<ParticipantOptions> = {}): Promise<FastifyInstance> {
  return buildParticipant({ name: 'loyalty', schema: 'loyalty', routes: loyaltyRoutes, ...options })
}

import type { FastifyInstance } from 'fastify'
import { loadConfig } from '../../platform/config.ts'
import { serviceTokenOf } from '../../platform/service-tokens.ts'
import { serviceUrl } from '../../platform/services.ts'
import { buildParticipant, type ParticipantOptions } from '../shared/build-participant.ts'
import { tourRoutes, type TourRoutesOptions } from './tours.routes.ts'
import { waitingListNotifier, waitingListRoutes } from './waiting-list.ts'

export type TourCatalogOptions = Partial<ParticipantOptions> & TourRoutesOptions & {
  /** Where waiting customers are notified. Default: `NOTIFICATION_URL` (else the local notification service). */
  notificationUrl?: string
}

/** The tour catalog: tours, their spots, reservations of spots, and the waiting list. */
export function buildTourCatalog(options: TourCatalogOptions = {}): Promise<FastifyInstance> {
  const { now, notificationUrl, ...participant } = options
  const config = options.config ?? loadConfig()
  const clock = now ?? (() => new Date())
  return buildParticipant({
    name: 'tour-catalog',
    schema: 'tour_catalog',
    routes: async (app) => {
      await app.register(tourRoutes({ now: clock }))
      await app.register(waitingListRoutes, { now: clock })
    },
    consumers: [waitingListNotifier({ notificationUrl: notificationUrl ?? serviceUrl('notification', config), token: serviceTokenOf(config, 'tour-catalog') })],
    ...participant,
    config,
  })
}

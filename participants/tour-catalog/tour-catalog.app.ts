import type { FastifyInstance } from 'fastify'
import { loadConfig } from '../../platform/config.ts'
import { serviceTokenOf } from '../../platform/service-tokens.ts'
import { serviceUrl } from '../../platform/service-addresses.ts'
import { buildParticipant, type ParticipantOptions } from '../shared/build-participant.ts'
import { tourRoutes, type TourRoutesOptions } from './tours.routes.ts'
import { waitingListNotifier, waitingListRoutes } from './waiting-list.ts'

export type TourCatalogOptions = Partial<ParticipantOptions> & TourRoutesOptions & {
  /** Where waiting customers are notified. Default: `NOTIFICATION_URL` (else the local notification service). */
  notificationUrl?: string
}

/** The tour catalog: tours, their spots, reservations of spots, and the waiting list. */
export async function buildTourCatalog(options: TourCatalogOptions = {}): Promise<FastifyInstance> {
  const { now, notificationUrl, ...participant } = options
  const config = options.config ?? loadConfig()
  const clock = now ?? (() => new Date())
  // Without a token of its own for the notification service (SERVICE_TOKENS set, but with no
  // tour-catalog entry) the catalog still runs: only the waiting list's consumer does not, and
  // its consumer group picks up where it stands once the token is configured.
  let token: string | undefined
  try {
    token = serviceTokenOf(config, 'tour-catalog')
  } catch {
    token = undefined
  }
  const app = await buildParticipant({
    name: 'tour-catalog',
    schema: 'tour_catalog',
    routes: async (app) => {
      await app.register(tourRoutes({ now: clock }))
      await app.register(waitingListRoutes, { now: clock })
    },
    consumers: token ? [waitingListNotifier({ notificationUrl: notificationUrl ?? serviceUrl('notification', config), token })] : [],
    ...participant,
    config,
  })
  if (!token) app.log.error('SERVICE_TOKENS has no entry for caller "tour-catalog": waiting customers are not notified until one is added')
  return app
}

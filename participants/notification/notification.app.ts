import type { FastifyInstance } from 'fastify'
import { buildParticipant, type ParticipantOptions } from '../shared/build-participant.ts'
import type { NotificationProvider } from './notification-provider.ts'
import notificationRoutes from './notifications.routes.ts'

export interface NotificationOptions extends Partial<ParticipantOptions> {
  /** Where notifications are delivered. Default: in-app (the recorded row plus a log line). */
  provider?: NotificationProvider
}

/** Notifications: renders the saga's outcome for the user, records and delivers it. */
export function buildNotification(options: NotificationOptions = {}): Promise<FastifyInstance> {
  const { provider, ...participant } = options
  return buildParticipant({
    name: 'notification',
    schema: 'notification',
    routes: (app) => notificationRoutes(app, { provider }),
    ...participant,
  })
}

import type { FastifyBaseLogger } from 'fastify'
import type { NotificationType } from './templates.ts'

/** A rendered notification, ready to be sent. */
export interface NotificationMessage {
  notificationId: string
  userId: string
  type: NotificationType
  channel: string
  subject: string
  body: string
  sagaId: string | null
}

/**
 * Where notifications go (e-mail, SMS, push…). `deliver` runs inside the command's
 * transaction, after the notification is recorded: when it throws, the command answers 500
 * and nothing is stored, so the orchestrator's retry delivers it again.
 */
export interface NotificationProvider {
  /** Recorded as the notification's `channel`. */
  readonly channel: string
  deliver(message: NotificationMessage): Promise<void>
}

/**
 * The default provider: the recorded notification is the delivery (users read it with
 * GET /api/notifications, an in-app inbox), plus one info line in the log.
 */
export function inAppProvider(log: FastifyBaseLogger): NotificationProvider {
  return {
    channel: 'in-app',
    async deliver(message) {
      log.info({ notificationId: message.notificationId, userId: message.userId, type: message.type, sagaId: message.sagaId }, 'notification delivered in-app')
    },
  }
}

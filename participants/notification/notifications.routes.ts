import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { Notification } from '../../generated/prisma/client.ts'
import type { Prisma } from '../../platform/database.ts'
import { sagaId, userId } from '../../platform/vocabulary.ts'
import { created, defineCommand } from '../shared/define-command.ts'
import { object } from '../shared/schema.ts'
import { inAppProvider, type NotificationProvider } from './notification-provider.ts'
import { NOTIFICATION_TYPES, renderNotification } from './templates.ts'

export interface NotificationRoutesOptions {
  /** Default: the in-app provider (the recorded row plus a log line). */
  provider?: NotificationProvider | undefined
}

export function notificationView(notification: Notification) {
  return {
    notificationId: notification.id,
    userId: notification.userId,
    type: notification.type,
    channel: notification.channel,
    subject: notification.subject,
    body: notification.body,
    sagaId: notification.sagaId,
    createdAt: notification.createdAt.toISOString(),
  }
}

// Record and deliver one notification. The row and the delivery stand or fall together:
// a provider failure rolls the row back (500) and the caller's retry sends it again.
function sendNotification(provider: NotificationProvider) {
  return defineCommand({
    url: '/api/notifications',
    body: object({
      userId,
      type: { type: 'string', enum: NOTIFICATION_TYPES },
      sagaId,
      // The saga's facts the template renders (see templates.ts).
      data: { type: 'object' },
    }, { optional: ['sagaId'] }),
    async run({ tx, body }) {
      const { subject, body: text } = renderNotification(body.type, body.data)
      const notification = await tx.notification.create({
        data: {
          id: randomUUID(), userId: body.userId, type: body.type, channel: provider.channel, subject, body: text,
          sagaId: body.sagaId ?? null, data: body.data as Prisma.InputJsonObject,
        },
      })
      const view = notificationView(notification)
      await provider.deliver({ ...view, type: body.type })
      return created(view)
    },
  })
}

export default async function notificationRoutes(app: FastifyInstance, options: NotificationRoutesOptions = {}): Promise<void> {
  app.get<{ Querystring: { userId: string; limit: number } }>('/api/notifications', {
    schema: {
      querystring: {
        type: 'object',
        required: ['userId'],
        properties: { userId, limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
      },
    },
  }, async (request) => {
    const sent = await app.db.notification.findMany({
      where: { userId: request.query.userId },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: request.query.limit,
    })
    return sent.map(notificationView)
  })

  await app.register(sendNotification(options.provider ?? inAppProvider(app.log)))
}

import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { Notification } from '../../generated/prisma/client.ts'
import type { Prisma } from '../../platform/database.ts'
import { inAppProvider, type NotificationProvider } from './notification-provider.ts'
import { NOTIFICATION_TYPES, renderNotification, type NotificationData, type NotificationType } from './templates.ts'

export interface NotificationRoutesOptions {
  /** Default: the in-app provider (the recorded row plus a log line). */
  provider?: NotificationProvider | undefined
}

const userId = { type: 'string', minLength: 1, maxLength: 200 } as const

interface NotificationBody {
  userId: string
  type: NotificationType
  sagaId?: string
  data: NotificationData
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

export default async function notificationRoutes(app: FastifyInstance, options: NotificationRoutesOptions = {}): Promise<void> {
  const provider = options.provider ?? inAppProvider(app.log)

  // Record and deliver one notification. The row and the delivery stand or fall together:
  // a provider failure rolls the row back (500) and the caller's retry sends it again.
  app.post<{ Body: NotificationBody }>('/api/notifications', {
    schema: {
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['userId', 'type', 'data'],
        properties: {
          userId,
          type: { type: 'string', enum: NOTIFICATION_TYPES },
          sagaId: { type: 'string', minLength: 1, maxLength: 64 },
          data: { type: 'object' },
        },
      },
    },
  }, async (request, reply) => {
    const { userId, type, sagaId, data } = request.body
    const { subject, body } = renderNotification(type, data)
    const notification = await request.tx.notification.create({
      data: { id: randomUUID(), userId, type, channel: provider.channel, subject, body, sagaId: sagaId ?? null, data: data as Prisma.InputJsonObject },
    })
    const view = notificationView(notification)
    await provider.deliver({ ...view, type })
    reply.code(201)
    return view
  })

  app.get<{ Querystring: { userId: string; limit: number } }>('/api/notifications', {
    schema: {
      querystring: {
        type: 'object',
        required: ['userId'],
        properties: { userId, limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
      },
    },
  }, async (request) => {
    const notifications = await app.db.notification.findMany({
      where: { userId: request.query.userId },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: request.query.limit,
    })
    return notifications.map(notificationView)
  })
}

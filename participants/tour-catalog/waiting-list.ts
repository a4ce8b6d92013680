import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { TourWaitingListEntry } from '../../generated/prisma/client.ts'
import { AppError } from '../../platform/errors.ts'
import { defineConsumer, type EventConsumer } from '../../platform/events/event-consumer.ts'
import { callService } from '../../platform/service-client.ts'
import { spots, userId, uuidParams } from '../../platform/vocabulary.ts'
import { isoDateOf, todayUtc } from '../shared/calendar.ts'
import { created, defineCommand, ok } from '../shared/define-command.ts'
import { type KeyedTable, lockRow } from '../shared/rows.ts'
import { object } from '../shared/schema.ts'

// The waiting list: customers who want spots on a tour that has too few. When a release
// gives spots back (tour.availability.restored), each waiting customer whose spots now fit is
// told once, through the notification service; the spots then go to whoever books first.

const tours: KeyedTable<{ id: string; date: Date; capacity: number }> = {
  table: '"tour_catalog"."tours"',
  read: (tx, id) => tx.tour.findUnique({ where: { id }, select: { id: true, date: true, capacity: true } }),
  notFound: () => new AppError('TOUR_NOT_FOUND'),
}

export function waitingView(entry: TourWaitingListEntry) {
  return {
    entryId: entry.id,
    tourId: entry.tourId,
    userId: entry.userId,
    spots: entry.spots,
    status: entry.status as 'WAITING' | 'NOTIFIED',
    createdAt: entry.createdAt.toISOString(),
    notifiedAt: entry.notifiedAt?.toISOString() ?? null,
  }
}

/**
 * Joins the waiting list: 201 with the entry. A customer already waiting on the tour is
 * answered 200 with the entry they have (one entry per customer and tour while waiting).
 */
export function joinWaitingList(now: () => Date) {
  return defineCommand({
    url: '/api/tours/:tourId/waiting-list',
    params: uuidParams('tourId'),
    body: object({ userId, spots }),
    async run({ tx, params: { tourId }, body }) {
      // Locked: two joins of one customer under different keys make one entry.
      const tour = await lockRow(tx, tours, tourId)
      if (isoDateOf(tour.date) <= todayUtc(now())) throw new AppError('TOUR_DEPARTED', undefined, { tourId, date: isoDateOf(tour.date) })
      if (body.spots > tour.capacity) throw new AppError('VALIDATION_FAILED', `This tour has ${tour.capacity} spots in all`, { capacity: tour.capacity })
      const waiting = await tx.tourWaitingListEntry.findFirst({ where: { tourId, userId: body.userId, status: 'WAITING' } })
      if (waiting) return ok(waitingView(waiting))
      const entry = await tx.tourWaitingListEntry.create({ data: { id: randomUUID(), tourId, userId: body.userId, spots: body.spots, status: 'WAITING' } })
      return created(waitingView(entry))
    },
  })
}

export async function waitingListRoutes(app: FastifyInstance, options: { now: () => Date }): Promise<void> {
  app.get<{ Params: { tourId: string } }>('/api/tours/:tourId/waiting-list', { schema: { params: uuidParams('tourId') } }, async (request) => {
    const entries = await app.db.tourWaitingListEntry.findMany({ where: { tourId: request.params.tourId }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }], take: 1_000 })
    return entries.map(waitingView)
  })
  await app.register(joinWaitingList(options.now))
}

export interface WaitingListNotifierOptions {
  /** Base URL of the notification service. */
  notificationUrl: string
  /** The tour catalog's service token there. */
  token: string
  /** Default: 5000 ms */
  timeoutMs?: number
}

/**
 * Tells waiting customers that spots are free: on tour.availability.restored, every WAITING
 * entry of the tour whose spots fit in what is free now is notified and marked NOTIFIED, in
 * the consumer's transaction. The notification is a command under the key
 * `waiting-list:<entryId>`: a redelivery after a crash between the call and the commit replays
 * the stored answer at the notification service instead of telling the customer twice.
 */
export function waitingListNotifier(options: WaitingListNotifierOptions): EventConsumer {
  return defineConsumer({
    name: 'tour-catalog.waiting-list',
    eventTypes: ['tour.availability.restored'],
    async handle(event, { tx }) {
      const tourId = event.data.tourId
      if (typeof tourId !== 'string') throw new Error(`tour.availability.restored ${event.eventId} has no tourId`)
      const tour = await tx.tour.findUnique({ where: { id: tourId } })
      if (!tour) return
      // FOR UPDATE: a concurrent handler of another release of this tour waits, then sees them NOTIFIED.
      const fitting = await tx.$queryRaw<{ id: string }[]>`
        SELECT id FROM "tour_catalog"."waiting_list"
         WHERE tour_id = ${tourId}::uuid AND status = 'WAITING' AND spots <= ${tour.availableSpots}
         ORDER BY created_at, id FOR UPDATE`
      for (const { id } of fitting) {
        const entry = await tx.tourWaitingListEntry.findUniqueOrThrow({ where: { id } })
        const answer = await callService({
          method: 'POST',
          baseUrl: options.notificationUrl,
          path: '/api/notifications',
          token: options.token,
          idempotencyKey: `waiting-list:${entry.id}`,
          correlationId: event.correlationId,
          timeoutMs: options.timeoutMs ?? 5_000,
          body: {
            userId: entry.userId,
            type: 'waiting-list-spots-available',
            data: { tourId, tourName: tour.name, tourDate: isoDateOf(tour.date), spots: entry.spots, availableSpots: tour.availableSpots, entryId: entry.id },
          },
        })
        if (answer.status >= 300) throw new Error(`notification service answered ${answer.status} for waiting-list entry ${entry.id}: ${JSON.stringify(answer.body).slice(0, 300)}`)
        await tx.tourWaitingListEntry.update({ where: { id }, data: { status: 'NOTIFIED', notifiedAt: new Date() } })
      }
    },
  })
}

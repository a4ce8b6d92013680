import type { FastifyInstance } from 'fastify'
import { toMajor } from '../../platform/money.ts'
import { reason, uuidParams } from '../../platform/vocabulary.ts'
import { cancellationRate } from './booking-figures.consumer.ts'

interface TourStatsRow {
  bookings: number
  cancellations: number
  revenue_minor: bigint
  refunded_minor: bigint
  currency: string | null
}

/** A tour's figures; all zero (currency null) for a tour no event has named yet. */
export function tourFigures(tourId: string, row: TourStatsRow | undefined) {
  const currency = row?.currency ?? null
  const major = (minor: bigint | undefined) => (currency && minor !== undefined ? toMajor(Number(minor), currency) : 0)
  return {
    tourId,
    bookings: row?.bookings ?? 0,
    cancellations: row?.cancellations ?? 0,
    cancellationRate: cancellationRate(row?.bookings ?? 0, row?.cancellations ?? 0),
    revenue: major(row?.revenue_minor),
    refunded: major(row?.refunded_minor),
    currency,
  }
}

/** The read API (contract: "An analytics service"). */
export default async function analyticsRoutes(app: FastifyInstance): Promise<void> {
  app.get<{ Params: { tourId: string } }>('/api/analytics/tours/:tourId', { schema: { params: uuidParams('tourId') } }, async (request) => {
    const [row] = await app.db.$queryRaw<TourStatsRow[]>`
      SELECT bookings, cancellations, revenue_minor, refunded_minor, currency FROM "analytics"."tour_stats" WHERE tour_id = ${request.params.tourId}::uuid`
    return tourFigures(request.params.tourId, row)
  })

  // With ?reason=: that reason's count. Without: every reason's, most frequent first, and the total.
  app.get<{ Querystring: { reason?: string } }>('/api/analytics/cancellations', {
    schema: { querystring: { type: 'object', additionalProperties: false, properties: { reason: { ...reason, minLength: 1 } } } },
  }, async (request) => {
    const asked = request.query.reason
    if (asked !== undefined) {
      const [row] = await app.db.$queryRaw<{ count: number }[]>`SELECT count FROM "analytics"."cancellation_reasons" WHERE reason = ${asked.trim()}`
      return { reason: asked.trim(), count: row?.count ?? 0 }
    }
    const rows = await app.db.$queryRaw<{ reason: string; count: number }[]>`
      SELECT reason, count FROM "analytics"."cancellation_reasons" ORDER BY count DESC, reason LIMIT 1000`
    return { total: rows.reduce((sum, row) => sum + row.count, 0), reasons: rows }
  })
}

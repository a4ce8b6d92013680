import { AppError } from '../../../platform/errors.ts'
import { callService } from '../../../platform/service-client.ts'

/** A tour's figures as the analytics service answers them (contract: GET /api/analytics/tours/{tourId}). */
export interface TourFigures {
  tourId: string
  bookings: number
  cancellations: number
  cancellationRate: number
  revenue: number
  refunded: number
  currency: string | null
}

export interface AnalyticsClientOptions {
  baseUrl: string
  /** The orchestrator's service token. */
  token: string
  /** Default: 3000 ms */
  timeoutMs?: number
}

/** Reads the analytics service for support staff, with the orchestrator's service token. */
export class AnalyticsClient {
  constructor(private readonly options: AnalyticsClientOptions) {}

  /** Throws AppError SERVICE_UNAVAILABLE when analytics does not answer, or answers an error. */
  async tourFigures(tourId: string): Promise<TourFigures> {
    let answer
    try {
      answer = await callService({ method: 'GET', baseUrl: this.options.baseUrl, path: `/api/analytics/tours/${encodeURIComponent(tourId)}`, token: this.options.token, timeoutMs: this.options.timeoutMs ?? 3_000 })
    } catch (error) {
      throw new AppError('SERVICE_UNAVAILABLE', 'The analytics service did not answer', { service: 'analytics', reason: error instanceof Error ? error.name : 'error' })
    }
    if (answer.status !== 200) throw new AppError('SERVICE_UNAVAILABLE', `The analytics service answered ${answer.status}`, { service: 'analytics', status: answer.status })
    return answer.body as TourFigures
  }
}

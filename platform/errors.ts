/**
 * The one error catalog of the system: every error code any service answers with, and its
 * HTTP status. Codes are stable UPPER_SNAKE strings that clients may branch on.
 */
export const ERROR_CATALOG = {
  // Request shape
  VALIDATION_FAILED: { status: 400, message: 'The request is invalid' },
  INVALID_JSON: { status: 400, message: 'The request body is not valid JSON' },
  IDEMPOTENCY_KEY_REQUIRED: { status: 400, message: 'The Idempotency-Key header is required' },
  UNAUTHORIZED: { status: 401, message: 'A valid bearer token is required' },
  FORBIDDEN: { status: 403, message: 'This token may not do that' },
  USER_MISMATCH: { status: 403, message: 'A user may act only for itself' },
  NOT_FOUND: { status: 404, message: 'No such route' },
  REQUEST_IN_PROGRESS: { status: 409, message: 'A request with this Idempotency-Key is still running' },
  IDEMPOTENCY_KEY_FENCED: { status: 409, message: 'This Idempotency-Key was fenced: no command under it will ever be applied' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body is too large' },
  URI_TOO_LONG: { status: 414, message: 'A path parameter is too long' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Send application/json' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, message: 'This Idempotency-Key was used with a different request' },
  RATE_LIMITED: { status: 429, message: 'Too many requests' },
  INTERNAL_ERROR: { status: 500, message: 'Internal error' },
  SERVICE_UNAVAILABLE: { status: 503, message: 'A dependency is unavailable' },

  // Tour catalog
  TOUR_NOT_FOUND: { status: 404, message: 'No such tour' },
  TOUR_ALREADY_EXISTS: { status: 409, message: 'A tour with this id exists already' },
  INSUFFICIENT_SPOTS: { status: 422, message: 'Not enough spots left on this tour' },
  TOUR_DEPARTED: { status: 422, message: 'The tour departs today or has departed' },
  AMOUNT_LIMIT_EXCEEDED: { status: 422, message: 'The total exceeds the largest amount one payment may move' },
  RESERVATION_NOT_FOUND: { status: 404, message: 'No such reservation' },
  CURRENCY_MISMATCH: { status: 422, message: 'The currency does not match' },

  // Booking
  BOOKING_NOT_FOUND: { status: 404, message: 'No such booking' },
  BOOKING_ALREADY_EXISTS: { status: 409, message: 'A booking exists already for this reservation' },
  BOOKING_NOT_PENDING: { status: 409, message: 'The booking is not pending' },
  BOOKING_NOT_CONFIRMED: { status: 409, message: 'The booking is not confirmed yet' },
  BOOKING_ALREADY_CANCELLED: { status: 409, message: 'The booking is cancelled already' },
  BOOKING_OWNER_MISMATCH: { status: 422, message: 'The booking belongs to another user' },
  CANCELLATION_NOT_ALLOWED: { status: 422, message: 'The cancellation policy does not allow cancelling now' },

  // Payment
  PAYMENT_DECLINED: { status: 402, message: 'The payment was declined' },
  PAYMENT_NOT_FOUND: { status: 404, message: 'No such payment' },
  REFUND_EXCEEDS_CHARGE: { status: 422, message: 'The refund exceeds what is left of the charge' },
  PAYMENT_PROVIDER_ERROR: { status: 502, message: 'The payment provider failed' },

  // Hotel
  HOTEL_NOT_FOUND: { status: 404, message: 'No such hotel' },
  HOTEL_ALREADY_EXISTS: { status: 409, message: 'A hotel with this id exists already' },
  ROOM_TYPE_NOT_FOUND: { status: 404, message: 'No such room type' },
  ROOM_UNAVAILABLE: { status: 422, message: 'No room of this type is free for every night' },
  GUESTS_EXCEED_CAPACITY: { status: 422, message: 'Too many guests for this room type' },
  INVALID_DATE_RANGE: { status: 400, message: 'checkOut must be after checkIn' },
  STAY_IN_PAST: { status: 422, message: 'The stay starts in the past' },
  HOTEL_RESERVATION_NOT_FOUND: { status: 404, message: 'No such hotel reservation' },
  HOTEL_RESERVATION_RELEASED: { status: 409, message: 'The hotel reservation was released' },

  // Loyalty
  LOYALTY_ACCOUNT_NOT_FOUND: { status: 404, message: 'No loyalty account for this user' },

  // Orchestrator
  SAGA_NOT_FOUND: { status: 404, message: 'No such saga' },
  SAGA_NOT_RETRIABLE: { status: 409, message: 'This saga cannot be retried in its current status' },
  SAGA_NOT_ABORTABLE: { status: 409, message: 'This saga cannot be aborted in its current status' },
  SAGA_NOT_SKIPPABLE: { status: 409, message: 'This saga has no parked step to skip' },
  SAGA_NOT_RESOLVABLE: { status: 409, message: 'This saga has no failed compensation to resolve' },
  SAGA_NOT_PAUSABLE: { status: 409, message: 'Only a RUNNING or COMPENSATING saga can be paused' },
  SAGA_NOT_PAUSED: { status: 409, message: 'This saga is not paused' },
  SAGA_DEFINITION_UNKNOWN: { status: 409, message: 'This saga started on a definition version this orchestrator does not have' },
  SAGA_BUSY: { status: 409, message: 'Another runner owns this saga right now' },
  BOOKING_SAGA_IN_PROGRESS: { status: 409, message: 'The booking is still being made; cancel it once it completes' },
  SAGA_TIMEOUT: { status: 422, message: 'The saga passed its deadline' },
  SAGA_ABORTED: { status: 422, message: 'An operator aborted the saga' },
  PARTICIPANT_UNAVAILABLE: { status: 422, message: 'A participant did not answer within its retry budget' },
} as const satisfies Record<string, { status: number; message: string }>

export type ErrorCode = keyof typeof ERROR_CATALOG

/** Body of every 4xx/5xx answer: `{ error: { code, message, ...details } }`. */
export interface ErrorBody {
  error: { code: string; message: string; [detail: string]: unknown }
}

/**
 * An error that maps to an HTTP answer. Status < 500 means a deliberate, business-level
 * rejection: the request was understood and refused, and the refusal is final.
 */
export class AppError extends Error {
  readonly code: ErrorCode
  readonly statusCode: number
  readonly details: Record<string, unknown> | undefined

  constructor(code: ErrorCode, message?: string, details?: Record<string, unknown>) {
    super(message ?? ERROR_CATALOG[code].message)
    this.name = 'AppError'
    this.code = code
    this.statusCode = ERROR_CATALOG[code].status
    this.details = details
  }

  get isRejection(): boolean {
    return this.statusCode < 500
  }

  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message, ...this.details } }
  }
}

export function errorBody(code: string, message: string, details?: Record<string, unknown>): ErrorBody {
  return { error: { code, message, ...details } }
}

// The schema vocabulary of the system: one JSON-schema fragment for each kind of value that
// crosses a service boundary. The orchestrator validates saga inputs with the same fragments
// the participants validate their commands with, so a value one side accepts, the other
// accepts too (they had drifted: userId at most 100 characters in the sagas, 200 at loyalty).

/** A UUID in the hyphenated form Postgres stores (see platform/validation.ts). */
export const uuid = { type: 'string', format: 'uuid' } as const

/** The id of an end user, as the business knows it (a JWT's `sub`, an account id). */
export const userId = { type: 'string', minLength: 1, maxLength: 200 } as const

/** Spots on a tour one reservation may take. */
export const MAX_SPOTS = 50
export const spots = { type: 'integer', minimum: 1, maximum: MAX_SPOTS } as const

/** Guests one hotel room may sleep. */
export const MAX_GUESTS = 20
export const guests = { type: 'integer', minimum: 1, maximum: MAX_GUESTS } as const

/**
 * The largest amount of money any one command moves, in major units of its currency. Minor
 * units are stored as 32-bit integers, so 20,000,000 of a two-decimal currency (2 × 10⁹ minor
 * units) is as far as a column goes. Totals that would pass it are refused where they are
 * computed (a tour reservation of many expensive spots), never downstream after a charge.
 */
export const MAX_AMOUNT = 20_000_000
export const amount = { type: 'number', minimum: 0, maximum: MAX_AMOUNT } as const
/** An amount that must move something: a charge. */
export const chargeAmount = { type: 'number', exclusiveMinimum: 0, maximum: MAX_AMOUNT } as const

/** Price of one unit (a tour spot); × MAX_SPOTS may exceed MAX_AMOUNT, which the catalog checks. */
export const unitPrice = { type: 'number', minimum: 0, maximum: 1_000_000 } as const
/** Price of one hotel night; × the longest stay (30 nights) stays far below MAX_AMOUNT. */
export const nightlyPrice = { type: 'number', exclusiveMinimum: 0, maximum: 100_000 } as const

/** An ISO 4217 code. */
export const currency = { type: 'string', pattern: '^[A-Z]{3}$' } as const

/** A calendar date, 'YYYY-MM-DD'. */
export const isoDate = { type: 'string', format: 'date' } as const

/** Free text a customer or operator gives as the reason for something. */
export const reason = { type: 'string', maxLength: 500 } as const

/** A payment method as the payment provider names it (Stripe: `pm_…`). */
export const paymentMethod = { type: 'string', minLength: 1, maxLength: 255 } as const

/** An id of something in another service, kept as an opaque reference (`booking:<id>`). */
export const reference = { type: 'string', minLength: 1, maxLength: 200 } as const

/** A short name: a hotel's room type. */
export const roomType = { type: 'string', minLength: 1, maxLength: 50 } as const

/** The name something is shown under: a tour, a hotel. */
export const name = { type: 'string', minLength: 1, maxLength: 200 } as const

/** Free text that describes something, e.g. a charge on a statement. */
export const description = { type: 'string', maxLength: 500 } as const

/** The id of the saga a command belongs to, as the orchestrator sends it (a uuid today). */
export const sagaId = { type: 'string', minLength: 1, maxLength: 64 } as const

/** Places on one tour: how many it has, and how many are left. */
export const MAX_CAPACITY = 100_000
export const capacity = { type: 'integer', minimum: 1, maximum: MAX_CAPACITY } as const
export const spotsLeft = { type: 'integer', minimum: 0, maximum: MAX_CAPACITY } as const

/** Rooms of one type a hotel has. */
export const roomCount = { type: 'integer', minimum: 1, maximum: 10_000 } as const

/** A tour's cancellation policy: at least `minDays` before the tour, refund minus `feePercent`. */
export const cancellationPolicy = {
  type: 'object',
  additionalProperties: false,
  required: ['minDays', 'feePercent'],
  properties: {
    minDays: { type: 'integer', minimum: 0, maximum: 3650 },
    feePercent: { type: 'integer', minimum: 0, maximum: 100 },
  },
} as const

/** Path parameters made of one uuid, e.g. `params('bookingId')`. */
export function uuidParams<Name extends string>(name: Name) {
  return { type: 'object', properties: { [name]: uuid } as Record<Name, typeof uuid>, required: [name] } as const
}

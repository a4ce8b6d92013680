import { addDays, daysBetween } from '../shared/calendar.ts'

// A stay is a range of nights: checkIn ≤ night < checkOut, each night a calendar date in UTC.
// Dates travel as 'YYYY-MM-DD' strings; comparing them as strings orders them correctly.

export { addDays, isoDateOf, todayUtc } from '../shared/calendar.ts'

/** Longest stay one reservation may hold. */
export const MAX_NIGHTS = 30

/** Nights from checkIn up to (not including) checkOut; zero or negative when checkOut is not later. */
export function nightsBetween(checkIn: string, checkOut: string): number {
  return daysBetween(checkIn, checkOut)
}

/** Every night of `count` nights starting at `first`, in order. */
export function nightsFrom(first: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => addDays(first, i))
}

/**
 * Why a stay cannot be reserved, or undefined when it can: INVALID_DATE_RANGE for a range
 * that is no stay (checkOut not after checkIn, more than MAX_NIGHTS nights), STAY_IN_PAST
 * for a real stay whose first night is before today (UTC).
 */
export function stayProblem(checkIn: string, checkOut: string, today: string): { code: 'INVALID_DATE_RANGE' | 'STAY_IN_PAST'; message: string } | undefined {
  const nights = nightsBetween(checkIn, checkOut)
  if (nights < 1) return { code: 'INVALID_DATE_RANGE', message: 'checkOut must be after checkIn' }
  if (nights > MAX_NIGHTS) return { code: 'INVALID_DATE_RANGE', message: `A stay may last at most ${MAX_NIGHTS} nights` }
  if (checkIn < today) return { code: 'STAY_IN_PAST', message: `checkIn must not be before today (${today}, UTC)` }
  return undefined
}

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

/** Why a stay cannot be reserved, or undefined when it can. */
export function stayProblem(checkIn: string, checkOut: string, today: string): string | undefined {
  const nights = nightsBetween(checkIn, checkOut)
  if (nights < 1) return 'checkOut must be after checkIn'
  if (checkIn < today) return `checkIn must not be before today (${today}, UTC)`
  if (nights > MAX_NIGHTS) return `A stay may last at most ${MAX_NIGHTS} nights`
  return undefined
}

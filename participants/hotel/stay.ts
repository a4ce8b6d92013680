// A stay is a range of nights: checkIn ≤ night < checkOut, each night a calendar date in UTC.
// Dates travel as 'YYYY-MM-DD' strings; comparing them as strings orders them correctly.

const DAY_MS = 86_400_000

/** Longest stay one reservation may hold. */
export const MAX_NIGHTS = 30

/** Today's calendar date in UTC, 'YYYY-MM-DD'. */
export function todayUtc(now: Date = new Date()): string {
  return now.toISOString().slice(0, 10)
}

/** The date `days` after `isoDate` (both 'YYYY-MM-DD'). */
export function addDays(isoDate: string, days: number): string {
  return new Date(Date.parse(`${isoDate}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10)
}

/** Nights from checkIn up to (not including) checkOut; zero or negative when checkOut is not later. */
export function nightsBetween(checkIn: string, checkOut: string): number {
  return Math.round((Date.parse(`${checkOut}T00:00:00Z`) - Date.parse(`${checkIn}T00:00:00Z`)) / DAY_MS)
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

/** A DATE column's value (midnight UTC) as 'YYYY-MM-DD'. */
export function isoDateOf(date: Date): string {
  return date.toISOString().slice(0, 10)
}

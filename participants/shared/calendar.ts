// Calendar dates as the participants keep them: 'YYYY-MM-DD' strings on the wire, Postgres
// DATE columns (midnight UTC) in storage, and "today" always the UTC date, so the time of day
// or the server's time zone never moves a tour's departure or a stay's first night.

const DAY_MS = 86_400_000

/** Today's calendar date in UTC, 'YYYY-MM-DD'. */
export function todayUtc(now: Date = new Date()): string {
  return now.toISOString().slice(0, 10)
}

/** A DATE column's value (midnight UTC) as 'YYYY-MM-DD'. */
export function isoDateOf(date: Date): string {
  return date.toISOString().slice(0, 10)
}

/** The value to store in a DATE column for 'YYYY-MM-DD'. */
export function dateOf(isoDate: string): Date {
  return new Date(`${isoDate}T00:00:00Z`)
}

/** The date `days` after `isoDate` (both 'YYYY-MM-DD'). */
export function addDays(isoDate: string, days: number): string {
  return isoDateOf(new Date(dateOf(isoDate).getTime() + days * DAY_MS))
}

/** Whole days from `from` to `to` ('YYYY-MM-DD'): 0 on the same day, negative when `to` is earlier. */
export function daysBetween(from: string, to: string): number {
  return Math.round((dateOf(to).getTime() - dateOf(from).getTime()) / DAY_MS)
}

import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import { createDatabase } from '../../platform/database.ts'
import { DEMO_TOURS, MIN_DAYS_AHEAD, seedDemoData } from './seed.ts'

// The demo tours have fixed ids and live in the shared test database, where the README's
// example books tour 1 at the same time (test/readme.test.ts). So these tests only ever seed
// "as of" days after today, starting from dates set relative to today (whatever an earlier
// run left): every demo tour stays in the future throughout.

const db = createDatabase({ poolSize: 4 })
afterAll(async () => {
  await db.$disconnect()
})

const DAY_MS = 86_400_000
const utcDay = (date: Date) => new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()))
const isoDay = (date: Date) => date.toISOString().slice(0, 10)
const inDays = (days: number, from = new Date()) => new Date(utcDay(from).getTime() + days * DAY_MS)

async function demoDates(): Promise<Map<string, string>> {
  const tours = await db.tour.findMany({ where: { id: { in: DEMO_TOURS.map((tour) => tour.id) } }, select: { id: true, date: true } })
  return new Map(tours.map((tour) => [tour.id, isoDay(tour.date)]))
}

/** Every demo tour at its days-ahead from today, as a first seeding today leaves them. */
async function resetDemoDates(): Promise<void> {
  await seedDemoData(db)
  for (const tour of DEMO_TOURS) await db.tour.update({ where: { id: tour.id }, data: { date: inDays(tour.daysAhead) } })
}

beforeEach(resetDemoDates)

describe('seeding the demo data', () => {
  it('puts every demo tour between 10 and 120 days after the day of seeding', () => {
    for (const tour of DEMO_TOURS) {
      expect(tour.daysAhead).toBeGreaterThanOrEqual(MIN_DAYS_AHEAD)
      expect(tour.daysAhead).toBeLessThanOrEqual(120)
    }
  })

  it('moves forward the tours that departed, or depart within 10 days, of the day it runs', async () => {
    // As if it were 400 days later: every demo tour has departed by then.
    const later = inDays(400)
    const report = await seedDemoData(db, later)
    const dates = await demoDates()
    for (const tour of DEMO_TOURS) {
      expect(dates.get(tour.id), tour.name).toBe(isoDay(inDays(tour.daysAhead, later)))
      expect(report.tours.find((entry) => entry.id === tour.id)).toMatchObject({ moved: true, date: isoDay(inDays(tour.daysAhead, later)) })
    }
  })

  it('moves a tour departing in under 10 days, and leaves one 10 or more days away', async () => {
    const base = inDays(600)
    await seedDemoData(db, base)
    // 45 days on: tour 1 (10 days ahead of base) has departed, tour 2 (30) too, tour 3 (45)
    // departs that very day, tour 4 (60) in 15 days and stays, tour 5 (120) stays.
    const report = await seedDemoData(db, inDays(45, base))
    const moved = Object.fromEntries(report.tours.map((tour) => [tour.name, tour.moved]))
    expect(Object.values(moved)).toEqual([true, true, true, false, false])
    // 51 days on: tour 4 departs in 9 days, within the bound: moved; so does tour 1 (moved to
    // day 55 above, 4 days away); tours 2 and 3 (days 75 and 90) stay.
    const again = await seedDemoData(db, inDays(51, base))
    expect(again.tours.map((tour) => tour.moved)).toEqual([true, false, false, true, false])
  })

  it('gives a demo tour with fewer than half its spots free its spots back, keeping what bookings hold', async () => {
    // Tour 5 (8 spots), which the README example does not book: 7 of them held.
    const lapland = DEMO_TOURS[4]!
    await db.tour.update({ where: { id: lapland.id }, data: { capacity: lapland.capacity, availableSpots: 1 } })
    const report = await seedDemoData(db)
    expect(report.tours.find((tour) => tour.id === lapland.id)).toMatchObject({ refilled: true })
    expect(await db.tour.findUnique({ where: { id: lapland.id }, select: { capacity: true, availableSpots: true } }))
      .toEqual({ capacity: lapland.capacity + 7, availableSpots: lapland.capacity })
    // Half or more free: left as it is.
    await db.tour.update({ where: { id: lapland.id }, data: { capacity: lapland.capacity, availableSpots: lapland.capacity / 2 } })
    expect((await seedDemoData(db)).tours.find((tour) => tour.id === lapland.id)).toMatchObject({ refilled: false })
    expect(await db.tour.findUnique({ where: { id: lapland.id }, select: { availableSpots: true } })).toEqual({ availableSpots: lapland.capacity / 2 })
    await db.tour.update({ where: { id: lapland.id }, data: { capacity: lapland.capacity, availableSpots: lapland.capacity } })
  })

  it('is idempotent and safe to run from several processes at once', async () => {
    const day = inDays(800)
    const reports = await Promise.all(Array.from({ length: 4 }, () => seedDemoData(db, day)))
    // Exactly one seeder moved each tour; the others found it moved already.
    for (const tour of DEMO_TOURS) {
      expect(reports.filter((report) => report.tours.find((entry) => entry.id === tour.id)!.moved)).toHaveLength(1)
    }
    const before = await demoDates()
    const repeat = await seedDemoData(db, day)
    expect(repeat.tours.every((tour) => !tour.created && !tour.moved && !tour.refilled)).toBe(true)
    expect(await demoDates()).toEqual(before)
  })
})

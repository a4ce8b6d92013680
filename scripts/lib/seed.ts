import type { PrismaClient } from '../../platform/database.ts'
import { toMinor } from '../../platform/money.ts'

// Demo data for `npm start` and `npm run db:seed`: a few tours and one hotel, written straight
// into the tour-catalog and hotel schemas. Ids are fixed so that seeding is idempotent: rows
// that exist are skipped (INSERT … ON CONFLICT DO NOTHING), so seeding at every start, from
// several processes at once, keeps whatever the demo has since sold or changed. Dates are the
// one exception: the demo must be bookable on any day (the README's example books tour 1), so
// a demo tour that has departed, or departs within MIN_DAYS_AHEAD days, moves forward again to
// its `daysAhead` from the day of seeding. That update is guarded by the date it replaces, so
// concurrent seeders move a tour once, and a re-seed the same day moves nothing.
// (Bookings already made keep the date they were made for: they are demo data too.)

/** A demo tour departing sooner than this many days from the day of seeding is moved forward. */
export const MIN_DAYS_AHEAD = 10

export interface DemoTour {
  id: string
  name: string
  /** Days after the day of seeding (at least MIN_DAYS_AHEAD). */
  daysAhead: number
  capacity: number
  /** In major units of `currency`. */
  price: number
  currency: string
  cancellationPolicy: { minDays: number; feePercent: number }
}

export interface DemoRoomType {
  roomType: string
  /** Guests per room. */
  capacity: number
  totalRooms: number
  /** In major units of `currency`. */
  pricePerNight: number
  currency: string
}

export const DEMO_TOURS: readonly DemoTour[] = [
  {
    id: '5eed0000-0000-4000-8000-000000000001',
    name: 'Lisbon Old Town Walk',
    daysAhead: 10,
    capacity: 20,
    price: 49,
    currency: 'EUR',
    cancellationPolicy: { minDays: 3, feePercent: 25 },
  },
  {
    id: '5eed0000-0000-4000-8000-000000000002',
    name: 'Swiss Alps Glacier Hike',
    daysAhead: 30,
    capacity: 12,
    price: 189.5,
    currency: 'EUR',
    cancellationPolicy: { minDays: 7, feePercent: 10 },
  },
  {
    id: '5eed0000-0000-4000-8000-000000000003',
    name: 'New York Food Tour',
    daysAhead: 45,
    capacity: 25,
    price: 89.99,
    currency: 'USD',
    cancellationPolicy: { minDays: 7, feePercent: 10 },
  },
  {
    id: '5eed0000-0000-4000-8000-000000000004',
    name: 'Grand Canyon Rim Trail',
    daysAhead: 60,
    capacity: 16,
    price: 249,
    currency: 'USD',
    cancellationPolicy: { minDays: 14, feePercent: 0 },
  },
  {
    id: '5eed0000-0000-4000-8000-000000000005',
    name: 'Lapland Northern Lights Safari',
    daysAhead: 120,
    capacity: 8,
    price: 320,
    currency: 'EUR',
    cancellationPolicy: { minDays: 14, feePercent: 0 },
  },
]

export const DEMO_HOTEL: { id: string; name: string; roomTypes: readonly DemoRoomType[] } = {
  id: '5eed0000-0000-4000-8000-000000000101',
  name: 'Harbour View Hotel',
  roomTypes: [
    { roomType: 'standard', capacity: 2, totalRooms: 10, pricePerNight: 120, currency: 'EUR' },
    { roomType: 'deluxe', capacity: 3, totalRooms: 5, pricePerNight: 180, currency: 'EUR' },
    { roomType: 'suite', capacity: 4, totalRooms: 2, pricePerNight: 350, currency: 'EUR' },
  ],
}

export interface SeedReport {
  /**
   * `date`: the tour's date after seeding (YYYY-MM-DD); `moved`: it had departed or departed too
   * soon and was moved; `refilled`: fewer than half its seeded spots were free, and it got them back.
   */
  tours: { id: string; name: string; created: boolean; moved: boolean; refilled: boolean; date: string }[]
  hotel: { id: string; name: string; created: boolean; roomTypes: { roomType: string; created: boolean }[] }
}

/** The UTC calendar day `days` after `from`, as a DATE column value. */
function dayAhead(days: number, from: Date): Date {
  return new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate() + days))
}

/**
 * Writes the demo tours and hotel that do not exist yet and reports, row by row, which were
 * created now. Nightly hotel inventory needs no rows: it is `totalRooms` minus the nights
 * booked, and booked nights get their row on demand.
 */
export async function seedDemoData(db: PrismaClient, today: Date = new Date()): Promise<SeedReport> {
  const createdTours = await db.tour.createManyAndReturn({
    data: DEMO_TOURS.map((tour) => ({
      id: tour.id,
      name: tour.name,
      date: dayAhead(tour.daysAhead, today),
      capacity: tour.capacity,
      availableSpots: tour.capacity,
      priceMinor: toMinor(tour.price, tour.currency),
      currency: tour.currency,
      cancellationMinDays: tour.cancellationPolicy.minDays,
      cancellationFeePercent: tour.cancellationPolicy.feePercent,
    })),
    skipDuplicates: true,
    select: { id: true },
  })
  const newTours = new Set(createdTours.map((tour) => tour.id))

  // Existing demo tours that depart too soon (or have departed) go forward again.
  const soonest = dayAhead(MIN_DAYS_AHEAD, today)
  const movedTours = new Set<string>()
  for (const tour of DEMO_TOURS) {
    if (newTours.has(tour.id)) continue
    const { count } = await db.tour.updateMany({ where: { id: tour.id, date: { lt: soonest } }, data: { date: dayAhead(tour.daysAhead, today) } })
    if (count) movedTours.add(tour.id)
  }
  // Existing demo tours with fewer than half their seeded spots free get them back, so the
  // README's example keeps booking however often it runs. Their capacity grows by what is
  // added: the spots that bookings hold stay held (capacity − available does not change).
  const refilledTours = new Set<string>()
  for (const tour of DEMO_TOURS) {
    if (newTours.has(tour.id)) continue
    const count = await db.$executeRaw`
      UPDATE tour_catalog.tours SET capacity = capacity + (${tour.capacity}::int - available_spots), available_spots = ${tour.capacity}::int
       WHERE id = ${tour.id}::uuid AND available_spots * 2 < ${tour.capacity}::int`
    if (count) refilledTours.add(tour.id)
  }
  const dates = new Map((await db.tour.findMany({ where: { id: { in: DEMO_TOURS.map((tour) => tour.id) } }, select: { id: true, date: true } }))
    .map((tour) => [tour.id, tour.date.toISOString().slice(0, 10)]))

  // The hotel row first: room types reference it.
  const createdHotel = await db.hotel.createManyAndReturn({
    data: [{ id: DEMO_HOTEL.id, name: DEMO_HOTEL.name }],
    skipDuplicates: true,
    select: { id: true },
  })
  const createdRoomTypes = await db.roomType.createManyAndReturn({
    data: DEMO_HOTEL.roomTypes.map((room) => ({
      hotelId: DEMO_HOTEL.id,
      roomType: room.roomType,
      capacity: room.capacity,
      totalRooms: room.totalRooms,
      pricePerNightMinor: toMinor(room.pricePerNight, room.currency),
      currency: room.currency,
    })),
    skipDuplicates: true,
    select: { roomType: true },
  })
  const newRoomTypes = new Set(createdRoomTypes.map((room) => room.roomType))

  return {
    tours: DEMO_TOURS.map((tour) => ({ id: tour.id, name: tour.name, created: newTours.has(tour.id), moved: movedTours.has(tour.id), refilled: refilledTours.has(tour.id), date: dates.get(tour.id) ?? '' })),
    hotel: {
      id: DEMO_HOTEL.id,
      name: DEMO_HOTEL.name,
      created: createdHotel.length > 0,
      roomTypes: DEMO_HOTEL.roomTypes.map((room) => ({ roomType: room.roomType, created: newRoomTypes.has(room.roomType) })),
    },
  }
}

/** A few lines for the console: what was seeded now, or that the demo data was already there. */
export function describeSeed(report: SeedReport): string[] {
  const createdTours = report.tours.filter((tour) => tour.created).length
  const movedTours = report.tours.filter((tour) => tour.moved).length
  const refilledTours = report.tours.filter((tour) => tour.refilled).length
  const createdRooms = report.hotel.roomTypes.filter((room) => room.created).length
  const nothingNew = createdTours === 0 && !report.hotel.created && createdRooms === 0
  const lines = [nothingNew
    ? `Demo data already present${movedTours ? ` (${movedTours} tour(s) moved forward: they had departed or departed within ${MIN_DAYS_AHEAD} days)` : ''}${refilledTours ? ` (${refilledTours} tour(s) given their spots back: fewer than half were free)` : ''}:`
    : `Seeded demo data (${createdTours} tour(s), ${report.hotel.created ? 'a hotel' : 'no hotel'}, ${createdRooms} room type(s)):`]
  for (const tour of report.tours) lines.push(`  tour   ${tour.id}  ${tour.name}, ${tour.date}${tour.moved ? ' (moved forward)' : ''}${tour.refilled ? ' (spots given back)' : ''}`)
  lines.push(`  hotel  ${report.hotel.id}  ${report.hotel.name} (rooms: ${report.hotel.roomTypes.map((room) => room.roomType).join(', ')})`)
  return lines
}

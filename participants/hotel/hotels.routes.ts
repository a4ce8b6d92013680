import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { Hotel, RoomType } from '../../generated/prisma/client.ts'
import { AppError } from '../../platform/errors.ts'
import { toMajor, toMinor } from '../../platform/money.ts'
import { currency, guests, name, nightlyPrice, roomCount, roomType, uuid, uuidParams } from '../../platform/vocabulary.ts'
import { addDays, dateOf, isoDateOf, todayUtc } from '../shared/calendar.ts'
import { created, defineCommand } from '../shared/define-command.ts'
import { findRow, type KeyedTable } from '../shared/rows.ts'
import { object } from '../shared/schema.ts'
import { nightsFrom } from './stay.ts'

/** Nights of availability GET /api/hotels/:hotelId shows. Default 30, at most 365. */
const DEFAULT_DAYS = 30
const MAX_DAYS = 365

type HotelWithRooms = Hotel & { roomTypes: RoomType[] }

function roomTypeView(type: RoomType) {
  return {
    roomType: type.roomType,
    capacity: type.capacity,
    totalRooms: type.totalRooms,
    pricePerNight: toMajor(type.pricePerNightMinor, type.currency),
    currency: type.currency,
  }
}

export function hotelView(hotel: HotelWithRooms) {
  return { hotelId: hotel.id, name: hotel.name, roomTypes: hotel.roomTypes.map(roomTypeView) }
}

const roomTypeOrder = { roomType: 'asc' } as const

const hotels: KeyedTable<HotelWithRooms> = {
  table: '"hotel"."hotels"',
  read: (tx, id) => tx.hotel.findUnique({ where: { id }, include: { roomTypes: { orderBy: roomTypeOrder } } }),
  notFound: () => new AppError('HOTEL_NOT_FOUND'),
}

const createHotel = defineCommand({
  url: '/api/hotels',
  body: object({
    hotelId: uuid,
    name,
    roomTypes: {
      type: 'array',
      minItems: 1,
      maxItems: 50,
      // A room's capacity is the guests it sleeps; the price per night is capped so that price
      // × the longest stay stays far below the largest amount.
      items: object({ roomType, capacity: guests, totalRooms: roomCount, pricePerNight: nightlyPrice, currency }),
    },
  }, { optional: ['hotelId'] }),
  async run({ tx, body }) {
    const seen = new Set<string>()
    for (const [index, type] of body.roomTypes.entries()) {
      if (seen.has(type.roomType)) {
        throw new AppError('VALIDATION_FAILED', 'Each roomType may appear once', {
          details: [{ location: 'body', path: `/roomTypes/${index}/roomType`, message: `"${type.roomType}" appears twice` }],
        })
      }
      seen.add(type.roomType)
      if (toMinor(type.pricePerNight, type.currency) < 1) {
        throw new AppError('VALIDATION_FAILED', 'pricePerNight is below the currency\'s smallest unit', {
          details: [{ location: 'body', path: `/roomTypes/${index}/pricePerNight`, message: 'must be at least one minor unit' }],
        })
      }
    }
    const id = body.hotelId ?? randomUUID()
    // ON CONFLICT DO NOTHING: two creations of one id racing get one 201 and one 409, never a 500.
    const inserted = await tx.hotel.createMany({ data: [{ id, name: body.name }], skipDuplicates: true })
    if (inserted.count === 0) throw new AppError('HOTEL_ALREADY_EXISTS', undefined, { hotelId: id })
    await tx.roomType.createMany({
      data: body.roomTypes.map((type) => ({
        hotelId: id,
        roomType: type.roomType,
        capacity: type.capacity,
        totalRooms: type.totalRooms,
        pricePerNightMinor: toMinor(type.pricePerNight, type.currency),
        currency: type.currency,
      })),
    })
    return created(hotelView(await findRow(tx, hotels, id)))
  },
})

export default async function hotelRoutes(app: FastifyInstance): Promise<void> {
  app.get('/api/hotels', async () => {
    const all = await app.db.hotel.findMany({ include: { roomTypes: { orderBy: roomTypeOrder } }, orderBy: [{ name: 'asc' }, { id: 'asc' }] })
    return all.map(hotelView)
  })

  // The hotel with, per room type, the rooms still free on each of the next `days` nights.
  app.get<{ Params: { hotelId: string }; Querystring: { days: number } }>('/api/hotels/:hotelId', {
    schema: {
      params: uuidParams('hotelId'),
      querystring: {
        type: 'object',
        properties: { days: { type: 'integer', minimum: 1, maximum: MAX_DAYS, default: DEFAULT_DAYS } },
      },
    },
  }, async (request) => {
    const hotel = await findRow(app.db, hotels, request.params.hotelId)
    const nights = nightsFrom(todayUtc(), request.query.days)
    const booked = await app.db.roomNight.findMany({
      where: { hotelId: hotel.id, night: { gte: dateOf(nights[0]!), lt: dateOf(addDays(nights.at(-1)!, 1)) } },
    })
    const reserved = new Map(booked.map((row) => [`${row.roomType}|${isoDateOf(row.night)}`, row.reserved]))
    return {
      ...hotelView(hotel),
      roomTypes: hotel.roomTypes.map((type) => ({
        ...roomTypeView(type),
        availability: nights.map((date) => ({
          date,
          freeRooms: Math.max(0, type.totalRooms - (reserved.get(`${type.roomType}|${date}`) ?? 0)),
        })),
      })),
    }
  })

  await app.register(createHotel)
}

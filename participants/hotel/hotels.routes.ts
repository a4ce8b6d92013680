import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { Hotel, RoomType } from '../../generated/prisma/client.ts'
import { AppError } from '../../platform/errors.ts'
import { currency as currencySchema } from '../../platform/vocabulary.ts'
import { toMajor, toMinor } from '../../platform/money.ts'
import { addDays, isoDateOf, nightsFrom, todayUtc } from './stay.ts'

const uuid = { type: 'string', format: 'uuid' } as const
const hotelParams = { type: 'object', properties: { hotelId: uuid }, required: ['hotelId'] } as const

/** Nights of availability GET /api/hotels/:hotelId shows. Default 30, at most 365. */
const DEFAULT_DAYS = 30
const MAX_DAYS = 365

const hotelBody = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'roomTypes'],
  properties: {
    hotelId: uuid,
    name: { type: 'string', minLength: 1, maxLength: 200 },
    roomTypes: {
      type: 'array',
      minItems: 1,
      maxItems: 50,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['roomType', 'capacity', 'totalRooms', 'pricePerNight', 'currency'],
        properties: {
          roomType: { type: 'string', minLength: 1, maxLength: 50 },
          capacity: { type: 'integer', minimum: 1, maximum: 20 },
          totalRooms: { type: 'integer', minimum: 1, maximum: 10_000 },
          // Capped so that price × the longest stay still fits the integer amount column.
          pricePerNight: { type: 'number', exclusiveMinimum: 0, maximum: 100_000 },
          currency: currencySchema,
        },
      },
    },
  },
} as const

interface RoomTypeBody {
  roomType: string
  capacity: number
  totalRooms: number
  pricePerNight: number
  currency: string
}

interface HotelBody {
  hotelId?: string
  name: string
  roomTypes: RoomTypeBody[]
}

type HotelWithRooms = Hotel & { roomTypes: RoomType[] }

function roomTypeView(roomType: RoomType) {
  return {
    roomType: roomType.roomType,
    capacity: roomType.capacity,
    totalRooms: roomType.totalRooms,
    pricePerNight: toMajor(roomType.pricePerNightMinor, roomType.currency),
    currency: roomType.currency,
  }
}

export function hotelView(hotel: HotelWithRooms) {
  return { hotelId: hotel.id, name: hotel.name, roomTypes: hotel.roomTypes.map(roomTypeView) }
}

const roomTypeOrder = { roomType: 'asc' } as const

export default async function hotelRoutes(app: FastifyInstance): Promise<void> {
  app.get('/api/hotels', async () => {
    const hotels = await app.db.hotel.findMany({ include: { roomTypes: { orderBy: roomTypeOrder } }, orderBy: [{ name: 'asc' }, { id: 'asc' }] })
    return hotels.map(hotelView)
  })

  // The hotel with, per room type, the rooms still free on each of the next `days` nights.
  app.get<{ Params: { hotelId: string }; Querystring: { days: number } }>('/api/hotels/:hotelId', {
    schema: {
      params: hotelParams,
      querystring: {
        type: 'object',
        properties: { days: { type: 'integer', minimum: 1, maximum: MAX_DAYS, default: DEFAULT_DAYS } },
      },
    },
  }, async (request) => {
    const { hotelId } = request.params
    const hotel = await app.db.hotel.findUnique({ where: { id: hotelId }, include: { roomTypes: { orderBy: roomTypeOrder } } })
    if (!hotel) throw new AppError('HOTEL_NOT_FOUND')
    const nights = nightsFrom(todayUtc(), request.query.days)
    const booked = await app.db.roomNight.findMany({
      where: {
        hotelId,
        night: { gte: new Date(`${nights[0]}T00:00:00Z`), lt: new Date(`${addDays(nights.at(-1)!, 1)}T00:00:00Z`) },
      },
    })
    const reserved = new Map(booked.map((row) => [`${row.roomType}|${isoDateOf(row.night)}`, row.reserved]))
    return {
      hotelId: hotel.id,
      name: hotel.name,
      roomTypes: hotel.roomTypes.map((roomType) => ({
        ...roomTypeView(roomType),
        availability: nights.map((date) => ({
          date,
          freeRooms: Math.max(0, roomType.totalRooms - (reserved.get(`${roomType.roomType}|${date}`) ?? 0)),
        })),
      })),
    }
  })

  app.post<{ Body: HotelBody }>('/api/hotels', { schema: { body: hotelBody } }, async (request, reply) => {
    const body = request.body
    const seen = new Set<string>()
    for (const [index, roomType] of body.roomTypes.entries()) {
      if (seen.has(roomType.roomType)) {
        throw new AppError('VALIDATION_FAILED', 'Each roomType may appear once', {
          details: [{ location: 'body', path: `/roomTypes/${index}/roomType`, message: `"${roomType.roomType}" appears twice` }],
        })
      }
      seen.add(roomType.roomType)
      if (toMinor(roomType.pricePerNight, roomType.currency) < 1) {
        throw new AppError('VALIDATION_FAILED', 'pricePerNight is below the currency\'s smallest unit', {
          details: [{ location: 'body', path: `/roomTypes/${index}/pricePerNight`, message: 'must be at least one minor unit' }],
        })
      }
    }
    const id = body.hotelId ?? randomUUID()
    const tx = request.tx
    // ON CONFLICT DO NOTHING: two creations of one id racing get one 201 and one 409, never a 500.
    const created = await tx.hotel.createMany({ data: [{ id, name: body.name }], skipDuplicates: true })
    if (created.count === 0) throw new AppError('HOTEL_ALREADY_EXISTS', undefined, { hotelId: id })
    await tx.roomType.createMany({
      data: body.roomTypes.map((roomType) => ({
        hotelId: id,
        roomType: roomType.roomType,
        capacity: roomType.capacity,
        totalRooms: roomType.totalRooms,
        pricePerNightMinor: toMinor(roomType.pricePerNight, roomType.currency),
        currency: roomType.currency,
      })),
    })
    const hotel = await tx.hotel.findUniqueOrThrow({ where: { id }, include: { roomTypes: { orderBy: roomTypeOrder } } })
    reply.code(201)
    return hotelView(hotel)
  })
}

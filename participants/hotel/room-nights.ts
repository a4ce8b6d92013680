import type { Prisma } from '../../platform/database.ts'
import { isoDateOf } from './stay.ts'

// Rooms taken per (hotel, room type, night) live in "hotel"."room_nights"; a row appears the
// first time a night is asked for. Overbooking is impossible under any race because:
//   1. missing rows are created with INSERT … ON CONFLICT DO NOTHING (a concurrent creator
//      makes us wait for its commit, never fail);
//   2. every row of the stay is locked in night order (one order everywhere, so two stays that
//      overlap cannot deadlock), and
//   3. one conditional UPDATE takes a room only where `reserved < totalRooms`: the stay is
//      available exactly when it touched every night.
// A partial take is undone by the caller throwing: the idempotency plugin rolls the command
// back to its savepoint.

export interface Stay {
  hotelId: string
  roomType: string
  /** 'YYYY-MM-DD', first night. */
  checkIn: string
  /** 'YYYY-MM-DD', the morning after the last night. */
  checkOut: string
}

export interface TakeOutcome {
  /** Nights on which a room was taken. Equal to the stay's nights when it succeeded. */
  taken: number
  /** Nights that were already full (only filled in when something was not taken). */
  fullNights: string[]
}

/** Takes one room of the type for every night of the stay (or for as many as are free). */
export async function takeRooms(tx: Prisma.TransactionClient, stay: Stay, totalRooms: number, nights: number): Promise<TakeOutcome> {
  const { hotelId, roomType, checkIn, checkOut } = stay
  await tx.$executeRaw`
    INSERT INTO "hotel"."room_nights" (hotel_id, room_type, night, reserved)
    SELECT ${hotelId}::uuid, ${roomType}, day::date, 0
      FROM generate_series(${checkIn}::date, ${checkOut}::date - 1, interval '1 day') AS day
     ORDER BY day
    ON CONFLICT DO NOTHING`
  const locked = await lockNights(tx, stay)
  const taken = await tx.$executeRaw`
    UPDATE "hotel"."room_nights" SET reserved = reserved + 1
     WHERE hotel_id = ${hotelId}::uuid AND room_type = ${roomType}
       AND night >= ${checkIn}::date AND night < ${checkOut}::date
       AND reserved < ${totalRooms}`
  const fullNights = taken === nights ? [] : locked.filter((row) => row.reserved >= totalRooms).map((row) => isoDateOf(row.night))
  return { taken, fullNights }
}

/** Gives back the room taken for every night of the stay. Returns the nights given back. */
export async function giveBackRooms(tx: Prisma.TransactionClient, stay: Stay): Promise<number> {
  const { hotelId, roomType, checkIn, checkOut } = stay
  await lockNights(tx, stay)
  // `reserved > 0` only guards the column; the caller's status guard is what makes this run once.
  return tx.$executeRaw`
    UPDATE "hotel"."room_nights" SET reserved = reserved - 1
     WHERE hotel_id = ${hotelId}::uuid AND room_type = ${roomType}
       AND night >= ${checkIn}::date AND night < ${checkOut}::date
       AND reserved > 0`
}

function lockNights(tx: Prisma.TransactionClient, { hotelId, roomType, checkIn, checkOut }: Stay) {
  return tx.$queryRaw<{ night: Date; reserved: number }[]>`
    SELECT night, reserved FROM "hotel"."room_nights"
     WHERE hotel_id = ${hotelId}::uuid AND room_type = ${roomType}
       AND night >= ${checkIn}::date AND night < ${checkOut}::date
     ORDER BY night
       FOR UPDATE`
}

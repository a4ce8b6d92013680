import { randomUUID } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { createDatabase } from '../../platform/database.ts'
import { SERVICE_AUTHORIZATION } from '../support/participant-harness.ts'
import { spawnService, stopAll } from '../support/processes.ts'

// A real tour-catalog process that dies right after committing a command and before answering
// it (PARTICIPANT_FAULT=exit-after-commit): the caller sees only a broken connection and sends
// the command again, to a restarted process. It must get the original answer, and the spots
// must have been taken exactly once.

const db = createDatabase()

afterAll(async () => {
  await stopAll()
  await db.$disconnect()
})

async function createTour(capacity: number) {
  return db.tour.create({
    data: {
      id: randomUUID(), name: 'Crash-proof canyoning', date: new Date('2031-07-14T00:00:00Z'), capacity,
      availableSpots: capacity, priceMinor: 7_500, currency: 'EUR', cancellationMinDays: 7, cancellationFeePercent: 10,
    },
  })
}

function reserve(url: string, tourId: string, key: string, spots: number) {
  return fetch(`${url}/api/tours/${tourId}/reservations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: SERVICE_AUTHORIZATION, 'idempotency-key': key },
    body: JSON.stringify({ spots }),
    signal: AbortSignal.timeout(10_000),
  })
}

describe('a participant that crashes between commit and answer', () => {
  it('replays the committed answer after a restart and takes the spots once', async () => {
    const tour = await createTour(10)
    const key = randomUUID()

    const faulty = await spawnService('tour-catalog', { PARTICIPANT_FAULT: 'exit-after-commit' })
    const lost = await reserve(faulty.url, tour.id, key, 3).then(() => 'answered', (error: Error) => error)
    expect(lost, 'the faulty process must die before answering').toBeInstanceOf(Error)
    const exitCode = await Promise.race([faulty.exited, new Promise((resolve) => setTimeout(resolve, 10_000, 'still running'))])
    expect(exitCode, faulty.output()).toBe(75)

    // The command committed before the crash: its effect and its stored answer are there.
    expect((await db.tour.findUniqueOrThrow({ where: { id: tour.id } })).availableSpots).toBe(7)
    const stored = await db.tourCatalogIdempotencyKey.findFirstOrThrow({ where: { key } })
    expect(stored.status).toBe(201)

    const healthy = await spawnService('tour-catalog')
    const retry = await reserve(healthy.url, tour.id, key, 3)
    expect(retry.status, healthy.output()).toBe(201)
    expect(retry.headers.get('idempotent-replayed')).toBe('true')
    const answer = (await retry.json()) as { reservationId: string }
    expect(answer).toEqual(stored.body)

    const reservations = await db.tourReservation.findMany({ where: { tourId: tour.id } })
    expect(reservations.map((r) => ({ id: r.id, spots: r.spots }))).toEqual([{ id: answer.reservationId, spots: 3 }])
    expect(answer).toMatchObject({ tourId: tour.id, spots: 3, amount: 225, currency: 'EUR', status: 'RESERVED' })

    const read = await fetch(`${healthy.url}/api/tours/${tour.id}`, { headers: { authorization: SERVICE_AUTHORIZATION }, signal: AbortSignal.timeout(5_000) })
    expect(((await read.json()) as { availableSpots: number }).availableSpots).toBe(7)
  }, 90_000)
})

import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { configWith } from '../../../platform/config.ts'
import { createDatabase } from '../../../platform/database.ts'
import { DEAD_LETTER_STREAM, DOMAIN_EVENTS_STREAM, newDomainEvent } from '../../../platform/events/domain-event.ts'
import { EventConsumers } from '../../../platform/events/event-consumer.ts'
import { createLogger } from '../../../platform/logger.ts'
import { createRedis, type Redis } from '../../../platform/redis.ts'
import { createEventsSchema } from '../../../test/support/events-schema.ts'
import { type RedisServer, startRedisServer } from '../../../test/support/redis-server.ts'
import { runSagaCli } from './saga-cli.ts'

// A consumer that keeps failing: its message goes to events:dead after EVENT_MAX_DELIVERIES
// deliveries, `events dead` shows it, and `events replay` brings it back once the consumer is
// fixed. On a Redis server of this test's own, so the dead letters are only its own.

const db = createDatabase({ poolSize: 4 })
let server: RedisServer
let redis: Redis
let scratch: Awaited<ReturnType<typeof createEventsSchema>>

beforeAll(async () => {
  server = await startRedisServer()
  redis = createRedis({ url: server.url })
  if (redis.status !== 'ready') await once(redis, 'ready')
  scratch = await createEventsSchema(db)
})
afterAll(async () => {
  redis?.disconnect()
  await server?.close()
  await scratch?.drop()
  await db.$disconnect()
})

async function cli(...argv: string[]) {
  const out: string[] = []
  const err: string[] = []
  const code = await runSagaCli(argv, { config: configWith({ REDIS_URL: server.url }), io: { out: (line) => out.push(line), err: (line) => err.push(line), isTTY: false } })
  return { code, out: out.join('\n'), err: err.join('\n') }
}

describe('npm run saga -- events', () => {
  it('moves an event its consumer failed on five times to events:dead, lists it, and replays it to the fixed consumer', async () => {
    const event = newDomainEvent({ type: 'booking.canceled', data: { bookingId: randomUUID() } }, randomUUID())
    const name = `test.dead-${randomUUID().slice(0, 8)}`
    let broken = true
    const runs: number[] = []
    const consumers = new EventConsumers({
      consumers: [{
        name,
        eventTypes: ['booking.canceled'],
        async handle(_event, { delivery }) {
          runs.push(delivery)
          if (broken) throw new Error('the ledger is read-only')
        },
      }],
      db,
      schema: scratch.schema,
      redis,
      logger: createLogger({ service: 'test', level: 'silent', format: 'json' }),
      maxDeliveries: 5,
      claimIdleMs: 100,
      blockMs: 50,
    })
    await redis.xadd(DOMAIN_EVENTS_STREAM, '*', 'event', JSON.stringify(event))
    consumers.start()
    try {
      await expect.poll(() => redis.xlen(DEAD_LETTER_STREAM), { timeout: 20_000, interval: 100 }).toBe(1)
      expect(runs).toEqual([1, 2, 3, 4, 5])
      const [pending] = await redis.xpending(DOMAIN_EVENTS_STREAM, name) as [number]
      expect(pending).toBe(0)

      const dead = await cli('events', 'dead')
      expect(dead.code).toBe(0)
      expect(dead.out).toContain(event.eventId)
      expect(dead.out).toContain(`consumer ${name}, 5 deliveries`)
      expect(dead.out).toContain('the ledger is read-only')
      const json = await cli('events', 'dead', '--json')
      expect(JSON.parse(json.out.split('\n')[0]!)).toMatchObject({ eventId: event.eventId, eventType: 'booking.canceled', consumer: name, deliveries: 5, error: 'the ledger is read-only' })

      broken = false
      const replay = await cli('events', 'replay', event.eventId)
      expect(replay.code).toBe(0)
      expect(replay.out).toContain('Replayed 1 event(s)')
      await expect.poll(() => runs.length, { timeout: 10_000, interval: 50 }).toBe(6)
      expect(await redis.xlen(DEAD_LETTER_STREAM)).toBe(0)
      await expect.poll(async () => {
        const [row] = await db.$queryRawUnsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM "${scratch.schema}"."processed_events" WHERE consumer = $1 AND event_id = $2::uuid`, name, event.eventId)
        return row!.n
      }, { timeout: 5_000 }).toBe(1)
      expect((await cli('events', 'dead')).out).toContain('0 dead letter(s)')
    } finally {
      await consumers.stop()
    }
  })

  it('says so when there is nothing to replay, and asks for an eventId or --all', async () => {
    const unknown = await cli('events', 'replay', randomUUID())
    expect(unknown.code).toBe(3)
    expect(unknown.err).toContain('no dead letter for event')
    const all = await cli('events', 'replay', '--all')
    expect(all.code).toBe(0)
    expect(all.out).toContain('Replayed 0 event(s)')
    expect((await cli('events', 'replay')).code).toBe(2)
  })

  it('refuses to run without Redis, in one line', async () => {
    const out: string[] = []
    const err: string[] = []
    const code = await runSagaCli(['events', 'dead'], { config: configWith({ REDIS_URL: 'disabled' }), io: { out: (l) => out.push(l), err: (l) => err.push(l), isTTY: false } })
    expect(code).toBe(1)
    expect(err).toEqual(['REDIS_URL is disabled: there are no event streams'])
  })
})

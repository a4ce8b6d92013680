import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEventsSchema } from '../../test/support/events-schema.ts'
import { startRedisServer } from '../../test/support/redis-server.ts'
import { createDatabase, poolOf } from '../database.ts'
import { createLogger } from '../logger.ts'
import { createRedis, type Redis } from '../redis.ts'
import { DOMAIN_EVENTS_STREAM, type DomainEvent, fieldsOf, newDomainEvent, parseDomainEvent } from './domain-event.ts'
import { type EventConsumer, EventConsumers } from './event-consumer.ts'
import { insertIntoOutbox } from './outbox.ts'
import { OutboxRelay, registerOutboxMetrics } from './outbox-relay.ts'

// The event kit against the real Postgres and Redis: each test's outbox lives in a schema of
// its own (createEventsSchema), so no relay of another suite publishes it, and each consumer
// has a name (a consumer group) no other run uses, reading the shared events:domain.

const db = createDatabase({ poolSize: 8 })
const pool = poolOf(db)!
const logger = createLogger({ service: 'events-test', level: 'silent', format: 'json' })
let redis: Redis
let scratch: Awaited<ReturnType<typeof createEventsSchema>>

beforeAll(async () => {
  redis = createRedis()
  if (redis.status !== 'ready') await once(redis, 'ready')
  scratch = await createEventsSchema(db)
})
afterAll(async () => {
  await scratch?.drop()
  redis?.disconnect()
  await db.$disconnect()
})

function deferred() {
  let resolve!: () => void
  const promise = new Promise<void>((r) => { resolve = r })
  return { promise, resolve }
}

const type = () => `test.${randomUUID().slice(0, 8)}`
const event = (eventType: string, data: Record<string, unknown> = {}) => newDomainEvent({ type: eventType, data }, `corr-${randomUUID().slice(0, 8)}`)

/** Our events in a stream, in stream order, by eventId. */
async function published(client: Redis, eventIds: readonly string[]): Promise<DomainEvent[]> {
  const wanted = new Set(eventIds)
  const entries = await client.xrevrange(DOMAIN_EVENTS_STREAM, '+', '-', 'COUNT', 5_000)
  return entries.reverse().map(([, flat]) => parseDomainEvent(fieldsOf(flat).get('event'))!).filter((e) => e && wanted.has(e.eventId))
}

function relayOn(client: Redis, options: Partial<ConstructorParameters<typeof OutboxRelay>[0]> = {}) {
  return new OutboxRelay({ pool, schema: scratch.schema, redis: client, logger, pollIntervalMs: 50, ...options })
}

function consumerOf(name: string, eventTypes: string[], handle: EventConsumer['handle'], options: Partial<ConstructorParameters<typeof EventConsumers>[0]> = {}) {
  return new EventConsumers({ consumers: [{ name, eventTypes, handle }], db, schema: scratch.schema, redis, logger, claimIdleMs: 200, blockMs: 100, ...options })
}

describe('the outbox relay', () => {
  it('publishes what committed, in id order, once, and nothing of a transaction that rolled back', async () => {
    const kind = type()
    const committed = [event(kind, { n: 1 }), event(kind, { n: 2 }), event(kind, { n: 3 })]
    const rolledBack = event(kind, { n: 'never' })
    await db.$transaction(async (tx) => insertIntoOutbox(tx, scratch.schema, committed))
    await expect(db.$transaction(async (tx) => {
      await insertIntoOutbox(tx, scratch.schema, [rolledBack])
      throw new Error('the command failed')
    })).rejects.toThrow('the command failed')

    const relay = relayOn(redis)
    expect(await relay.drain()).toBe(3)
    expect(await relay.drain()).toBe(0)
    const seen = await published(redis, [...committed, rolledBack].map((e) => e.eventId))
    expect(seen).toEqual(committed)
    // What went out left the outbox: it holds only what is still to be published.
    const [row] = await db.$queryRawUnsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM "${scratch.schema}"."outbox"`)
    expect(row!.n).toBe(0)
  })

  it('is nudged right after a commit rather than at its next poll', async () => {
    const relay = relayOn(redis, { pollIntervalMs: 60_000 })
    relay.start()
    try {
      await relay.drain()
      const fact = event(type())
      await db.$transaction(async (tx) => insertIntoOutbox(tx, scratch.schema, [fact]))
      relay.nudge()
      await expect.poll(() => published(redis, [fact.eventId]), { timeout: 3_000, interval: 20 }).toHaveLength(1)
    } finally {
      await relay.stop()
    }
  })

  it('says on /metrics how many events wait and how old the oldest is', async () => {
    const registry = new Registry()
    registerOutboxMetrics(registry, pool, scratch.schema)
    const old = { ...event(type()), timestamp: new Date(Date.now() - 5_000).toISOString() }
    await db.$transaction(async (tx) => insertIntoOutbox(tx, scratch.schema, [old]))
    const text = await registry.metrics()
    expect(text).toMatch(/^domain_events_unpublished 1$/m)
    const lag = Number(/^domain_events_relay_lag_seconds (\S+)$/m.exec(text)?.[1])
    expect(lag).toBeGreaterThanOrEqual(5)
    expect(lag).toBeLessThan(60)
    await relayOn(redis).drain()
    expect(await registry.metrics()).toMatch(/^domain_events_relay_lag_seconds 0$/m)
  })

  it('keeps events in the outbox while Redis is down and publishes each of them once it is back', async () => {
    const server = await startRedisServer()
    const own = createRedis({ url: server.url })
    own.on('error', () => {})
    const relay = relayOn(own, { maxBackoffMs: 200 })
    try {
      if (own.status !== 'ready') await once(own, 'ready')
      relay.start()
      await server.stop()
      const facts = Array.from({ length: 5 }, (_, n) => event(type(), { n }))
      for (const fact of facts) await db.$transaction(async (tx) => insertIntoOutbox(tx, scratch.schema, [fact]))
      relay.nudge()
      await new Promise((resolve) => setTimeout(resolve, 1_000))
      const [waiting] = await db.$queryRawUnsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM "${scratch.schema}"."outbox"`)
      expect(waiting!.n).toBe(5)

      await server.start()
      await expect.poll(async () => (await published(own, facts.map((f) => f.eventId))).length, { timeout: 15_000, interval: 100 }).toBe(5)
      expect((await published(own, facts.map((f) => f.eventId))).map((e) => e.eventId)).toEqual(facts.map((f) => f.eventId))
    } finally {
      await relay.stop()
      own.disconnect()
      await server.close()
    }
  })
})

describe('the consumer kit', () => {
  it('hands an event to its handler once, however often it is delivered, and acknowledges every delivery', async () => {
    const kind = type()
    const fact = event(kind)
    const name = `test.once-${randomUUID().slice(0, 8)}`
    let handled = 0
    const consumers = consumerOf(name, [kind], async () => { handled++ })
    // Delivered twice, as a relay that crashed between XADD and its commit would publish it.
    for (let i = 0; i < 2; i++) await redis.xadd(DOMAIN_EVENTS_STREAM, '*', 'event', JSON.stringify(fact))
    consumers.start()
    try {
      await expect.poll(async () => {
        const [row] = await db.$queryRawUnsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM "${scratch.schema}"."processed_events" WHERE consumer = $1`, name)
        const pending = await redis.xpending(DOMAIN_EVENTS_STREAM, name) as [number]
        return { processed: row!.n, pending: pending[0] }
      }, { timeout: 20_000, interval: 100 }).toEqual({ processed: 1, pending: 0 })
      expect(handled).toBe(1)
    } finally {
      await consumers.stop()
    }
  })

  it('gives a consumer added later every event from the start of the stream', async () => {
    const kind = type()
    const facts = [event(kind, { n: 1 }), event(kind, { n: 2 }), event(kind, { n: 3 })]
    for (const fact of facts) await redis.xadd(DOMAIN_EVENTS_STREAM, '*', 'event', JSON.stringify(fact))
    const seen: string[] = []
    const consumers = consumerOf(`test.late-${randomUUID().slice(0, 8)}`, [kind], async (e) => { seen.push(e.eventId) })
    consumers.start()
    try {
      await expect.poll(() => seen.length, { timeout: 20_000, interval: 100 }).toBe(3)
      expect(seen).toEqual(facts.map((f) => f.eventId))
    } finally {
      await consumers.stop()
    }
  })

  it('rolls the handler back when it throws and retries it; an effect and its dedupe record commit together', async () => {
    const kind = type()
    const fact = event(kind)
    const name = `test.retry-${randomUUID().slice(0, 8)}`
    let runs = 0
    const consumers = consumerOf(name, [kind], async (e, { tx, emit }) => {
      runs++
      // The handler's own effect, in the consumer's transaction: kept once, from the run that committed.
      await tx.$executeRawUnsafe(`INSERT INTO "${scratch.schema}"."outbox" (event_id, event_type, event_version, correlation_id, data, occurred_at) VALUES ($1::uuid, 'test.effect', 1, $2, '{}', now())`, randomUUID(), name)
      emit('test.derived', { from: e.eventId })
      if (runs === 1) throw new Error('first run fails')
    })
    await redis.xadd(DOMAIN_EVENTS_STREAM, '*', 'event', JSON.stringify(fact))
    consumers.start()
    try {
      await expect.poll(() => runs, { timeout: 20_000, interval: 50 }).toBe(2)
      await expect.poll(async () => {
        const rows = await db.$queryRawUnsafe<{ event_type: string; correlation_id: string }[]>(
          `SELECT event_type, correlation_id FROM "${scratch.schema}"."outbox" WHERE event_type = 'test.derived' AND data->>'from' = $1`, fact.eventId)
        return rows
      }, { timeout: 5_000, interval: 50 }).toEqual([{ event_type: 'test.derived', correlation_id: fact.correlationId }])
      const [effects] = await db.$queryRawUnsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM "${scratch.schema}"."outbox" WHERE event_type = 'test.effect' AND correlation_id = $1`, name)
      expect(effects!.n).toBe(1)
    } finally {
      await consumers.stop()
    }
  })

  it('stops after the event in hand and leaves the rest of its batch to the group, which hands each over once', async () => {
    const kind = type()
    const facts = Array.from({ length: 10 }, (_, n) => event(kind, { n }))
    const name = `test.stop-${randomUUID().slice(0, 8)}`
    await redis.xgroup('CREATE', DOMAIN_EVENTS_STREAM, name, '$', 'MKSTREAM')
    for (const fact of facts) await redis.xadd(DOMAIN_EVENTS_STREAM, '*', 'event', JSON.stringify(fact))
    const first = deferred()
    const release = deferred()
    const seen: string[] = []
    const stopping = consumerOf(name, [kind], async (e) => {
      seen.push(e.eventId)
      first.resolve()
      await release.promise
    }, { batchSize: 16 })
    stopping.start()
    await first.promise
    // Asked to stop while the first of the ten is being handled.
    const stopped = stopping.stop()
    release.resolve()
    await stopped
    expect(seen).toEqual([facts[0]!.eventId])

    const after: string[] = []
    const consumers = consumerOf(name, [kind], async (e) => { after.push(e.eventId) })
    consumers.start()
    try {
      await expect.poll(() => after.length, { timeout: 20_000, interval: 50 }).toBe(9)
      expect(new Set([...seen, ...after])).toEqual(new Set(facts.map((f) => f.eventId)))
    } finally {
      await consumers.stop()
    }
  })

  it('takes over what a dead consumer of its group left unacknowledged', async () => {
    const kind = type()
    const fact = event(kind)
    const name = `test.claim-${randomUUID().slice(0, 8)}`
    await redis.xgroup('CREATE', DOMAIN_EVENTS_STREAM, name, '$', 'MKSTREAM')
    await redis.xadd(DOMAIN_EVENTS_STREAM, '*', 'event', JSON.stringify(fact))
    // A consumer that read the event and died before acknowledging it.
    const read = await redis.xreadgroup('GROUP', name, 'dead-consumer', 'COUNT', 10, 'STREAMS', DOMAIN_EVENTS_STREAM, '>') as [string, unknown[]][]
    expect(read[0]![1]).toHaveLength(1)
    const seen: { eventId: string; delivery: number }[] = []
    const consumers = consumerOf(name, [kind], async (e, { delivery }) => { seen.push({ eventId: e.eventId, delivery }) })
    consumers.start()
    try {
      await expect.poll(() => seen, { timeout: 10_000, interval: 50 }).toEqual([{ eventId: fact.eventId, delivery: 2 }])
    } finally {
      await consumers.stop()
    }
  })
})

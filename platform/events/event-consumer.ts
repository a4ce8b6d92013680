import os from 'node:os'
import { randomUUID } from 'node:crypto'
import { Counter, Gauge, type Registry } from 'prom-client'
import type { Prisma, PrismaClient } from '../database.ts'
import type { Redis } from '../redis.ts'
import { deadLetter } from './dead-letters.ts'
import { DOMAIN_EVENTS_STREAM, type DomainEvent, fieldsOf, parseDomainEvent } from './domain-event.ts'
import { eventsToEmit } from './outbox.ts'

export interface ConsumerLogger {
  info(details: object, message: string): void
  warn(details: object, message: string): void
  error(details: object, message: string): void
}

/** What a handler gets beside the event. */
export interface ConsumerContext {
  /** The handler's transaction, in its service's schema: the dedupe record commits with its effect. */
  tx: Prisma.TransactionClient
  /** States a fact the handling makes true: written to the service's outbox in `tx`, correlated with the event. */
  emit(type: string, data: Record<string, unknown>, options?: { version?: number }): void
  /** This message's delivery, 1 the first time. */
  delivery: number
  log: ConsumerLogger
}

/**
 * A consumer of domain events: a name (its Redis consumer group, and its rows in the service's
 * `processed_events`), the event types it wants, and a handler. The handler runs at most once
 * per eventId to its commit, in a transaction of its own service; throwing rolls it back and
 * the message is delivered again (after `EVENT_CLAIM_IDLE_MS`), until `EVENT_MAX_DELIVERIES`
 * sends it to `events:dead`.
 */
export interface EventConsumer {
  name: string
  eventTypes: readonly string[]
  handle(event: DomainEvent, context: ConsumerContext): Promise<void>
}

/** Identity for type inference and reading: `export default defineConsumer({ … })`. */
export function defineConsumer(consumer: EventConsumer): EventConsumer {
  return consumer
}

export interface EventConsumersOptions {
  consumers: readonly EventConsumer[]
  db: PrismaClient
  /** The service's schema: holds its `processed_events` and `outbox`. */
  schema: string
  /** A fail-fast client for acks and claims; blocking reads get a duplicate of it each. */
  redis: Redis
  logger: ConsumerLogger
  /** Deliveries before a message goes to events:dead. Default: 5 (`EVENT_MAX_DELIVERIES`) */
  maxDeliveries?: number
  /** A message unacknowledged this long is taken over (a dead consumer's) or retried (a failed one). Default: 10000 ms (`EVENT_CLAIM_IDLE_MS`) */
  claimIdleMs?: number
  /** Where the consumers' metrics go. Default: nowhere. */
  registry?: Registry
  /** Called after a handler's transaction committed events to the outbox (nudges the relay). */
  onEventsCommitted?: () => void
  /** Longest a blocking read waits. Default: 1000 ms */
  blockMs?: number
  /** Messages per read. Default: 16 */
  batchSize?: number
  /** This process's name in the groups. Default: host, pid and a random suffix. */
  consumerId?: string
}

interface Metrics {
  consumed: Counter<'consumer'>
  duplicates: Counter<'consumer'>
  failed: Counter<'consumer'>
  deadLettered: Counter<'consumer'>
}

/**
 * Runs a service's consumers: each reads `events:domain` through its consumer group (created
 * from the start of the stream, so a consumer added later receives every event there ever
 * was), hands the types it wants to its handler inside a Postgres transaction that also
 * records the eventId in `processed_events` (a duplicate is acknowledged and skipped), XACKs
 * after the commit, reclaims what a dead consumer left pending (XAUTOCLAIM), and moves a
 * message that failed `maxDeliveries` times to `events:dead`. Redis down: it backs off and
 * carries on where its group stands once Redis is back.
 */
export class EventConsumers {
  readonly #options: Required<Omit<EventConsumersOptions, 'registry' | 'onEventsCommitted'>> & Pick<EventConsumersOptions, 'onEventsCommitted'>
  readonly #metrics: Metrics | undefined
  readonly #loops: Promise<void>[] = []
  readonly #readers = new Set<Redis>()
  #stopped = false

  constructor(options: EventConsumersOptions) {
    this.#options = {
      maxDeliveries: 5,
      claimIdleMs: 10_000,
      blockMs: 1_000,
      batchSize: 16,
      consumerId: `${os.hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`,
      ...options,
    }
    for (const consumer of options.consumers) {
      if (!/^[a-z0-9][a-z0-9._-]*$/.test(consumer.name)) throw new Error(`Consumer name "${consumer.name}": lower-case letters, digits, '.', '_' and '-' only`)
    }
    this.#metrics = options.registry ? consumerMetrics(options.registry, options.redis, options.consumers.map((c) => c.name)) : undefined
  }

  start(): void {
    if (this.#loops.length) return
    this.#stopped = false
    for (const consumer of this.#options.consumers) this.#loops.push(this.#run(consumer))
  }

  /**
   * Stops reading; the event in hand is finished (handled and acknowledged) first. The rest of
   * a batch stays pending in the group and is reclaimed (XAUTOCLAIM) like a dead consumer's, so
   * stopping takes one handler's time, not a batch's.
   */
  async stop(): Promise<void> {
    this.#stopped = true
    // A blocking read ends at once: what it was about to deliver stays pending and is reclaimed.
    for (const reader of this.#readers) reader.disconnect()
    await Promise.all(this.#loops)
    this.#loops.length = 0
  }

  async #run(consumer: EventConsumer): Promise<void> {
    const { redis, logger, blockMs, batchSize, consumerId, claimIdleMs } = this.#options
    const reader = redis.duplicate()
    reader.on('error', () => {})
    this.#readers.add(reader)
    let down = false
    let backoffMs = 0
    let groupReady = false
    let lastClaim = 0
    try {
      while (!this.#stopped) {
        try {
          if (reader.status !== 'ready') await readyOrTimeout(reader, 2_000)
          if (!groupReady) {
            await ensureGroup(redis, consumer.name)
            groupReady = true
          }
          // Retries and a dead consumer's leftovers, a few times per idle period.
          if (Date.now() - lastClaim >= Math.min(claimIdleMs / 2, 5_000)) {
            await this.#claim(consumer)
            lastClaim = Date.now()
          }
          const reply = await reader.xreadgroup('GROUP', consumer.name, consumerId, 'COUNT', batchSize, 'BLOCK', Math.min(blockMs, claimIdleMs), 'STREAMS', DOMAIN_EVENTS_STREAM, '>') as [string, [string, string[]][]][] | null
          if (down) logger.info({ consumer: consumer.name }, 'event consumer: Redis reachable again')
          down = false
          backoffMs = 0
          for (const [, entries] of reply ?? []) {
            // Every service's events share the stream: those of other types are acknowledged
            // together, in one round trip, rather than one by one.
            const other = entries.map(([, fields]) => isOtherType(consumer, fields))
            const otherIds = entries.filter((_entry, i) => other[i]).map(([id]) => id)
            if (otherIds.length) await redis.xack(DOMAIN_EVENTS_STREAM, consumer.name, ...otherIds)
            for (const [i, [id, fields]] of entries.entries()) {
              if (this.#stopped) break
              if (!other[i]) await this.#handle(consumer, id, fields, 1)
            }
          }
        } catch (error) {
          if (this.#stopped) break
          // The stream or the group went away (Redis restarted empty): make them again.
          if (String(error).includes('NOGROUP')) groupReady = false
          if (!down) logger.warn({ consumer: consumer.name, err: String(error) }, 'event consumer cannot read events:domain now; it resumes where its group stands once Redis is back')
          down = true
          backoffMs = Math.min(5_000, backoffMs ? backoffMs * 2 : 100)
          await delay(backoffMs)
        }
      }
    } finally {
      this.#readers.delete(reader)
      reader.disconnect()
    }
  }

  /** Takes over messages idle longer than claimIdleMs (this consumer's failed ones included). */
  async #claim(consumer: EventConsumer): Promise<void> {
    const { redis, consumerId, claimIdleMs, batchSize, maxDeliveries } = this.#options
    let cursor = '0-0'
    for (let round = 0; round < 10 && !this.#stopped; round++) {
      const [next, entries] = await redis.xautoclaim(DOMAIN_EVENTS_STREAM, consumer.name, consumerId, claimIdleMs, cursor, 'COUNT', batchSize) as [string, ([string, string[]] | null)[]]
      for (const entry of entries) {
        if (this.#stopped) return
        if (!entry) continue
        const [id, fields] = entry
        const deliveries = await deliveriesOf(redis, consumer.name, id)
        // Past the limit without a recorded failure: a handler that killed its process each time.
        if (deliveries > maxDeliveries) {
          await this.#deadLetter(consumer, id, fields, `delivered ${deliveries} times without being acknowledged`, deliveries)
          continue
        }
        await this.#handle(consumer, id, fields, deliveries)
      }
      if (next === '0-0') return
      cursor = next
    }
  }

  async #handle(consumer: EventConsumer, id: string, flat: string[], delivery: number): Promise<void> {
    const { db, schema, redis, logger, maxDeliveries } = this.#options
    const json = fieldsOf(flat).get('event')
    const event = parseDomainEvent(json)
    if (!event) {
      await this.#deadLetter(consumer, id, flat, 'not a domain event (no JSON with eventId, eventType and data in field "event")', delivery)
      return
    }
    if (!consumer.eventTypes.includes(event.eventType)) {
      await redis.xack(DOMAIN_EVENTS_STREAM, consumer.name, id)
      return
    }
    const labels = { consumer: consumer.name }
    let outcome: 'handled' | 'duplicate'
    let emitted = 0
    try {
      outcome = await db.$transaction(async (tx) => {
        const fresh = await tx.$executeRawUnsafe(
          `INSERT INTO "${schema}"."processed_events" (consumer, event_id) VALUES ($1, $2::uuid) ON CONFLICT DO NOTHING`, consumer.name, event.eventId)
        if (fresh === 0) return 'duplicate' as const
        const events = eventsToEmit()
        const log = { info: logger.info.bind(logger), warn: logger.warn.bind(logger), error: logger.error.bind(logger) }
        await consumer.handle(event, { tx, delivery, log, emit: events.emit })
        emitted = await events.write(tx, schema, event.correlationId)
        return 'handled' as const
      }, { timeout: 15_000, maxWait: 15_000 })
    } catch (error) {
      this.#metrics?.failed.inc(labels)
      const deliveries = Math.max(delivery, await deliveriesOf(redis, consumer.name, id).catch(() => delivery))
      if (deliveries >= maxDeliveries) {
        await this.#deadLetter(consumer, id, flat, errorMessage(error), deliveries)
      } else {
        logger.warn({ consumer: consumer.name, eventId: event.eventId, eventType: event.eventType, delivery: deliveries, err: errorMessage(error) }, 'event handler failed; the event is delivered again')
      }
      return
    }
    // After the commit: a crash before this ack redelivers the event, and the dedupe skips it.
    await redis.xack(DOMAIN_EVENTS_STREAM, consumer.name, id)
    if (outcome === 'duplicate') this.#metrics?.duplicates.inc(labels)
    else this.#metrics?.consumed.inc(labels)
    if (emitted) this.#options.onEventsCommitted?.()
  }

  async #deadLetter(consumer: EventConsumer, id: string, flat: string[], error: string, deliveries: number): Promise<void> {
    await deadLetter(this.#options.redis, { group: consumer.name, streamId: id, event: fieldsOf(flat).get('event') ?? JSON.stringify(flat), error, deliveries })
    this.#metrics?.deadLettered.inc({ consumer: consumer.name })
    this.#options.logger.error({ consumer: consumer.name, streamId: id, deliveries, err: error }, 'event moved to events:dead (replay it with: npm run saga -- events replay <eventId>)')
  }
}

/** A domain event this consumer does not subscribe to (an entry that is no event is handled: it goes to events:dead). */
function isOtherType(consumer: EventConsumer, flat: string[]): boolean {
  const event = parseDomainEvent(fieldsOf(flat).get('event'))
  return !!event && !consumer.eventTypes.includes(event.eventType)
}

/** Creates the group from the start of the stream (and the stream if need be), unless it exists. */
async function ensureGroup(redis: Redis, group: string): Promise<void> {
  try {
    await redis.xgroup('CREATE', DOMAIN_EVENTS_STREAM, group, '0', 'MKSTREAM')
  } catch (error) {
    if (!String(error).includes('BUSYGROUP')) throw error
  }
}

/** How many times the group has delivered the message (XPENDING); 1 when it is not pending. */
async function deliveriesOf(redis: Redis, group: string, id: string): Promise<number> {
  const rows = await redis.xpending(DOMAIN_EVENTS_STREAM, group, id, id, 1) as [string, string, number, number][]
  return rows[0]?.[3] ?? 1
}

function consumerMetrics(registry: Registry, redis: Redis, groups: string[]): Metrics {
  const labelNames = ['consumer'] as const
  // Both gauges are set from one XINFO GROUPS per scrape.
  let reading: ReturnType<typeof groupInfo> | undefined
  const read = () => {
    reading ??= groupInfo(redis, groups).finally(() => setTimeout(() => { reading = undefined }, 0))
    return reading
  }
  new Gauge({
    name: 'domain_event_consumer_lag',
    help: 'Entries of events:domain not yet delivered to the consumer\'s group (Redis XINFO GROUPS lag)',
    labelNames,
    registers: [registry],
    async collect() {
      for (const group of await read()) if (group.lag !== undefined) this.set({ consumer: group.name }, group.lag)
    },
  })
  new Gauge({
    name: 'domain_event_consumer_pending',
    help: 'Entries delivered to the consumer\'s group and not yet acknowledged',
    labelNames,
    registers: [registry],
    async collect() {
      for (const group of await read()) this.set({ consumer: group.name }, group.pending)
    },
  })
  return {
    consumed: new Counter({ name: 'domain_events_consumed_total', help: 'Domain events handled and committed', labelNames, registers: [registry] }),
    duplicates: new Counter({ name: 'domain_events_duplicates_total', help: 'Deliveries of events already processed (dropped by eventId)', labelNames, registers: [registry] }),
    failed: new Counter({ name: 'domain_events_failed_total', help: 'Handler runs that threw (the event is delivered again)', labelNames, registers: [registry] }),
    deadLettered: new Counter({ name: 'domain_events_dead_lettered_total', help: 'Events moved to events:dead', labelNames, registers: [registry] }),
  }
}

/** XINFO GROUPS of the stream, for these groups; empty while Redis is down. */
async function groupInfo(redis: Redis, groups: string[]): Promise<{ name: string; pending: number; lag: number | undefined }[]> {
  if (redis.status !== 'ready') return []
  try {
    const reply = await redis.xinfo('GROUPS', DOMAIN_EVENTS_STREAM) as unknown[][]
    return reply.map((flat) => fieldsOf(flat.map(String)))
      .filter((fields) => groups.includes(fields.get('name') ?? ''))
      .map((fields) => ({
        name: fields.get('name')!,
        pending: Number(fields.get('pending') ?? 0),
        // Null while Redis cannot tell (after deletions in the stream).
        lag: fields.get('lag') === undefined || fields.get('lag') === '' ? undefined : Number(fields.get('lag')),
      }))
  } catch {
    return []
  }
}

function readyOrTimeout(redis: Redis, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms)
    // 'end': the connection was closed for good (stop()), nothing to wait for.
    redis.once('ready', done)
    redis.once('end', done)
    function done() {
      clearTimeout(timer)
      redis.off('ready', done)
      redis.off('end', done)
      resolve()
    }
  })
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

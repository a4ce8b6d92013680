import type pg from 'pg'
import type { Registry } from 'prom-client'
import type { Config } from '../config.ts'
import type { PrismaClient } from '../database.ts'
import type { Redis } from '../redis.ts'
import { type EventConsumer, EventConsumers, type ConsumerLogger } from './event-consumer.ts'
import { OutboxRelay, registerOutboxMetrics } from './outbox-relay.ts'

export interface ServiceEventsOptions {
  config: Pick<Config, 'EVENT_MAX_DELIVERIES' | 'EVENT_CLAIM_IDLE_MS' | 'EVENT_RELAY_POLL_MS' | 'EVENT_RELAY_FAULT'>
  /** The service's schema: its outbox is published, its consumers dedupe in it. */
  schema: string
  pool: pg.Pool
  db: PrismaClient
  /** Undefined: Redis is disabled; events wait in the outbox (said once, at start). */
  redis: Redis | undefined
  logger: ConsumerLogger
  /** The service's /metrics registry. */
  registry: Registry
  /** Default: none. */
  consumers?: readonly EventConsumer[]
  /** Default: the configured ones (tests shorten them). */
  claimIdleMs?: number
  pollIntervalMs?: number
}

/** A service's domain-event machinery: its outbox relay and its consumers, started and stopped together. */
export interface ServiceEvents {
  /** A commit wrote events to the outbox: publish them now. */
  nudge(): void
  /** The relay and the consumers. */
  start(): void
  /** The relay alone (publishing what this service commits). */
  startRelay(): void
  /** The consumers alone. */
  startConsumers(): void
  stop(): Promise<void>
}

/**
 * The one way a process (the orchestrator or a participant) runs domain events: the outbox
 * metrics on its /metrics, a relay of its own schema's outbox and its consumers when Redis is
 * there; with `REDIS_URL=disabled` neither runs and events stay in the outbox, said once.
 */
export function createServiceEvents(options: ServiceEventsOptions): ServiceEvents {
  const { config, schema, pool, db, redis, logger, registry } = options
  registerOutboxMetrics(registry, pool, schema)
  if (!redis) {
    let said = false
    const sayOnce = () => {
      if (said) return
      said = true
      logger.warn({ schema }, 'REDIS_URL is disabled: domain events are kept in the outbox and not published (they go out once a process with Redis runs), and no consumer runs')
    }
    return {
      nudge() {},
      start: sayOnce,
      startRelay: sayOnce,
      startConsumers: sayOnce,
      async stop() {},
    }
  }
  const relay = new OutboxRelay({
    pool,
    schema,
    redis,
    logger,
    registry,
    pollIntervalMs: options.pollIntervalMs ?? config.EVENT_RELAY_POLL_MS,
    ...(config.EVENT_RELAY_FAULT ? { fault: config.EVENT_RELAY_FAULT } : {}),
  })
  const consumers = options.consumers?.length
    ? new EventConsumers({
      consumers: options.consumers,
      db,
      schema,
      redis,
      logger,
      registry,
      maxDeliveries: config.EVENT_MAX_DELIVERIES,
      claimIdleMs: options.claimIdleMs ?? config.EVENT_CLAIM_IDLE_MS,
      onEventsCommitted: () => relay.nudge(),
    })
    : undefined
  return {
    nudge: () => relay.nudge(),
    start() {
      relay.start()
      consumers?.start()
    },
    startRelay: () => relay.start(),
    startConsumers: () => consumers?.start(),
    async stop() {
      await consumers?.stop()
      await relay.stop()
    },
  }
}

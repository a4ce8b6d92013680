import type pg from 'pg'
import { Counter, Gauge, type Registry } from 'prom-client'
import type { Redis } from '../redis.ts'
import { sql } from '../sql.ts'
import { DOMAIN_EVENTS_STREAM, type DomainEvent } from './domain-event.ts'

export interface RelayLogger {
  info(details: object, message: string): void
  warn(details: object, message: string): void
}

export interface OutboxRelayOptions {
  /** The service's Postgres pool (platform/database.ts `poolOf`). */
  pool: pg.Pool
  /** The schema whose `outbox` this relay publishes: each process publishes its own. */
  schema: string
  /** A fail-fast client (platform/redis.ts): a publish while Redis is down fails at once. */
  redis: Redis
  logger: RelayLogger
  /** Where `domain_events_published_total` goes. Default: nowhere. */
  registry?: Registry
  /** How often the outbox is read without a nudge (events of another process, missed nudges). Default: 1000 ms (`EVENT_RELAY_POLL_MS`) */
  pollIntervalMs?: number
  /** Events per transaction. Default: 200 */
  batchSize?: number
  /** Longest wait between attempts while Redis is down. Default: 5000 ms */
  maxBackoffMs?: number
  /**
   * How long a nudge waits for more commits before the pass, so that concurrent sagas'
   * events go out in one transaction rather than one each. Default: 5 ms
   */
  coalesceMs?: number
  /** Fault injection for tests (`EVENT_RELAY_FAULT`): die after XADD, before the rows are deleted. */
  fault?: 'exit-after-publish'
}

/**
 * Publishes one schema's outbox to the Redis stream `events:domain`, in id order, at least once.
 *
 * One pass is one transaction: a transaction-scoped advisory lock (one publisher per schema at
 * a time, whichever process it runs in), the oldest rows (every row is unpublished: a
 * published one is deleted), XADD of each (one round trip), the rows deleted, commit. A crash
 * or a Redis error between XADD and commit rolls the delete back, so those events are
 * published again by the next pass: consumers dedupe by eventId. Rows of a transaction that
 * commits after a later id was published are still found (the pass reads every row left, not
 * "after the last id"), so nothing is
 * skipped; the order per saga holds because a saga's facts are committed one after another.
 *
 * Woken by `nudge()` right after a commit that wrote events, and every `pollIntervalMs`
 * otherwise. While Redis is down it backs off (doubling up to `maxBackoffMs`), says so once,
 * and catches up when Redis is back.
 */
export class OutboxRelay {
  readonly #options: Required<Omit<OutboxRelayOptions, 'registry' | 'fault'>> & Pick<OutboxRelayOptions, 'fault'>
  readonly #table: ReturnType<typeof sql.identifier>
  readonly #lockKey: string
  readonly #published: Counter | undefined
  #loop: Promise<void> | undefined
  #stopped = false
  #nudged = false
  #wake: (() => void) | undefined
  #down = false

  constructor(options: OutboxRelayOptions) {
    this.#options = { pollIntervalMs: 1_000, batchSize: 200, maxBackoffMs: 5_000, coalesceMs: 5, ...options }
    this.#table = sql.identifier(options.schema, 'outbox')
    this.#lockKey = `outbox-relay:${options.schema}`
    this.#published = options.registry
      ? new Counter({ name: 'domain_events_published_total', help: 'Domain events this process published to events:domain (republished ones counted again)', registers: [options.registry] })
      : undefined
  }

  /** Starts the publishing loop (once). */
  start(): void {
    this.#stopped = false
    this.#loop ??= this.#run()
  }

  /** Something was committed to the outbox: publish now rather than at the next poll. */
  nudge(): void {
    this.#nudged = true
    this.#wake?.()
  }

  /** Stops the loop after the pass in progress (its transaction commits or rolls back first). */
  async stop(): Promise<void> {
    this.#stopped = true
    this.#wake?.()
    await this.#loop
    this.#loop = undefined
  }

  /** Publishes until the outbox is empty (or another process holds the lock); the count published. */
  async drain(): Promise<number> {
    let total = 0
    for (;;) {
      const pass = await this.#publishBatch()
      if (pass === 'busy') return total
      total += pass
      if (pass < this.#options.batchSize) return total
    }
  }

  async #run(): Promise<void> {
    let backoffMs = 0
    while (!this.#stopped) {
      this.#nudged = false
      let pass: number | 'busy'
      try {
        pass = await this.#publishBatch()
        if (this.#down) this.#options.logger.info({ schema: this.#options.schema }, 'domain events: Redis reachable again, catching up')
        this.#down = false
        backoffMs = 0
      } catch (error) {
        if (!this.#down) this.#options.logger.warn({ schema: this.#options.schema, err: String(error) }, 'domain events cannot be published now; they wait in the outbox and go out once Redis is back')
        this.#down = true
        backoffMs = Math.min(this.#options.maxBackoffMs, backoffMs ? backoffMs * 2 : 100)
        await this.#sleep(backoffMs, false)
        continue
      }
      // Another process publishes this outbox right now: look again shortly, as the rows it
      // read may predate ours.
      if (pass === 'busy') await this.#sleep(50, false)
      else if (pass < this.#options.batchSize) {
        await this.#sleep(this.#options.pollIntervalMs, true)
        if (this.#nudged && this.#options.coalesceMs > 0) await this.#sleep(this.#options.coalesceMs, false)
      }
    }
  }

  /** Waits `ms`, or less when stopped (or nudged, if `nudgeable`). */
  #sleep(ms: number, nudgeable: boolean): Promise<void> {
    if (this.#stopped || (nudgeable && this.#nudged)) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      function done() {
        clearTimeout(timer)
        resolve()
      }
      this.#wake = () => {
        if (this.#stopped || nudgeable) {
          this.#wake = undefined
          done()
        }
      }
    })
  }

  /**
   * One transaction: lock, read, XADD, delete, commit. The number published, or 'busy'. A row
   * leaves the outbox in the transaction that published it, so the outbox holds only what is
   * still to go out and never grows with the history (the stream is the history); a crash
   * after the XADD rolls the delete back, and the rows go out again (at least once).
   */
  async #publishBatch(): Promise<number | 'busy'> {
    const client = await this.#options.pool.connect()
    try {
      await client.query('BEGIN')
      const { rows: [lock] } = await client.query<{ locked: boolean }>(sql`SELECT pg_try_advisory_xact_lock(hashtextextended(${this.#lockKey}, 0)) AS locked`.named('outbox-relay-lock'))
      if (!lock?.locked) {
        await client.query('COMMIT')
        return 'busy'
      }
      const { rows } = await client.query<OutboxRow>(sql`
        SELECT o.id::text AS id, o.event_id, o.event_type, o.event_version, o.correlation_id, o.data, o.occurred_at
          FROM ${this.#table} o
         -- o.id, the bigint: a bare "id" would name the text column above (and put 10 before 9).
         ORDER BY o.id LIMIT ${this.#options.batchSize}`.named(`outbox-relay-read-${this.#options.schema}`))
      if (rows.length) {
        const pipeline = this.#options.redis.multi()
        for (const row of rows) pipeline.xadd(DOMAIN_EVENTS_STREAM, '*', 'event', JSON.stringify(eventOf(row)))
        const replies = await pipeline.exec()
        const failed = replies?.find(([error]) => error)
        if (!replies || failed) throw failed?.[0] ?? new Error('XADD was not executed')
        if (this.#options.fault === 'exit-after-publish') process.exit(75)
        await client.query(sql`DELETE FROM ${this.#table} WHERE id = ANY(${rows.map((row) => row.id)}::bigint[])`.query())
      }
      await client.query('COMMIT')
      this.#published?.inc(rows.length)
      return rows.length
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {})
      throw error
    } finally {
      client.release()
    }
  }
}

interface OutboxRow {
  id: string
  event_id: string
  event_type: string
  event_version: number
  correlation_id: string
  data: Record<string, unknown>
  occurred_at: Date
}

/** A row as the contract's event, its fields in the contract's order. */
function eventOf(row: OutboxRow): DomainEvent {
  return {
    eventId: row.event_id,
    eventType: row.event_type,
    eventVersion: row.event_version,
    timestamp: row.occurred_at.toISOString(),
    correlationId: row.correlation_id,
    data: row.data,
  }
}

/**
 * `domain_events_unpublished` and `domain_events_relay_lag_seconds` (the age of the oldest
 * unpublished event) of one schema's outbox, read from Postgres at scrape time: they say the
 * truth whichever process publishes, and also while Redis is disabled.
 */
export function registerOutboxMetrics(registry: Registry, pool: pg.Pool, schema: string): void {
  const table = sql.identifier(schema, 'outbox')
  let reading: Promise<{ count: number; lag: number } | undefined> | undefined
  // Both gauges are set from one query per scrape.
  const read = () => {
    reading ??= pool.query<{ count: number; lag: number }>(sql`
      SELECT count(*)::int AS count, COALESCE(EXTRACT(EPOCH FROM now() - min(occurred_at)), 0)::float8 AS lag
        FROM ${table}`.query())
      .then((result) => result.rows[0], () => undefined)
      .finally(() => setTimeout(() => { reading = undefined }, 0))
    return reading
  }
  new Gauge({
    name: 'domain_events_unpublished',
    help: 'Domain events in this service\'s outbox not yet published to events:domain',
    registers: [registry],
    async collect() {
      const figures = await read()
      if (figures) this.set(figures.count)
    },
  })
  new Gauge({
    name: 'domain_events_relay_lag_seconds',
    help: 'Age of the oldest unpublished domain event in this service\'s outbox (0 when none waits)',
    registers: [registry],
    async collect() {
      const figures = await read()
      if (figures) this.set(Math.max(0, figures.lag))
    },
  })
}

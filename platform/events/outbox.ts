import { type DomainEvent, type EventDraft, newDomainEvent } from './domain-event.ts'

/** Anything that runs a raw statement: a Prisma transaction client, or the client itself. */
export interface RawExecutor {
  $executeRawUnsafe(query: string, ...values: unknown[]): Promise<number>
}

const SCHEMA = /^[a-z_][a-z0-9_]*$/

/** The quoted outbox table of a service's schema, e.g. `"payment"."outbox"`. */
export function outboxTable(schema: string): string {
  if (!SCHEMA.test(schema)) throw new Error(`Not a schema name: "${schema}"`)
  return `"${schema}"."outbox"`
}

/**
 * Writes events to a service's outbox, in the caller's transaction: they are published (by the
 * service's relay, see outbox-relay.ts) if and only if that transaction commits. One statement
 * for any number of events; their ids (bigserial) follow the order given.
 */
export async function insertIntoOutbox(tx: RawExecutor, schema: string, events: readonly DomainEvent[]): Promise<void> {
  if (!events.length) return
  await tx.$executeRawUnsafe(
    `INSERT INTO ${outboxTable(schema)} (event_id, event_type, event_version, correlation_id, data, occurred_at)
     SELECT (e.value->>'eventId')::uuid, e.value->>'eventType', (e.value->>'eventVersion')::int, e.value->>'correlationId',
            e.value->'data', (e.value->>'timestamp')::timestamptz
       FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(value, n)
      ORDER BY e.n`,
    JSON.stringify(events))
}

/** The `emit` a command or event handler is given: states a fact, as `emit('refund.processed', { … })`. */
export type Emit = (type: string, data: Record<string, unknown>, options?: { version?: number }) => void

/**
 * Collects what a handler emits while it runs, to be written to the outbox in its transaction
 * once it returns (so a handler that fails emits nothing). `write` answers how many it wrote.
 */
export function eventsToEmit(): { emit: Emit; write(tx: RawExecutor, schema: string, correlationId: string): Promise<number> } {
  const drafts: EventDraft[] = []
  return {
    emit: (type, data, options) => { drafts.push({ type, data, ...(options?.version ? { version: options.version } : {}) }) },
    async write(tx, schema, correlationId) {
      await insertIntoOutbox(tx, schema, drafts.map((draft) => newDomainEvent(draft, correlationId)))
      return drafts.length
    },
  }
}

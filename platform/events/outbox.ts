import type { DomainEvent } from './domain-event.ts'

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

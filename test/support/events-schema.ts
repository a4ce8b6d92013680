import { randomUUID } from 'node:crypto'
import type { PrismaClient } from '../../platform/database.ts'

/**
 * A schema of the test's own with the event kit's two tables (outbox, processed_events), as
 * every service schema has them: a relay over it publishes this test's rows only, never
 * another suite's (which a relay over a shared schema would take from that suite's relay).
 * Dropped by `drop()`.
 */
export async function createEventsSchema(db: PrismaClient): Promise<{ schema: string; drop(): Promise<void> }> {
  const schema = `events_test_${randomUUID().slice(0, 8)}`
  await db.$executeRawUnsafe(`CREATE SCHEMA "${schema}"`)
  await db.$executeRawUnsafe(`CREATE TABLE "${schema}"."outbox" (
    id bigserial PRIMARY KEY, event_id uuid NOT NULL UNIQUE, event_type text NOT NULL, event_version int NOT NULL,
    correlation_id text NOT NULL, data jsonb NOT NULL, occurred_at timestamptz(3) NOT NULL)`)
  await db.$executeRawUnsafe(`CREATE TABLE "${schema}"."processed_events" (
    consumer text NOT NULL, event_id uuid NOT NULL, processed_at timestamptz(3) NOT NULL DEFAULT now(), PRIMARY KEY (consumer, event_id))`)
  return { schema, drop: async () => { await db.$executeRawUnsafe(`DROP SCHEMA "${schema}" CASCADE`) } }
}

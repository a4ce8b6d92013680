import { randomUUID } from 'node:crypto'

// The shape every service publishes (contract: Domain events), and the streams they travel on.
// The orchestrator's engine has its own copy of the type (engine/ports.ts: the engine imports
// nothing outside itself); the two are the same shape, and the orchestrator's outbox rows are
// published by the same relay as everyone else's.

/** Where every domain event is published (field `event`: its JSON). */
export const DOMAIN_EVENTS_STREAM = 'events:domain'
/** Where a message goes that a consumer failed on `EVENT_MAX_DELIVERIES` times. */
export const DEAD_LETTER_STREAM = 'events:dead'

/** A business fact for the rest of the business. */
export interface DomainEvent {
  eventId: string
  eventType: string
  eventVersion: number
  /** ISO time the fact became true. */
  timestamp: string
  /** The saga (or request) the fact came from: `x-saga-id` when the orchestrator sent it. */
  correlationId: string
  data: Record<string, unknown>
}

/** A fact as a rule states it: the kit adds the id, the time and the correlation. */
export interface EventDraft {
  type: string
  data: Record<string, unknown>
  /** Default: 1 */
  version?: number
}

export function newDomainEvent(draft: EventDraft, correlationId: string, now: Date = new Date()): DomainEvent {
  return {
    eventId: randomUUID(),
    eventType: draft.type,
    eventVersion: draft.version ?? 1,
    timestamp: now.toISOString(),
    correlationId,
    data: draft.data,
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/**
 * The event in a stream entry's `event` field, or undefined when it is not one (not JSON, or
 * without an id, a type or data): such an entry can never be handled, whoever reads it.
 */
export function parseDomainEvent(json: string | undefined): DomainEvent | undefined {
  if (json === undefined) return undefined
  let value: unknown
  try {
    value = JSON.parse(json)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const event = value as Partial<DomainEvent>
  if (typeof event.eventId !== 'string' || !UUID.test(event.eventId)) return undefined
  if (typeof event.eventType !== 'string' || !event.eventType) return undefined
  if (typeof event.data !== 'object' || event.data === null || Array.isArray(event.data)) return undefined
  return {
    eventId: event.eventId,
    eventType: event.eventType,
    eventVersion: typeof event.eventVersion === 'number' ? event.eventVersion : 1,
    timestamp: typeof event.timestamp === 'string' ? event.timestamp : '',
    correlationId: typeof event.correlationId === 'string' ? event.correlationId : '',
    data: event.data as Record<string, unknown>,
  }
}

/** A stream entry's fields ([name, value, name, value, …]) as a map. */
export function fieldsOf(flat: readonly string[]): Map<string, string> {
  const fields = new Map<string, string>()
  for (let i = 0; i + 1 < flat.length; i += 2) fields.set(flat[i]!, flat[i + 1]!)
  return fields
}

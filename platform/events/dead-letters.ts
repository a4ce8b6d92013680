import type { Redis } from '../redis.ts'
import { DEAD_LETTER_STREAM, DOMAIN_EVENTS_STREAM, fieldsOf, parseDomainEvent } from './domain-event.ts'

/** A message a consumer gave up on, as `events:dead` keeps it. */
export interface DeadLetter {
  /** Its entry id in events:dead. */
  id: string
  eventId: string | undefined
  eventType: string | undefined
  /** The consumer (group) that failed on it. */
  consumer: string
  /** The last error its handler threw. */
  error: string
  deliveries: number
  /** Its entry id in events:domain. */
  streamId: string
  deadAt: string
  /** The event's JSON, as it was published. */
  event: string
}

/**
 * Moves a message to events:dead (with the consumer, the last error and the delivery count)
 * and acknowledges it in its group, in one MULTI: it is either still pending or dead, never
 * both lost and unacknowledged.
 */
export async function deadLetter(redis: Redis, entry: { group: string; streamId: string; event: string; error: string; deliveries: number }): Promise<void> {
  const replies = await redis.multi()
    .xadd(DEAD_LETTER_STREAM, '*', 'event', entry.event, 'consumer', entry.group, 'error', entry.error.slice(0, 2_000),
      'deliveries', String(entry.deliveries), 'streamId', entry.streamId, 'deadAt', new Date().toISOString())
    .xack(DOMAIN_EVENTS_STREAM, entry.group, entry.streamId)
    .exec()
  const failed = replies?.find(([error]) => error)
  if (!replies || failed) throw failed?.[0] ?? new Error('dead-lettering was not executed')
}

/** The dead letters, oldest first (at most `limit`). */
export async function listDeadLetters(redis: Redis, limit = 1_000): Promise<DeadLetter[]> {
  const entries = await redis.xrange(DEAD_LETTER_STREAM, '-', '+', 'COUNT', limit)
  return entries.map(([id, flat]) => {
    const fields = fieldsOf(flat)
    const event = fields.get('event') ?? ''
    const parsed = parseDomainEvent(event)
    return {
      id,
      eventId: parsed?.eventId,
      eventType: parsed?.eventType,
      consumer: fields.get('consumer') ?? '',
      error: fields.get('error') ?? '',
      deliveries: Number(fields.get('deliveries') ?? 0),
      streamId: fields.get('streamId') ?? '',
      deadAt: fields.get('deadAt') ?? '',
      event,
    }
  })
}

/**
 * Publishes dead letters again to events:domain, as they were (same eventId: consumers that
 * processed the event already drop it, the one that failed gets it again), and removes them
 * from events:dead. `which`: an eventId, or 'all'. An event dead for several consumers is
 * published once. Answers what was replayed.
 */
export async function replayDeadLetters(redis: Redis, which: string | 'all'): Promise<DeadLetter[]> {
  const letters = (await listDeadLetters(redis, 100_000)).filter((letter) => which === 'all' || letter.eventId === which)
  const published = new Set<string>()
  for (const letter of letters) {
    const key = letter.eventId ?? letter.id
    const multi = redis.multi()
    if (!published.has(key)) multi.xadd(DOMAIN_EVENTS_STREAM, '*', 'event', letter.event)
    multi.xdel(DEAD_LETTER_STREAM, letter.id)
    const replies = await multi.exec()
    const failed = replies?.find(([error]) => error)
    if (!replies || failed) throw failed?.[0] ?? new Error('replay was not executed')
    published.add(key)
  }
  return letters
}

import { InvalidCursorError } from '../engine/engine-errors.ts'

// Search cursors: the (created_at, id) of the last row of a page, opaque to clients.

export function encodeCursor(createdAt: Date, id: string): string {
  return Buffer.from(`${createdAt.toISOString()}|${id}`).toString('base64url')
}

const CURSOR_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/**
 * Reads a cursor made by encodeCursor; throws InvalidCursorError for anything else. Exactly
 * what encodeCursor writes is accepted (it must encode back to the same text), with a year
 * Postgres can store: a hand-made cursor with a dashes-only "uuid" or the year -200000
 * reached the query as a 500.
 */
export function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const [iso, id, ...rest] = Buffer.from(cursor, 'base64url').toString('utf8').split('|')
  const createdAt = new Date(iso ?? '')
  const year = createdAt.getUTCFullYear()
  if (rest.length || !id || !CURSOR_ID.test(id) || Number.isNaN(year) || year < 1 || year > 9999 || encodeCursor(createdAt, id) !== cursor) {
    throw new InvalidCursorError()
  }
  return { createdAt, id }
}

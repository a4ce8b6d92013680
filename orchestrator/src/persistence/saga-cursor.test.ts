import { describe, expect, it } from 'vitest'
import { decodeCursor, encodeCursor } from './saga-cursor.ts'

// Search cursors are opaque to clients: only what encodeCursor wrote is ever read back.

const ID = '3f2b8c1e-9a4d-4e7b-8c2a-1d5e6f7a8b9c'
const text = (raw: string) => Buffer.from(raw).toString('base64url')

describe('search cursors', () => {
  it('reads back what it wrote', () => {
    const createdAt = new Date('2030-04-05T06:07:08.009Z')
    expect(decodeCursor(encodeCursor(createdAt, ID))).toEqual({ createdAt, id: ID })
  })

  it.each([
    ['garbage', 'garbage'],
    ['no id', text('2030-01-01T00:00:00.000Z')],
    ['an id of dashes only', text(`2030-01-01T00:00:00.000Z|${'-'.repeat(36)}`)],
    ['an id that is not hex', text(`2030-01-01T00:00:00.000Z|${'z'.repeat(8)}-${ID.slice(9)}`)],
    ['an extra part', text(`2030-01-01T00:00:00.000Z|${ID}|more`)],
    ['a year Postgres cannot store', text(`-200000-01-01T00:00:00.000Z|${ID}`)],
    ['a year past 9999', text(`+275760-09-13T00:00:00.000Z|${ID}`)],
    ['a date written another way', text(`2030-01-01|${ID}`)],
    ['an invalid date', text(`2030-02-30T00:00:00.000Z|${ID}`)],
  ])('refuses a cursor with %s', (_name, cursor) => {
    expect(() => decodeCursor(cursor)).toThrow('invalid cursor')
  })
})

import { afterAll, describe, expect, it } from 'vitest'
import { createDatabase } from './database.ts'
import { isDatabaseUnavailable } from './database-errors.ts'

// Real errors from a real client, not hand-made look-alikes: what Prisma and pg actually throw
// when the server is missing, and when a statement is simply wrong.
const live = createDatabase({ poolSize: 1 })
// Nothing listens on port 1.
const gone = createDatabase({ url: 'postgresql://postgres@127.0.0.1:1/nowhere', poolSize: 1 })

afterAll(async () => {
  await live.$disconnect()
  await gone.$disconnect()
})

const failure = (work: Promise<unknown>) => work.then(() => { throw new Error('expected a failure') }, (error: unknown) => error)

describe('telling an outage from a bug', () => {
  it('calls a server that refuses connections unavailable, through Prisma and through its pool', async () => {
    expect(isDatabaseUnavailable(await failure(gone.$queryRawUnsafe('SELECT 1')))).toBe(true)
    expect(isDatabaseUnavailable(await failure(gone.$transaction(async (tx) => tx.$queryRawUnsafe('SELECT 1'))))).toBe(true)
  })

  it('calls a session the server terminates unavailable (57P01, as on a restart)', async () => {
    const error = await failure(live.$transaction(async (tx) => {
      await tx.$queryRawUnsafe('SELECT pg_terminate_backend(pg_backend_pid())')
    }))
    expect(isDatabaseUnavailable(error)).toBe(true)
  })

  it('does not call a wrong statement or a constraint violation unavailable', async () => {
    expect(isDatabaseUnavailable(await failure(live.$queryRawUnsafe('SELEC 1')))).toBe(false)
    expect(isDatabaseUnavailable(await failure(live.$queryRawUnsafe('SELECT 1/0')))).toBe(false)
    expect(isDatabaseUnavailable(new Error('boom'))).toBe(false)
    expect(isDatabaseUnavailable(undefined)).toBe(false)
  })

  it('keeps working after the server ended its session: the next statement gets a fresh connection', async () => {
    await failure(live.$queryRawUnsafe('SELECT pg_terminate_backend(pg_backend_pid())'))
    expect(await live.$queryRawUnsafe('SELECT 1 AS ok')).toEqual([{ ok: 1 }])
  })
})

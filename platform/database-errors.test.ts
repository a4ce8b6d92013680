import { randomUUID } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { createDatabase, poolOf } from './database.ts'
import { isDatabaseUnavailable, isTransientConflict } from './database-errors.ts'

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

describe('telling a conflict from a bug', () => {
  it('calls the deadlock victim of two transactions a transient conflict, not an outage, and a wrong statement neither', async () => {
    const pool = poolOf(createDatabase({ poolSize: 2 }))!
    const table = `"public"."deadlock_probe_${randomUUID().replaceAll('-', '')}"`
    await pool.query(`CREATE TABLE ${table} (id int PRIMARY KEY)`)
    await pool.query(`INSERT INTO ${table} VALUES (1), (2)`)
    const [first, second] = [await pool.connect(), await pool.connect()]
    try {
      await first.query('BEGIN')
      await second.query('BEGIN')
      await first.query(`SELECT 1 FROM ${table} WHERE id = 1 FOR UPDATE`)
      await second.query(`SELECT 1 FROM ${table} WHERE id = 2 FOR UPDATE`)
      // Each now waits for the other's row: Postgres rolls one of them back (40P01).
      const outcomes = await Promise.allSettled([
        first.query(`SELECT 1 FROM ${table} WHERE id = 2 FOR UPDATE`),
        second.query(`SELECT 1 FROM ${table} WHERE id = 1 FOR UPDATE`),
      ])
      const victims = outcomes.filter((outcome) => outcome.status === 'rejected').map((outcome) => (outcome as PromiseRejectedResult).reason)
      expect(victims).toHaveLength(1)
      expect(isTransientConflict(victims[0])).toBe(true)
      expect(isDatabaseUnavailable(victims[0])).toBe(false)
      const wrong = await live.$queryRawUnsafe('SELECT * FROM no_such_table').catch((error: unknown) => error)
      expect(isTransientConflict(wrong)).toBe(false)
    } finally {
      await first.query('ROLLBACK').catch(() => {})
      await second.query('ROLLBACK').catch(() => {})
      first.release()
      second.release()
      await pool.query(`DROP TABLE ${table}`)
      await pool.end()
    }
  })
})

describe('a conflict seen through Prisma', () => {
  it('calls the deadlock victim of two Prisma transactions a transient conflict too', async () => {
    const db = createDatabase({ poolSize: 2 })
    const table = `"public"."deadlock_probe_${randomUUID().replaceAll('-', '')}"`
    await db.$executeRawUnsafe(`CREATE TABLE ${table} (id int PRIMARY KEY)`)
    await db.$executeRawUnsafe(`INSERT INTO ${table} VALUES (1), (2)`)
    try {
      // Each locks one row, waits until the other has its own, then asks for the other's.
      let locked = 0
      const bothLocked = async () => { locked++; while (locked < 2) await new Promise((resolve) => setTimeout(resolve, 10)) }
      const crossing = (mine: number, theirs: number) => db.$transaction(async (tx) => {
        await tx.$queryRawUnsafe(`SELECT 1 FROM ${table} WHERE id = ${mine} FOR UPDATE`)
        await bothLocked()
        await tx.$queryRawUnsafe(`SELECT 1 FROM ${table} WHERE id = ${theirs} FOR UPDATE`)
      }, { timeout: 10_000 })
      const outcomes = await Promise.allSettled([crossing(1, 2), crossing(2, 1)])
      const victims = outcomes.filter((outcome) => outcome.status === 'rejected').map((outcome) => (outcome as PromiseRejectedResult).reason)
      expect(victims).toHaveLength(1)
      expect(isTransientConflict(victims[0])).toBe(true)
      expect(isDatabaseUnavailable(victims[0])).toBe(false)
    } finally {
      await db.$executeRawUnsafe(`DROP TABLE ${table}`)
      await db.$disconnect()
    }
  })
})

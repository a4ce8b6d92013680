import { afterAll, describe, expect, it } from 'vitest'
import { createDatabase, poolOf } from './database.ts'

const db = createDatabase({ poolSize: 2 })
const admin = createDatabase({ poolSize: 1 })

afterAll(async () => {
  await db.$disconnect()
  await admin.$disconnect()
})

describe('a connection the server ends', () => {
  it('does not crash the process while it is checked out and idle (as when Postgres restarts)', async () => {
    const uncaught: unknown[] = []
    const record = (error: unknown) => uncaught.push(error)
    process.on('uncaughtException', record)
    try {
      const client = await poolOf(db)!.connect()
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
      // From another session, as the postmaster does to every session on a fast shutdown.
      await admin.$queryRawUnsafe(`SELECT pg_terminate_backend(${rows[0]!.pid})`)
      await new Promise((resolve) => setTimeout(resolve, 300))
      await expect(client.query('SELECT 1')).rejects.toThrow()
      client.release(true)
      expect(uncaught).toEqual([])
      expect(await db.$queryRawUnsafe('SELECT 1 AS ok')).toEqual([{ ok: 1 }])
    } finally {
      process.off('uncaughtException', record)
    }
  })
})

describe('statements sent through Prisma', () => {
  it('are prepared once per connection and then reused, under a name taken from their text', async () => {
    const prepared = await db.$transaction(async (tx) => {
      for (let i = 0; i < 3; i++) await tx.tour.findFirst({ where: { name: 'no such tour' } })
      return tx.$queryRawUnsafe<{ name: string; calls: number }[]>(
        "SELECT name, generic_plans + custom_plans AS calls FROM pg_prepared_statements WHERE statement LIKE '%tour_catalog%tours%' AND statement NOT LIKE '%pg_prepared_statements%'")
    })
    // One statement for the three lookups, executed (bound) three times on this connection.
    expect(prepared).toHaveLength(1)
    expect(prepared[0]!.name).toMatch(/^prisma_[0-9a-f]{20}$/)
    expect(Number(prepared[0]!.calls)).toBe(3)
  })
})

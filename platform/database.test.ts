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

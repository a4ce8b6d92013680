import { PrismaPg } from '@prisma/adapter-pg'
import pg from 'pg'
import { PrismaClient } from '../../generated/prisma/client.ts'

/** SQL statements sent to Postgres, by their first keyword (BEGIN, COMMIT, SELECT, WITH, UPDATE…). */
export interface StatementCounts {
  total: number
  byKind: Record<string, number>
}

/**
 * The orchestrator's Prisma client exactly as platform/database.ts builds it (pg driver adapter,
 * pool of `poolSize`, 5 s connection timeout), except that the pg Pool is ours: every
 * connection it opens has its `query` wrapped, so each statement that goes over the wire
 * (including BEGIN/COMMIT of interactive transactions, which Prisma's query log would not
 * show as such) is counted.
 */
export function createCountingDatabase(url: string, poolSize = Number(process.env.DATABASE_POOL_SIZE) || 10) {
  const counts: StatementCounts = { total: 0, byKind: {} }
  const pool = new pg.Pool({ connectionString: url, max: poolSize, connectionTimeoutMillis: 5_000 })
  pool.on('connect', (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown
    ;(client as { query: unknown }).query = (...args: unknown[]) => {
      const first = args[0]
      const text = typeof first === 'string' ? first : (first as { text?: string } | undefined)?.text ?? ''
      const kind = /^\s*(\w+)/.exec(text)?.[1]?.toUpperCase() ?? 'OTHER'
      counts.total++
      counts.byKind[kind] = (counts.byKind[kind] ?? 0) + 1
      return query(...args)
    }
  })
  const db = new PrismaClient({ adapter: new PrismaPg(pool, { disposeExternalPool: true }) })
  return {
    db,
    /** Returns the counts since the last reset and starts again from zero. */
    take(): StatementCounts {
      const taken = { total: counts.total, byKind: { ...counts.byKind } }
      counts.total = 0
      counts.byKind = {}
      return taken
    },
  }
}

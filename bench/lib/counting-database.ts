import pg from 'pg'
import { databaseOnPool } from '../../platform/database.ts'

/** SQL statements sent to Postgres, by their first keyword (BEGIN, COMMIT, SELECT, WITH, UPDATE…). */
export interface StatementCounts {
  total: number
  byKind: Record<string, number>
  /** Time from sending each statement to its answer, summed (ms): Postgres plus the wire. */
  waitMs: number
}

type Query = (...args: unknown[]) => unknown

/** Counts statements as they go over the wire; `take` returns the counts so far and starts again. */
function statementCounter(onQuery?: (text: string, values: unknown[]) => void) {
  const counts: StatementCounts = { total: 0, byKind: {}, waitMs: 0 }
  return {
    /** Sends one statement through `query` (a pg client's), counting it and timing its answer. */
    send(query: Query, args: unknown[]): unknown {
      const first = args[0]
      const text = typeof first === 'string' ? first : (first as { text?: string } | undefined)?.text ?? ''
      const kind = /^\s*(\w+)/.exec(text)?.[1]?.toUpperCase() ?? 'OTHER'
      counts.total++
      counts.byKind[kind] = (counts.byKind[kind] ?? 0) + 1
      onQuery?.(text, (first as { values?: unknown[] } | undefined)?.values ?? (Array.isArray(args[1]) ? args[1] : []))
      const began = performance.now()
      const answered = () => { counts.waitMs += performance.now() - began }
      // pg.Pool#query calls it with a callback; direct callers get a promise.
      const callback = args.at(-1)
      if (typeof callback === 'function') {
        args[args.length - 1] = (...results: unknown[]) => {
          answered()
          return (callback as Query)(...results)
        }
      }
      const result = query(...args)
      if (result instanceof Promise) void result.then(answered, () => {})
      return result
    },
    take(): StatementCounts {
      const taken = { total: counts.total, byKind: { ...counts.byKind }, waitMs: counts.waitMs }
      counts.total = 0
      counts.byKind = {}
      counts.waitMs = 0
      return taken
    },
  }
}

/**
 * The orchestrator's Prisma client exactly as platform/database.ts builds it (pg driver adapter,
 * pool of `poolSize`, 5 s connection timeout), except that the pg Pool is ours: every
 * connection it opens has its `query` wrapped, so each statement that goes over the wire
 * (including BEGIN/COMMIT of interactive transactions, which Prisma's query log would not
 * show as such) is counted.
 */
export function createCountingDatabase(url: string, poolSize = Number(process.env.DATABASE_POOL_SIZE) || 10, onQuery?: (text: string, values: unknown[]) => void) {
  const counter = statementCounter(onQuery)
  const pool = new pg.Pool({ connectionString: url, max: poolSize, connectionTimeoutMillis: 5_000 })
  pool.on('connect', (client) => {
    const query = client.query.bind(client) as Query
    ;(client as { query: unknown }).query = (...args: unknown[]) => counter.send(query, args)
  })
  // Through platform/database.ts, so the saga store finds this pool for its hot statements
  // exactly as it does in production, and those statements are counted too.
  const db = databaseOnPool(pool)
  return {
    db,
    /** Returns the counts since the last reset and starts again from zero. */
    take: () => counter.take(),
  }
}

/**
 * Counts every statement any pg client of this process sends, from now on, by wrapping
 * `pg.Client.prototype.query`: for a library that builds its own pool (DBOS), so that the
 * pool stays configured as the library configures it.
 */
export function countEveryStatement(): { take(): StatementCounts } {
  const counter = statementCounter()
  const query = pg.Client.prototype.query as Query
  ;(pg.Client.prototype as { query: unknown }).query = function (this: pg.Client, ...args: unknown[]) {
    return counter.send(query.bind(this), args)
  }
  return { take: () => counter.take() }
}

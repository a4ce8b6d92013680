import pg from 'pg'

/**
 * Postgres answers a CREATE DATABASE that lost a race in one of two ways: 42P04
 * (duplicate_database) when the other creation had committed before ours started, 23505
 * (unique_violation on pg_database_datname_index) when both were in flight at once. Either
 * way the database now exists, which is all the caller asked for.
 */
const ALREADY_EXISTS = new Set(['42P04', '23505'])

/** The name a connection URL points at, checked to be safe to quote in CREATE DATABASE. */
export function databaseName(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.slice(1))
  if (!/^[A-Za-z0-9_\-]+$/.test(name)) throw new Error(`Unsupported database name in DATABASE_URL: "${name}"`)
  return name
}

/**
 * Creates the database named in `url` when it does not exist yet. Safe to call from any
 * number of processes at once: exactly one of them reports `true`.
 */
export async function ensureDatabase(url: string): Promise<boolean> {
  const name = databaseName(url)
  const admin = new URL(url)
  admin.pathname = '/postgres'
  const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: 5_000 })
  // A server that goes away mid-call must fail this call, not crash the process.
  client.on('error', () => {})
  await client.connect()
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])
    if (found.rowCount) return false
    try {
      await client.query(`CREATE DATABASE "${name}"`)
    } catch (error) {
      if (!ALREADY_EXISTS.has((error as { code?: string }).code ?? '')) throw error
      return false
    }
    return true
  } finally {
    await client.end().catch(() => {})
  }
}

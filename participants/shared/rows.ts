import type { Prisma } from '../../platform/database.ts'
import type { AppError } from '../../platform/errors.ts'

/** A table whose rows are found by one key (and locked by commands), and how to miss one. */
export interface KeyedTable<Row> {
  /** The quoted table, e.g. '"booking"."bookings"'. */
  table: string
  /** The key column and its Postgres type. Default: `id`, a uuid. */
  key?: { column: string; type: 'uuid' | 'text' }
  /** Reads the row through Prisma (after locking it, in a command), so it comes back as the model type. */
  read(tx: Prisma.TransactionClient, id: string): Promise<Row | null>
  /** The answer when there is no such row, e.g. `new AppError('BOOKING_NOT_FOUND')`. */
  notFound(id: string): AppError
}

/**
 * Locks a row FOR UPDATE until the command commits and reads it: two commands on the same row
 * under different keys (a confirm racing a cancel, two refunds) run one after the other, and
 * the second sees what the first did. Throws the table's not-found error when there is none.
 */
export async function lockRow<Row>(tx: Prisma.TransactionClient, table: KeyedTable<Row>, id: string): Promise<Row> {
  const row = await lockRowIfExists(tx, table, id)
  if (row === undefined) throw table.notFound(id)
  return row
}

/** As lockRow, but undefined when there is no such row. */
export async function lockRowIfExists<Row>(tx: Prisma.TransactionClient, table: KeyedTable<Row>, id: string): Promise<Row | undefined> {
  const { column, type } = table.key ?? { column: 'id', type: 'uuid' }
  // The lock first, in a statement of its own: the read after it is a new statement and so
  // (READ COMMITTED) sees the version a concurrent command that held the lock committed.
  const locked = await tx.$queryRawUnsafe<unknown[]>(`SELECT 1 FROM ${table.table} WHERE "${column}" = $1::${type} FOR UPDATE`, id)
  if (locked.length === 0) return undefined
  return (await table.read(tx, id)) ?? undefined
}

/** Reads a row outside any lock (a GET); throws the table's not-found error when there is none. */
export async function findRow<Row>(db: Prisma.TransactionClient, table: KeyedTable<Row>, id: string): Promise<Row> {
  const row = await table.read(db, id)
  if (!row) throw table.notFound(id)
  return row
}

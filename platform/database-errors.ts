// Telling an outage from a bug: the errors that mean Postgres is not there right now.

// SQLSTATE classes and codes that mean "the server is not there (right now)", not "the
// statement is wrong": 08 connection exception, 57P01-57P03 shutdown / crash / not yet
// accepting connections, 53300 too many connections.
const UNAVAILABLE_SQLSTATE = /^(08|57P0[123]|53300)/
const UNAVAILABLE_PRISMA = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024'])
const UNAVAILABLE_SOCKET = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND'])
const UNAVAILABLE_ADAPTER = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections'])

/**
 * True when `error` says Postgres is unreachable (down, restarting, cut off) rather than that
 * a statement failed: an error handler answers 503 for it, never a 500 that looks like a bug.
 * Looks through Prisma's wrapping (code, meta.driverAdapterError) and pg's (code, cause).
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current && typeof current === 'object' && depth < 5; depth++) {
    const { code, message, meta, cause, name } = current as { code?: unknown; message?: unknown; meta?: { driverAdapterError?: { cause?: { kind?: string; originalCode?: string } } }; cause?: unknown; name?: unknown }
    if (typeof code === 'string' && (UNAVAILABLE_PRISMA.has(code) || UNAVAILABLE_SOCKET.has(code) || UNAVAILABLE_SQLSTATE.test(code))) return true
    const adapter = meta?.driverAdapterError?.cause
    if (adapter?.kind && UNAVAILABLE_ADAPTER.has(adapter.kind)) return true
    if (adapter?.originalCode && UNAVAILABLE_SQLSTATE.test(adapter.originalCode)) return true
    if (name === 'PrismaClientInitializationError') return true
    if (typeof message === 'string' && /Connection terminated|terminating connection|Client has encountered a connection error|timeout exceeded when trying to connect/i.test(message)) return true
    current = cause ?? (adapter as unknown)
  }
  return false
}

/**
 * True when Postgres rolled a transaction back to resolve a conflict with another one (40P01
 * deadlock detected, 40001 could not serialize): nothing it did was kept, and the same
 * transaction run again can go through.
 */
export function isTransientConflict(error: unknown): boolean {
  for (let current = error, depth = 0; current && typeof current === 'object' && depth < 5; depth++) {
    const { code, cause } = current as { code?: unknown; cause?: unknown }
    if (code === '40P01' || code === '40001') return true
    current = cause
  }
  return false
}

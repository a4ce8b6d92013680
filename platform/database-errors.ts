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
  for (const { code, message, name, kind, originalCode } of layersOf(error)) {
    if (typeof code === 'string' && (UNAVAILABLE_PRISMA.has(code) || UNAVAILABLE_SOCKET.has(code) || UNAVAILABLE_SQLSTATE.test(code))) return true
    if (typeof kind === 'string' && UNAVAILABLE_ADAPTER.has(kind)) return true
    if (typeof originalCode === 'string' && UNAVAILABLE_SQLSTATE.test(originalCode)) return true
    if (name === 'PrismaClientInitializationError') return true
    if (typeof message === 'string' && /Connection terminated|terminating connection|Client has encountered a connection error|timeout exceeded when trying to connect/i.test(message)) return true
  }
  return false
}

/**
 * True when Postgres rolled a transaction back to resolve a conflict with another one (40P01
 * deadlock detected, 40001 could not serialize): nothing it did was kept, and the same
 * transaction run again can go through.
 */
export function isTransientConflict(error: unknown): boolean {
  for (const { code, originalCode } of layersOf(error)) {
    if (code === '40P01' || code === '40001' || originalCode === '40P01' || originalCode === '40001') return true
  }
  return false
}

/** The fields of an error and of what it wraps, outermost first. */
interface ErrorLayer {
  code?: unknown
  message?: unknown
  name?: unknown
  /** A driver adapter error's kind and the SQLSTATE under it (Prisma's meta.driverAdapterError.cause). */
  kind?: unknown
  originalCode?: unknown
  cause?: unknown
  meta?: { driverAdapterError?: { cause?: unknown } }
}

/** An error and what it wraps, down pg's `cause` and Prisma's meta.driverAdapterError.cause, at most 5 deep. */
function* layersOf(error: unknown): Generator<ErrorLayer> {
  for (let current = error, depth = 0; current && typeof current === 'object' && depth < 5; depth++) {
    const layer = current as ErrorLayer
    yield layer
    const adapter = layer.meta?.driverAdapterError?.cause
    // Both wrapped: the adapter's error is looked at here, and the walk goes on down `cause`.
    if (adapter && typeof adapter === 'object' && layer.cause) yield adapter as ErrorLayer
    current = layer.cause ?? adapter
  }
}

/** A write was refused: another runner took the saga over (or advanced it). Stop driving it. */
export class LeaseLostError extends Error {
  constructor(readonly sagaId: string) {
    super(`Lost ownership of saga ${sagaId}: another runner owns it now`)
    this.name = 'LeaseLostError'
  }
}

/**
 * The store could not take the call now (Postgres down, restarting, cut off, or a write rolled
 * back to resolve a deadlock with another), as opposed to a statement it refused: the call may
 * be tried again. The store's adapter tells the two apart.
 */
export class StoreUnavailableError extends Error {
  constructor(cause: unknown) {
    super(`Saga store unavailable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause })
    this.name = 'StoreUnavailableError'
  }
}

/**
 * The saga started on a definition version this process does not have (a deploy changed the
 * saga type's steps): running it would run the wrong steps, so it is left alone.
 */
export class UnknownDefinitionError extends Error {
  constructor(readonly sagaId: string, readonly sagaType: string, readonly definitionVersion: string) {
    super(`Saga ${sagaId} started on ${sagaType} version ${definitionVersion}, which this process does not have`)
    this.name = 'UnknownDefinitionError'
  }
}

/** A search cursor the store did not write (a client made one up, or it was damaged). */
export class InvalidCursorError extends Error {
  constructor() {
    super('invalid cursor')
    this.name = 'InvalidCursorError'
  }
}

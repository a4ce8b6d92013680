/** A write was refused: another runner took the saga over (or advanced it). Stop driving it. */
export class LeaseLostError extends Error {
  constructor(readonly sagaId: string) {
    super(`Lost ownership of saga ${sagaId}: another runner owns it now`)
    this.name = 'LeaseLostError'
  }
}

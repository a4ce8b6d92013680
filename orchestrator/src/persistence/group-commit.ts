/**
 * Group commit: writes that arrive while earlier ones are being committed wait and go together
 * in the next batch, one statement and one transaction (one WAL flush) for all of them. A write
 * that arrives when nothing is in flight goes at once, alone: no added latency when idle, and
 * under load as many waiters per commit as arrived during the previous one. Each waiter is
 * released when its own batch has committed, with its own result.
 *
 * Two writes with the same key (the same saga) never share a batch: the second waits for the
 * next one, so each batch updates a row at most once.
 */
export interface GroupCommitOptions {
  /** Batches in flight at once (each on its own connection). Default: 2 */
  maxConcurrent?: number
  /** Writes in one batch at most. Default: 64 */
  maxBatch?: number
}

/** What a batch answers for each of its writes, in order: a result or that write's own error. */
export type Outcomes<R> = (R | Error)[]

interface Waiting<T, R> {
  item: T
  key: string
  resolve: (result: R) => void
  reject: (error: unknown) => void
}

export class GroupCommit<T, R> {
  readonly #queue: Waiting<T, R>[] = []
  readonly #maxConcurrent: number
  readonly #maxBatch: number
  #inFlight = 0

  constructor(private readonly flush: (items: T[]) => Promise<Outcomes<R>>, private readonly keyOf: (item: T) => string, options: GroupCommitOptions = {}) {
    this.#maxConcurrent = options.maxConcurrent ?? 2
    this.#maxBatch = options.maxBatch ?? 64
  }

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#queue.push({ item, key: this.keyOf(item), resolve, reject })
      this.#pump()
    })
  }

  #pump(): void {
    while (this.#inFlight < this.#maxConcurrent && this.#queue.length) {
      const batch: Waiting<T, R>[] = []
      const keys = new Set<string>()
      for (let i = 0; i < this.#queue.length && batch.length < this.#maxBatch;) {
        const waiting = this.#queue[i]!
        if (keys.has(waiting.key)) { i++; continue }
        keys.add(waiting.key)
        batch.push(waiting)
        this.#queue.splice(i, 1)
      }
      this.#inFlight++
      this.flush(batch.map((w) => w.item))
        .then((outcomes) => batch.forEach((w, i) => {
          const outcome = outcomes[i]
          if (outcome instanceof Error) w.reject(outcome)
          else w.resolve(outcome as R)
        }), (error: unknown) => { for (const w of batch) w.reject(error) })
        .finally(() => {
          this.#inFlight--
          this.#pump()
        })
    }
  }
}

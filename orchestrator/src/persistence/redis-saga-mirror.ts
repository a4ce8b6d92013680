import type { Redis } from '../../../platform/redis.ts'
import type { SagaMirror, Transition } from '../engine/ports.ts'
import { isTerminal, type SagaInstance } from '../engine/saga-instance.ts'
import { GroupCommit } from './group-commit.ts'
import type { FinishedSaga } from './postgres-saga-store.ts'

export const SAGA_KEY = (sagaId: string) => `saga:${sagaId}`
export const SAGA_EVENTS_STREAM = 'saga:events'
export const SAGA_CHANNEL = (sagaId: string) => `saga-updates:${sagaId}`

/** Sagas written in one MULTI at most: live batches, the catch-up after an outage, repairs. */
const BATCH = 200

export interface RedisMirrorOptions {
  /** What `saga:{id}` holds and the channel carries: the saga as readers see it. */
  view: (saga: SagaInstance) => unknown
  /** How long saga:{id} is kept after its last transition. Default: 7 days (contract: at least 24 h) */
  ttlSeconds?: number
  /** Approximate length the saga:events stream is trimmed to. Default: 1,000,000 */
  streamMaxLength?: number
  /** Finished sagas' writes kept for when Redis is back; past it the oldest go (Postgres has them). Default: 10,000 */
  maxUnwritten?: number
  /** How soon a failed catch-up is tried again while Redis stays connected. Default: 1000 ms */
  retryMs?: number
  onError?: (error: unknown) => void
}

/** One transition's writes: the view under saga:{id}, and its saga:events entry. */
interface Write {
  sagaId: string
  view: string
  entry: string[]
  /** COMPLETED or FAILED: kept for later when it cannot be written now. */
  final: boolean
}

/**
 * Mirrors every transition to Redis: the saga's view under saga:{id}, one entry on the
 * saga:events stream, and a publish on the saga's channel for live pages. The writes of
 * transitions that arrive while one is on its way go together in the next MULTI (the group
 * commit of group-commit.ts, one batch at a time): one round trip for many sagas under load,
 * none added when idle, and a saga's writes in the order it made them.
 * While Redis is down it writes nothing (ioredis fails at once with no offline queue), except
 * that a saga's final transition (COMPLETED, FAILED) is kept and written once Redis is ready
 * again (or, after a failed write, shortly after): the mirror of every saga that finished here
 * catches up after an outage, and after a start whose connection was not ready yet. Only
 * final views wait: they never change again, so writing one late cannot hide a newer view
 * that this or another orchestrator wrote meanwhile, as a late view of a moving saga could.
 */
export class RedisSagaMirror implements SagaMirror {
  readonly #ttl: number
  readonly #maxLength: number
  readonly #maxUnwritten: number
  readonly #retryMs: number
  /** Final writes not made yet, by saga id, oldest first. */
  readonly #unwritten = new Map<string, Write>()
  readonly #live: GroupCommit<Write, undefined>
  #retry: NodeJS.Timeout | undefined
  #catchingUp = false

  constructor(private readonly redis: Redis, private readonly options: RedisMirrorOptions) {
    this.#ttl = options.ttlSeconds ?? 7 * 86_400
    this.#maxLength = options.streamMaxLength ?? 1_000_000
    this.#maxUnwritten = options.maxUnwritten ?? 10_000
    this.#retryMs = options.retryMs ?? 1_000
    this.#live = new GroupCommit((writes) => this.#sendLive(writes), (write) => write.sagaId, { maxConcurrent: 1, maxBatch: BATCH })
    redis.on('ready', () => void this.#catchUp())
  }

  /** Final writes waiting for Redis (a gauge of how far the mirror is behind). */
  get unwritten(): number {
    return this.#unwritten.size
  }

  async publish({ saga, event, stepName }: Transition): Promise<void> {
    const write = this.#writeOf(saga, event.type, stepName)
    if (this.redis.status !== 'ready') {
      if (write.final) this.#keep(write)
      return
    }
    await this.#live.submit(write)
  }

  /**
   * Writes the views of finished sagas that Redis does not show finished: those an
   * orchestrator killed between a saga's final commit and its mirror write left stale, since
   * nothing writes a finished saga's view again. Each entry is read first, so a view already
   * written is not written twice (nor its stream entry added again). Answers how many it wrote.
   */
  async repair(finished: readonly FinishedSaga[]): Promise<number> {
    let written = 0
    for (let start = 0; start < finished.length && this.redis.status === 'ready'; start += BATCH) {
      const batch = finished.slice(start, start + BATCH)
      const pipeline = this.redis.pipeline()
      for (const { saga } of batch) pipeline.get(SAGA_KEY(saga.id))
      const views = (await pipeline.exec()) ?? []
      const stale = batch.filter((_, index) => !showsFinished(views[index]?.[1]))
      if (!stale.length) continue
      await this.#send(stale.map(({ saga, eventType, stepName }) => this.#writeOf(saga, eventType, stepName)), true)
      written += stale.length
    }
    return written
  }

  #writeOf(saga: SagaInstance, eventType: string, stepName: string | undefined): Write {
    return {
      sagaId: saga.id,
      view: JSON.stringify(this.options.view(saga)),
      entry: ['sagaId', saga.id, 'type', saga.type, 'status', saga.status, 'state', saga.state,
        'event', eventType, 'version', String(saga.version), 'step', stepName ?? '', 'at', saga.updatedAt.toISOString()],
      final: isTerminal(saga.status),
    }
  }

  /** One batch of live writes; a failed one keeps its final views for later, and fails no caller. */
  async #sendLive(writes: Write[]): Promise<undefined[]> {
    try {
      await this.#send(writes, true)
    } catch (error) {
      const finals = writes.filter((write) => write.final)
      for (const write of finals) this.#keep(write)
      if (finals.length) this.#retryLater()
      this.options.onError?.(error)
    }
    return writes.map(() => undefined)
  }

  #send(writes: Write[], live: boolean): Promise<unknown> {
    const multi = this.redis.multi()
    for (const { sagaId, view, entry } of writes) {
      multi.set(SAGA_KEY(sagaId), view, 'EX', this.#ttl).xadd(SAGA_EVENTS_STREAM, 'MAXLEN', '~', String(this.#maxLength), '*', ...entry)
      if (live) multi.publish(SAGA_CHANNEL(sagaId), view)
    }
    return multi.exec()
  }

  #keep(write: Write): void {
    this.#unwritten.delete(write.sagaId)
    this.#unwritten.set(write.sagaId, write)
    if (this.#unwritten.size > this.#maxUnwritten) this.#unwritten.delete(this.#unwritten.keys().next().value!)
  }

  #retryLater(): void {
    this.#retry ??= setTimeout(() => {
      this.#retry = undefined
      void this.#catchUp()
    }, this.#retryMs).unref()
  }

  /** Writes what waits, in batches, oldest first; what fails stays for the next try. */
  async #catchUp(): Promise<void> {
    if (this.#catchingUp) return
    this.#catchingUp = true
    try {
      while (this.#unwritten.size && this.redis.status === 'ready') {
        const batch: Write[] = []
        for (const write of this.#unwritten.values()) if (batch.push(write) === BATCH) break
        await this.#send(batch, false)
        // A newer write of the same saga cannot exist (final views only), so all of them are done.
        for (const write of batch) if (this.#unwritten.get(write.sagaId) === write) this.#unwritten.delete(write.sagaId)
      }
    } catch (error) {
      this.options.onError?.(error)
      this.#retryLater()
    } finally {
      this.#catchingUp = false
    }
  }
}

/** Whether a saga:{id} value is the view of a finished saga. */
function showsFinished(value: unknown): boolean {
  if (typeof value !== 'string') return false
  try {
    const { status } = JSON.parse(value) as { status?: unknown }
    return typeof status === 'string' && isTerminal(status as SagaInstance['status'])
  } catch {
    return false
  }
}

/** Views of finished sagas from the mirror (undefined while Redis is down or has none). */
export class RedisSagaViewCache<View> {
  constructor(private readonly redis: Redis) {}

  async get(sagaId: string): Promise<View | undefined> {
    if (this.redis.status !== 'ready') return undefined
    const cached = await this.redis.get(SAGA_KEY(sagaId)).catch(() => null)
    return cached ? (JSON.parse(cached) as View) : undefined
  }
}

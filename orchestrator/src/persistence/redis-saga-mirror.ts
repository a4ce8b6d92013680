import type { Redis } from '../../../platform/redis.ts'
import type { SagaMirror, Transition } from '../engine/ports.ts'
import type { SagaInstance } from '../engine/saga-instance.ts'

export const SAGA_KEY = (sagaId: string) => `saga:${sagaId}`
export const SAGA_EVENTS_STREAM = 'saga:events'
export const SAGA_CHANNEL = (sagaId: string) => `saga-updates:${sagaId}`

export interface RedisMirrorOptions {
  /** What `saga:{id}` holds and the channel carries: the saga as readers see it. */
  view: (saga: SagaInstance) => unknown
  /** How long saga:{id} is kept after its last transition. Default: 7 days (contract: at least 24 h) */
  ttlSeconds?: number
  /** Approximate length the saga:events stream is trimmed to. Default: 1,000,000 */
  streamMaxLength?: number
  onError?: (error: unknown) => void
}

/**
 * Mirrors every transition to Redis: the saga's view under saga:{id}, one entry on the
 * saga:events stream, and a publish on the saga's channel for live pages. One round trip.
 * While Redis is down it does nothing (ioredis fails at once with no offline queue).
 */
export class RedisSagaMirror implements SagaMirror {
  readonly #ttl: number
  readonly #maxLength: number

  constructor(private readonly redis: Redis, private readonly options: RedisMirrorOptions) {
    this.#ttl = options.ttlSeconds ?? 7 * 86_400
    this.#maxLength = options.streamMaxLength ?? 1_000_000
  }

  async publish({ saga, event, stepName }: Transition): Promise<void> {
    if (this.redis.status !== 'ready') return
    const view = JSON.stringify(this.options.view(saga))
    const entry = ['sagaId', saga.id, 'type', saga.type, 'status', saga.status, 'state', saga.state,
      'event', event.type, 'version', String(saga.version), 'step', stepName ?? '', 'at', saga.updatedAt.toISOString()]
    try {
      await this.redis.multi()
        .set(SAGA_KEY(saga.id), view, 'EX', this.#ttl)
        .xadd(SAGA_EVENTS_STREAM, 'MAXLEN', '~', String(this.#maxLength), '*', ...entry)
        .publish(SAGA_CHANNEL(saga.id), view)
        .exec()
    } catch (error) {
      this.options.onError?.(error)
    }
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

import type { Redis } from '../../../platform/redis.ts'
import { SAGA_CHANNEL } from './redis-saga-mirror.ts'

type Listener = (view: string) => void

/**
 * Live saga updates from the mirror's pub/sub channels, for server-sent events. One
 * subscriber connection per process, one Redis subscription per saga watched, shared by
 * every page watching it.
 */
export class RedisSagaUpdates {
  readonly #listeners = new Map<string, Set<Listener>>()
  #subscriber: Redis | undefined

  constructor(private readonly redis: Redis | undefined) {}

  /** True when updates will arrive; false while Redis is down (callers poll Postgres then). */
  get live(): boolean {
    return this.#subscriber?.status === 'ready' || (this.#subscriber === undefined && this.redis?.status === 'ready')
  }

  subscribe(sagaId: string, listener: Listener): () => void {
    const subscriber = this.#connect()
    const channel = SAGA_CHANNEL(sagaId)
    let listeners = this.#listeners.get(channel)
    if (!listeners) {
      listeners = new Set()
      this.#listeners.set(channel, listeners)
      subscriber?.subscribe(channel).catch(() => {})
    }
    listeners.add(listener)
    return () => {
      listeners!.delete(listener)
      if (listeners!.size === 0) {
        this.#listeners.delete(channel)
        subscriber?.unsubscribe(channel).catch(() => {})
      }
    }
  }

  close(): void {
    this.#subscriber?.disconnect()
    this.#listeners.clear()
  }

  #connect(): Redis | undefined {
    if (!this.redis) return undefined
    if (!this.#subscriber) {
      // A subscribed connection can do nothing else, hence its own; it resubscribes on reconnect.
      this.#subscriber = this.redis.duplicate({ enableOfflineQueue: true })
      this.#subscriber.on('error', () => {})
      this.#subscriber.on('message', (channel: string, message: string) => {
        for (const listener of this.#listeners.get(channel) ?? []) listener(message)
      })
    }
    return this.#subscriber
  }
}

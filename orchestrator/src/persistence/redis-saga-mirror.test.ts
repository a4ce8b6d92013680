import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRedis, type Redis } from '../../../platform/redis.ts'
import { startRedisServer, type RedisServer } from '../../../test/support/redis-server.ts'
import type { Transition } from '../engine/ports.ts'
import type { SagaInstance, SagaStatus } from '../engine/saga-instance.ts'
import { RedisSagaMirror, SAGA_EVENTS_STREAM, SAGA_KEY } from './redis-saga-mirror.ts'

// The mirror against a Redis of the test's own, stopped and started for real.

let server: RedisServer
let redis: Redis
beforeAll(async () => {
  server = await startRedisServer()
  redis = createRedis({ url: server.url })
  if (redis.status !== 'ready') await once(redis, 'ready')
})
afterAll(async () => {
  redis?.disconnect()
  await server?.close()
})

function transition(sagaId: string, status: SagaStatus, version: number): Transition {
  const saga = { id: sagaId, type: 'mirror-test', status, state: status, version, updatedAt: new Date() } as SagaInstance
  return { saga, event: { type: 'STEP_SUCCEEDED' } } as unknown as Transition
}

describe('the Redis saga mirror', () => {
  it('writes the view of a saga that finished while Redis was down once it is back, and no older view of a saga still moving', async () => {
    const mirror = new RedisSagaMirror(redis, { view: (saga) => ({ sagaId: saga.id, status: saga.status, version: saga.version }), retryMs: 50 })
    const moving = randomUUID()
    const finished = randomUUID()
    await mirror.publish(transition(moving, 'RUNNING', 1))
    await server.stop()
    await expect.poll(() => redis.status, { timeout: 10_000 }).not.toBe('ready')
    await mirror.publish(transition(moving, 'RUNNING', 2))
    await mirror.publish(transition(finished, 'RUNNING', 1))
    await mirror.publish(transition(finished, 'COMPLETED', 2))
    expect(mirror.unwritten).toBe(1)

    await server.start()
    await expect.poll(() => redis.get(SAGA_KEY(finished)).catch(() => null), { timeout: 15_000, interval: 50 })
      .toBe(JSON.stringify({ sagaId: finished, status: 'COMPLETED', version: 2 }))
    expect(mirror.unwritten).toBe(0)
    // The server came back empty, and the moving saga's views were not kept: its next
    // transition writes it again.
    expect(await redis.get(SAGA_KEY(moving))).toBeNull()
    const entries = await redis.xrange(SAGA_EVENTS_STREAM, '-', '+')
    expect(entries.filter(([, fields]) => fields[1] === finished).map(([, fields]) => fields[5])).toEqual(['COMPLETED'])
  })

  it('sends the transitions that arrive together in one MULTI, each saga\'s in the order it made them', async () => {
    const counted = createRedis({ url: server.url })
    if (counted.status !== 'ready') await once(counted, 'ready')
    let multis = 0
    const multi = counted.multi.bind(counted)
    counted.multi = ((...args: Parameters<typeof multi>) => { multis++; return multi(...args) }) as typeof counted.multi
    try {
      const mirror = new RedisSagaMirror(counted, { view: (saga) => ({ sagaId: saga.id, status: saga.status, version: saga.version }) })
      const sagas = Array.from({ length: 10 }, () => randomUUID())
      // Five transitions of each of ten sagas, none waiting for the one before (as the runner does).
      await Promise.all(sagas.flatMap((sagaId) => [1, 2, 3, 4, 5].map((version) =>
        mirror.publish(transition(sagaId, version === 5 ? 'COMPLETED' : 'RUNNING', version)))))

      expect(multis).toBeGreaterThan(1)
      expect(multis).toBeLessThanOrEqual(10)
      const entries = await redis.xrange(SAGA_EVENTS_STREAM, '-', '+')
      for (const sagaId of sagas) {
        expect(await redis.get(SAGA_KEY(sagaId))).toBe(JSON.stringify({ sagaId, status: 'COMPLETED', version: 5 }))
        expect(entries.filter(([, fields]) => fields[1] === sagaId).map(([, fields]) => fields[11])).toEqual(['1', '2', '3', '4', '5'])
      }
    } finally {
      counted.disconnect()
    }
  })
})

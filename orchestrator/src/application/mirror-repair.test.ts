import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { configWith } from '../../../platform/config.ts'
import { createDatabase, poolOf } from '../../../platform/database.ts'
import { createLogger } from '../../../platform/logger.ts'
import { createRedis } from '../../../platform/redis.ts'
import type { CommandTransport } from '../engine/ports.ts'
import { defineSaga } from '../engine/saga-definition.ts'
import { SagaRegistry } from '../engine/saga-registry.ts'
import { PostgresSagaStore } from '../persistence/postgres-saga-store.ts'
import { SAGA_EVENTS_STREAM, SAGA_KEY } from '../persistence/redis-saga-mirror.ts'
import { createOrchestrator } from './create-orchestrator.ts'

// An orchestrator killed -9 after a saga's final commit and before its mirror write leaves
// saga:{id} showing a step of the saga still moving. Here the first orchestrator finishes two
// sagas normally; the test then puts one saga's Redis entries back as they were before its
// final transition (the view one step earlier, no final stream entry), which is exactly what
// such a kill leaves, and starts another orchestrator on the same Postgres and Redis.

const db = createDatabase({ poolSize: 5 })
const redis = createRedis()
beforeAll(async () => {
  if (redis.status !== 'ready') await once(redis, 'ready')
})
afterAll(async () => {
  redis.disconnect()
  await db.$disconnect()
})

const saga = defineSaga<{ userId: string }>({
  type: `mirror-repair-${randomUUID().slice(0, 8)}`,
  deadlineMs: 60_000,
  steps: [
    { name: 'first', kind: 'pivot', state: 'FIRST_DONE', invoke: () => ({ participant: 'stub', method: 'POST', path: '/first', body: {} }) },
    { name: 'second', kind: 'retriable', state: 'SECOND_DONE', invoke: () => ({ participant: 'stub', method: 'POST', path: '/second', body: {} }) },
  ],
  result: () => ({}),
})

const answering: CommandTransport = {
  send: async () => ({ kind: 'answer', status: 200, body: {} }),
  fence: async () => ({ kind: 'answer', status: 200, body: { applied: true, status: 200, body: {} } }),
}

function graph() {
  return createOrchestrator(configWith({}), {
    db,
    redis,
    registry: new SagaRegistry().register(saga),
    transport: answering,
    logger: createLogger({ service: 'test', level: 'silent', format: 'json' }),
    recoveryIntervalMs: 0,
  })
}

const viewIn = async (sagaId: string) => JSON.parse((await redis.get(SAGA_KEY(sagaId)))!) as { status: string; state: string }
const streamEntriesOf = async (sagaId: string) =>
  (await redis.xrevrange(SAGA_EVENTS_STREAM, '+', '-', 'COUNT', 5_000)).filter(([, fields]) => fields[1] === sagaId).map(([, fields]) => fields[5])

describe('the mirror after an orchestrator stopped between a final commit and its mirror write', () => {
  it('is written by the next orchestrator to start, for the saga left stale only', async () => {
    const first = graph()
    const run = async () => {
      const { saga: started } = await first.orchestrator.start({ type: saga.type, input: { userId: 'u' }, callerId: 'test' })
      expect((await first.orchestrator.waitForOutcome(started.id, 10_000))!.status).toBe('COMPLETED')
      return started.id
    }
    const stale = await run()
    const intact = await run()
    await first.close()
    await expect.poll(() => viewIn(stale).then((view) => view.status)).toBe('COMPLETED')

    // What the kill leaves: the view of the transition before the final one, and no final entry.
    await redis.set(SAGA_KEY(stale), JSON.stringify({ ...(await viewIn(stale)), status: 'RUNNING', state: 'FIRST_DONE' }), 'EX', 600)
    const [finalEntry] = (await redis.xrevrange(SAGA_EVENTS_STREAM, '+', '-', 'COUNT', 5_000)).filter(([, fields]) => fields[1] === stale)
    await redis.xdel(SAGA_EVENTS_STREAM, finalEntry![0])
    const intactEntries = await streamEntriesOf(intact)

    const next = graph()
    next.orchestrator.startBackgroundWork()
    try {
      await expect.poll(() => viewIn(stale), { timeout: 10_000, interval: 100 }).toMatchObject({ status: 'COMPLETED', state: 'COMPLETED' })
      expect((await streamEntriesOf(stale))[0]).toBe('COMPLETED')
      // The saga whose mirror was written is not written again: no second stream entry.
      expect(await streamEntriesOf(intact)).toEqual(intactEntries)
      expect(await next.metrics.registry.getSingleMetricAsString('saga_mirror_repaired_total')).toMatch(/ [1-9]\d*$/m)
    } finally {
      await next.close()
    }
  })

  it('looks at the finished sagas around where the stopped one was in the event log, not at the whole log', async () => {
    const orchestrator = graph()
    try {
      const ids: string[] = []
      for (let i = 0; i < 3; i++) {
        const { saga: started } = await orchestrator.orchestrator.start({ type: saga.type, input: { userId: 'u' }, callerId: 'test' })
        await orchestrator.orchestrator.waitForOutcome(started.id, 10_000)
        ids.push(started.id)
      }
      const store = new PostgresSagaStore(poolOf(db)!)
      // Each saga writes three log entries, so the third one's final entry is at least six after the first's.
      const nearFirst = await store.finishedNear({ sagaIds: [ids[0]!], span: 2 })
      expect(nearFirst.map((finished) => finished.saga.id)).toContain(ids[0])
      expect(nearFirst.map((finished) => finished.saga.id)).not.toContain(ids[2])
      expect(nearFirst.find((finished) => finished.saga.id === ids[0])).toMatchObject({ saga: { status: 'COMPLETED' }, eventType: 'STEP_SUCCEEDED', stepName: 'second' })
      expect((await store.finishedNear()).map((finished) => finished.saga.id)).toContain(ids[2])
    } finally {
      await orchestrator.close()
    }
  })
})

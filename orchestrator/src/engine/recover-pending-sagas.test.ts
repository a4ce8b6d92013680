import { describe, expect, it } from 'vitest'
import { recoverPendingSagas, type RecoveryProgress, type RecoveryStore } from './recover-pending-sagas.ts'
import type { SagaInstance } from './saga-instance.ts'

// The recovery routine's own bookkeeping, with a store and a runner that are plain functions.

const orphan = { id: 'saga-1', type: 'probe', definitionVersion: 'v1', status: 'RUNNING' as const, ownerId: 'gone' }
const store: RecoveryStore = {
  listOrphanedSagas: async () => [orphan],
  countOrphansOutside: async () => 0,
  claimSaga: async (id) => ({ saga: { id, status: 'RUNNING' } as SagaInstance, owner: { ownerId: 'me', epoch: 2 } }),
}

describe('recovery with a timeout', () => {
  it('says it timed out when the timer fires, even on a clock that has not reached the deadline yet', async () => {
    const events: RecoveryProgress[] = []
    // A clock that never moves: a timer firing a millisecond early looks like this to it.
    const summary = await recoverPendingSagas(
      { store, definitions: [{ type: 'probe', version: 'v1' }], ownerId: 'me', now: () => 1_000, drive: () => new Promise<SagaInstance>(() => {}) },
      { timeoutMs: 30, onProgress: (event) => events.push(event) },
    )
    expect(summary).toMatchObject({ found: 1, recovered: 1, stillRunning: 1 })
    expect(events.at(-1)).toEqual({ type: 'timeout', stillRunning: 1, sagaIds: ['saga-1'] })
  })
})

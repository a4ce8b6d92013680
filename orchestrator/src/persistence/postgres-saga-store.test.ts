import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { poolOf } from '../../../platform/database.ts'
import { participantHarness } from '../../../test/support/participant-harness.ts'
import { StoreUnavailableError } from '../engine/engine-errors.ts'
import { PostgresSagaStore } from './postgres-saga-store.ts'
import { CONTRACT_LEASE_MS, describeSagaStoreContract } from './saga-store.contract.ts'

const harness = participantHarness()
afterAll(() => harness.close())

describeSagaStoreContract('Postgres', () => new PostgresSagaStore(poolOf(harness.db)!, { leaseTtlMs: CONTRACT_LEASE_MS }))

describe('the Postgres store\'s outbox', () => {
  it('writes a transition\'s domain events in the same statement, and none when the write is refused', async () => {
    const store = new PostgresSagaStore(poolOf(harness.db)!, { leaseTtlMs: CONTRACT_LEASE_MS })
    const owner = { ownerId: 'outbox-test', epoch: 1 }
    const { saga } = await store.createSaga({ id: randomUUID(), type: 'outbox-test', definitionVersion: 'v1', state: 'STARTED', input: {}, deadlineAt: new Date(Date.now() + 60_000), references: {} }, owner)
    const event = (type: string) => ({ eventId: randomUUID(), eventType: type, eventVersion: 1, timestamp: new Date().toISOString(), correlationId: saga.id, data: { bookingId: 'b-1', n: 1 } })
    const done = { ...saga, status: 'COMPLETED' as const, version: 1, completedAt: new Date(), updatedAt: new Date() }
    const events = [event('booking.confirmed'), event('booking.noted')]
    // A refused write (stale version) leaves no event behind.
    await expect(store.recordTransition({ saga: done, event: { type: 'STEP_SUCCEEDED', step: 0, phase: 'forward', attempts: 1, startedAt: new Date() }, expectedVersion: 7, events }, owner)).rejects.toThrow()
    const rows = () => harness.db.$queryRawUnsafe<{ event_id: string; event_type: string; correlation_id: string; data: unknown }[]>(
      'SELECT event_id::text, event_type, correlation_id, data FROM orchestrator.outbox WHERE correlation_id = $1 ORDER BY id', saga.id)
    expect(await rows()).toEqual([])
    await store.recordTransition({ saga: done, event: { type: 'STEP_SUCCEEDED', step: 0, phase: 'forward', attempts: 1, startedAt: new Date() }, expectedVersion: 0, events }, owner)
    expect(await rows()).toEqual(events.map((e) => ({ event_id: e.eventId, event_type: e.eventType, correlation_id: saga.id, data: e.data })))
  })
})

describe('the Postgres store\'s errors', () => {
  it('says StoreUnavailableError when Postgres cannot be reached, and passes a refused statement on as it is', async () => {
    // Nothing listens on the discard port: every connection is refused.
    const down = new pg.Pool({ connectionString: 'postgresql://postgres@127.0.0.1:9/none', connectionTimeoutMillis: 2_000 })
    try {
      await expect(new PostgresSagaStore(down, { leaseTtlMs: CONTRACT_LEASE_MS }).pendingRequests(randomUUID())).rejects.toBeInstanceOf(StoreUnavailableError)
    } finally {
      await down.end()
    }
    const up = new PostgresSagaStore(poolOf(harness.db)!, { leaseTtlMs: CONTRACT_LEASE_MS })
    const refused = await up.pendingRequests('not-a-uuid').catch((error: unknown) => error)
    expect(refused).toBeInstanceOf(Error)
    expect(refused).not.toBeInstanceOf(StoreUnavailableError)
  })
})

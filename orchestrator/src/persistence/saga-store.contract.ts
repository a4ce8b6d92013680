import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { InvalidCursorError, LeaseLostError } from '../engine/engine-errors.ts'
import type { LeaseOwner, NewSaga, SagaQueries, SagaRepository, Transition } from '../engine/ports.ts'
import type { SagaInstance } from '../engine/saga-instance.ts'

// The saga store's contract, run against PostgresSagaStore and InMemorySagaStore alike, so the
// fake the engine's tests use cannot drift from the real store: versions, lease owner and
// epoch, claims, requests, keys, and the support reads.

export type ContractStore = SagaRepository & SagaQueries

/** Lease length the stores under test are built with. */
export const CONTRACT_LEASE_MS = 150

export function describeSagaStoreContract(name: string, makeStore: () => ContractStore): void {
  describe(`saga store contract: ${name}`, () => {
    const store = makeStore()
    // Each test run has its own saga type, so lists and counts see only this run's sagas.
    const type = `contract-${randomUUID().slice(0, 8)}`
    const owner: LeaseOwner = { ownerId: 'runner-a', epoch: 1 }

    const draft = (overrides: Partial<NewSaga> = {}): NewSaga => ({
      id: randomUUID(), type, definitionVersion: 'v1', state: 'STARTED', input: { userId: 'u-1', n: 1 },
      deadlineAt: new Date(Date.now() + 60_000), references: { userId: `user-${type}` }, startedBy: 'client:abc', ...overrides,
    })
    const create = async (overrides: Partial<NewSaga> = {}, by: LeaseOwner = owner) => {
      const result = await store.createSaga(draft(overrides), by)
      if (!result.created) throw new Error('not created')
      return result.saga
    }
    const transition = (saga: SagaInstance, change: Partial<SagaInstance> = {}, event: Transition['event'] = { type: 'STEP_RETRYING', step: 0, phase: 'forward', error: { code: 'X', message: 'x' }, attempts: 1, startedAt: new Date() }): Transition => ({
      saga: { ...saga, ...change, version: saga.version + 1, updatedAt: new Date() },
      event,
      expectedVersion: saga.version,
      stepName: 'reserve',
    })
    const write = async (saga: SagaInstance, change: Partial<SagaInstance> = {}, event?: Transition['event'], by: LeaseOwner = owner) => {
      await store.recordTransition(transition(saga, change, event), by)
      return (await store.findSaga(saga.id))!
    }

    it('creates a saga owned by its creator and reads it back', async () => {
      const saga = await create()
      expect(saga).toMatchObject({ type, definitionVersion: 'v1', status: 'RUNNING', version: 0, cursor: 0, startedBy: 'client:abc', leaseEpoch: 1 })
      expect(await store.findSaga(saga.id)).toMatchObject({ id: saga.id, type, definitionVersion: 'v1', status: 'RUNNING', version: 0, input: { userId: 'u-1', n: 1 }, startedBy: 'client:abc' })
      expect((await store.listEvents(saga.id)).map((e) => e.type)).toEqual(['SAGA_STARTED'])
      expect(await store.findSaga(randomUUID())).toBeUndefined()
    })

    it('returns the first saga for a start key or business key used again', async () => {
      const startKey = `client:${randomUUID()}`
      const first = await create({ startKey, requestFingerprint: 'fp-1' })
      const again = await store.createSaga(draft({ startKey, requestFingerprint: 'fp-2' }), owner)
      expect(again).toMatchObject({ created: false, matchedBy: 'startKey', requestFingerprint: 'fp-1', saga: { id: first.id } })
      const businessKey = `business:${randomUUID()}`
      const held = await create({ businessKey })
      expect(await store.createSaga(draft({ businessKey }), owner)).toMatchObject({ created: false, matchedBy: 'businessKey', saga: { id: held.id } })
    })

    it('frees the business key of a FAILED saga, so the customer may try again', async () => {
      const businessKey = `business:${randomUUID()}`
      const failed = await create({ businessKey })
      await write(failed, { status: 'FAILED', completedAt: new Date() })
      expect(await store.createSaga(draft({ businessKey }), owner)).toMatchObject({ created: true })
    })

    it('writes a transition only at the expected version, for the owner at its epoch (fencing)', async () => {
      const saga = await create()
      const moved = await write(saga, { cursor: 1, state: 'RESERVED' })
      expect(moved).toMatchObject({ version: 1, cursor: 1, state: 'RESERVED' })
      await expect(store.recordTransition(transition(saga), owner)).rejects.toThrow(LeaseLostError) // stale version
      await expect(store.recordTransition(transition(moved), { ownerId: 'runner-a', epoch: 2 })).rejects.toThrow(LeaseLostError)
      await expect(store.recordTransition(transition(moved), { ownerId: 'runner-b', epoch: 1 })).rejects.toThrow(LeaseLostError)
      expect((await store.findSaga(saga.id))!.version).toBe(1)
      expect((await store.listEvents(saga.id)).map((e) => [e.version, e.type, e.step])).toEqual([[0, 'SAGA_STARTED', null], [1, 'STEP_RETRYING', 'reserve']])
    })

    it('hands a saga to whoever claims it once its lease expired, and fences the old owner out', async () => {
      const saga = await create()
      expect(await store.claimSaga(saga.id, 'runner-b')).toBeUndefined() // still leased
      expect((await store.listOrphanedSagas({ definitions: [{ type, version: 'v1' }] })).map((o) => o.id)).not.toContain(saga.id)
      await sleep(CONTRACT_LEASE_MS + 50)
      expect((await store.listOrphanedSagas({ definitions: [{ type, version: 'v1' }] })).map((o) => o.id)).toContain(saga.id)
      const claimed = await store.claimSaga(saga.id, 'runner-b')
      expect(claimed).toMatchObject({ owner: { ownerId: 'runner-b', epoch: 2 }, saga: { id: saga.id, leaseEpoch: 2 } })
      await expect(store.recordTransition(transition(saga), owner)).rejects.toThrow(LeaseLostError)
      await store.recordTransition(transition(claimed!.saga), claimed!.owner)
      expect(await store.claimSaga(saga.id, 'runner-c')).toBeUndefined()
      expect(await store.claimSaga(saga.id, 'runner-c', { force: true })).toMatchObject({ owner: { ownerId: 'runner-c', epoch: 3 } })
    })

    it('keeps the leases it renews, and lets them all go on release', async () => {
      const saga = await create()
      await sleep(CONTRACT_LEASE_MS / 2)
      expect(await store.renewLeases('runner-a', [saga.id])).toBe(1)
      expect(await store.renewLeases('runner-b', [saga.id])).toBe(0)
      await sleep(CONTRACT_LEASE_MS / 2 + 20)
      expect(await store.claimSaga(saga.id, 'runner-b')).toBeUndefined()
      expect(await store.releaseLeases('runner-a')).toBeGreaterThanOrEqual(1)
      await sleep(5)
      expect(await store.claimSaga(saga.id, 'runner-b')).toMatchObject({ owner: { ownerId: 'runner-b' } })
    })

    it('holds no lease on a saga waiting for an operator: no orphan, claimable only as a waiting saga', async () => {
      const saga = await create()
      const incident = { step: 'confirm', phase: 'forward' as const, kind: 'rejected' as const, code: 'VALIDATION_FAILED', message: 'no', attempts: 1, since: new Date().toISOString() }
      const parked = await write(saga, { status: 'PARKED', incident })
      expect(parked).toMatchObject({ status: 'PARKED', incident })
      await sleep(CONTRACT_LEASE_MS + 50)
      expect((await store.listOrphanedSagas({})).map((o) => o.id)).not.toContain(saga.id)
      expect(await store.claimSaga(saga.id, 'runner-b')).toBeUndefined()
      const claimed = await store.claimSaga(saga.id, 'runner-b', { statuses: ['PARKED', 'COMPENSATION_FAILED'] })
      expect(claimed).toMatchObject({ owner: { ownerId: 'runner-b', epoch: 2 } })
      // Found by search on its incident.
      expect((await store.listSagas({ type, incidentCode: 'VALIDATION_FAILED', limit: 10 })).items.map((i) => i.id)).toEqual([saga.id])
      expect((await store.listSagas({ type, step: 'confirm', limit: 10 })).items[0]).toMatchObject({ id: saga.id, incident })
      expect((await store.countIncidents()).VALIDATION_FAILED).toBeGreaterThanOrEqual(1)
    })

    it('records an abort request, answers it with every write, and clears it only when it is honoured', async () => {
      const saga = await create()
      expect(await store.request(saga.id, 'abort', ['RUNNING'], { type: 'OPERATOR_ABORT', actor: 'operator:ann', reason: 'customer called' })).toBe(true)
      expect(await store.pendingRequests(saga.id)).toEqual({ abortRequested: true })
      const answered = await store.recordTransition(transition(saga), owner)
      expect(answered).toEqual({ abortRequested: true })
      const current = (await store.findSaga(saga.id))!
      expect(await store.recordTransition(transition(current, { status: 'COMPENSATING' }, { type: 'ABORT_REQUESTED', fenceCursor: false }), owner)).toEqual({ abortRequested: false })
      const log = await store.listEvents(saga.id)
      expect(log.find((e) => e.type === 'OPERATOR_ABORT')?.detail).toEqual({ actor: 'operator:ann', reason: 'customer called' })
    })

    it('refuses an abort once the pivot passed, and requests on sagas in other statuses', async () => {
      const saga = await create()
      await write(saga, { pivotPassed: true, cursor: 3 })
      expect(await store.request(saga.id, 'abort', ['RUNNING'], { type: 'OPERATOR_ABORT', actor: 'op' })).toBe(false)
      const done = await create()
      await write(done, { status: 'COMPLETED', completedAt: new Date() })
      expect(await store.request(done.id, 'pause', ['RUNNING', 'COMPENSATING'], { type: 'OPERATOR_PAUSE', actor: 'op' })).toBe(false)
    })

    it('records a pause request with its actor and reason until the PAUSED transition', async () => {
      const saga = await create()
      expect(await store.request(saga.id, 'pause', ['RUNNING', 'COMPENSATING'], { type: 'OPERATOR_PAUSE', actor: 'operator:ann', reason: 'payment is broken' })).toBe(true)
      expect(await store.pendingRequests(saga.id)).toEqual({ abortRequested: false, pauseRequest: { actor: 'operator:ann', reason: 'payment is broken' } })
      expect((await store.findSaga(saga.id))!.pauseRequest).toEqual({ actor: 'operator:ann', reason: 'payment is broken' })
      const current = (await store.findSaga(saga.id))!
      const answer = await store.recordTransition(transition(current, { status: 'PARKED' }, { type: 'PAUSED', actor: 'operator:ann', reason: 'payment is broken' }), owner)
      expect(answer).toEqual({ abortRequested: false })
      expect((await store.findSaga(saga.id))!.pauseRequest).toBeUndefined()
    })

    it('lists orphans only of the definitions given, and counts the others', async () => {
      const known = await create({ definitionVersion: 'v1' })
      const unknown = await create({ definitionVersion: 'v0-from-an-old-deploy' })
      await sleep(CONTRACT_LEASE_MS + 50)
      const ids = (await store.listOrphanedSagas({ definitions: [{ type, version: 'v1' }] })).map((o) => o.id)
      expect(ids).toContain(known.id)
      expect(ids).not.toContain(unknown.id)
      // Only versions of the types it runs: another deployment's types are not its business.
      expect(await store.countOrphansOutside([{ type, version: 'v1' }])).toBe(1)
      expect(await store.countOrphansOutside([{ type: `other-${randomUUID()}`, version: 'v1' }])).toBe(0)
      const all = await store.listOrphanedSagas({ definitions: [{ type, version: 'v1' }, { type, version: 'v0-from-an-old-deploy' }] })
      expect(all.find((o) => o.id === unknown.id)).toMatchObject({ type, definitionVersion: 'v0-from-an-old-deploy', status: 'RUNNING' })
    })

    it('searches newest first with cursors, by every filter, and refuses a cursor it did not make', async () => {
      const userId = `user-${randomUUID()}`
      const created: string[] = []
      for (let i = 0; i < 5; i++) {
        created.push((await create({ references: { userId }, startedBy: i % 2 ? 'client:odd' : 'client:even' })).id)
        await sleep(3)
      }
      const first = await store.listSagas({ userId, limit: 2 })
      expect(first.items.map((i) => i.id)).toEqual([created[4], created[3]])
      const second = await store.listSagas({ userId, limit: 2, cursor: first.nextCursor! })
      expect(second.items.map((i) => i.id)).toEqual([created[2], created[1]])
      const last = await store.listSagas({ userId, limit: 2, cursor: second.nextCursor! })
      expect(last).toEqual({ items: [expect.objectContaining({ id: created[0], userId, status: 'RUNNING', type })], nextCursor: null })
      expect((await store.listSagas({ userId, startedBy: 'client:odd', limit: 10 })).items.map((i) => i.id)).toEqual([created[3], created[1]])
      expect((await store.listSagas({ userId, status: 'COMPLETED', limit: 10 })).items).toEqual([])
      await expect(store.listSagas({ userId, limit: 2, cursor: 'made-up' })).rejects.toThrow(InvalidCursorError)
    })

    it('counts sagas per status, every status present', async () => {
      const counts = await store.countByStatus()
      expect(Object.keys(counts).sort()).toEqual(['COMPENSATING', 'COMPENSATION_FAILED', 'COMPLETED', 'FAILED', 'PARKED', 'RUNNING'])
      expect(counts.RUNNING).toBeGreaterThan(0)
    })

    it('appends operator actions to the event log with their actor', async () => {
      const saga = await create()
      await store.appendAudit(saga.id, { type: 'OPERATOR_RETRY', actor: 'cli:ann', reason: 'loyalty is back' })
      expect((await store.listEvents(saga.id)).at(-1)).toMatchObject({ type: 'OPERATOR_RETRY', version: 0, status: 'RUNNING', detail: { actor: 'cli:ann', reason: 'loyalty is back' } })
    })
  })
}

import { afterAll } from 'vitest'
import { poolOf } from '../../../platform/database.ts'
import { participantHarness } from '../../../test/support/participant-harness.ts'
import { PostgresSagaStore } from './postgres-saga-store.ts'
import { CONTRACT_LEASE_MS, describeSagaStoreContract } from './saga-store.contract.ts'

const harness = participantHarness()
afterAll(() => harness.close())

describeSagaStoreContract('Postgres', () => new PostgresSagaStore(poolOf(harness.db)!, { leaseTtlMs: CONTRACT_LEASE_MS }))
